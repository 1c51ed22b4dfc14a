"""Small validation helpers shared by the core kinds (upstream ``pkg/apis/core/validation`` utility functions).

Messages are upstream's words. Values that Go prints with ``%#v`` (slices, maps, structs) are rendered through
:class:`GoRepr` so that a message reads as the Go API server's does, e.g. ``[]string{"10.0.0.1"}``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pybernetes.api.field import FieldError, Path, duplicate, forbidden, invalid, not_supported, required
from pybernetes.api.validation import names

IS_NEGATIVE = "must be greater than or equal to 0"
IS_NOT_POSITIVE = "must be greater than zero"
IS_NOT_INTEGER = "must be an integer"
FIELD_IMMUTABLE = "field is immutable"
SUPPORTED_PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_INT32 = 2**31 - 1


class GoRepr:
    """A value already rendered the way Go's ``%#v``/``String()`` prints it; field errors show it unquoted."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"GoRepr({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoRepr) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _go_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def go_strings(items: Iterable[str] | None, type_name: str = "[]string") -> GoRepr:
    """``[]string{"a", "b"}`` — how Go prints a string slice in a field error."""
    return GoRepr(type_name + "{" + ", ".join(_go_str(str(s)) for s in items or ()) + "}")


def go_string_map(m: Mapping[str, str] | None) -> GoRepr:
    """``map[string]string{"a":"b"}`` (keys sorted, as Go's fmt prints maps)."""
    return GoRepr("map[string]string{" + ", ".join(f"{_go_str(k)}:{_go_str(str(v))}"
                                                   for k, v in sorted((m or {}).items())) + "}")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def messages_to_errors(msgs: list[str], path: Path, value: Any) -> list[FieldError]:
    return [invalid(path, value, m) for m in msgs]


def check_name(fn: Callable[[str], list[str]], value: str, path: Path) -> list[FieldError]:
    """Run a ``names`` string check and turn its messages into ``Invalid`` errors at ``path``."""
    return [invalid(path, value, m) for m in fn(value)]


def dns_label(value: str, path: Path) -> list[FieldError]:
    return [invalid(path, value, m) for m in names.dns1123_label(value)]


def dns_subdomain(value: str, path: Path) -> list[FieldError]:
    return [invalid(path, value, m) for m in names.dns1123_subdomain(value)]


def qualified_name(value: str, path: Path) -> list[FieldError]:
    return [invalid(path, value, m) for m in names.qualified_name(value)]


def label_name(value: str, path: Path) -> list[FieldError]:
    """Upstream ``ValidateLabelName``: a qualified name."""
    return [invalid(path, value, m) for m in names.qualified_name(value)]


def nonnegative(value: Any, path: Path) -> list[FieldError]:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, IS_NEGATIVE)]
    return []


def port_num(value: Any, path: Path) -> list[FieldError]:
    if not isinstance(value, int) or isinstance(value, bool):
        return [invalid(path, value, "must be between 1 and 65535, inclusive")]
    return [invalid(path, value, m) for m in names.port_num(value)]


def port_num_or_name(value: Any, path: Path) -> list[FieldError]:
    """Upstream ``ValidatePortNumOrName`` for an IntOrString port."""
    if isinstance(value, bool):
        return [invalid(path, value, "must be between 1 and 65535, inclusive")]
    if isinstance(value, int):
        return [invalid(path, value, m) for m in names.port_num(value)]
    if isinstance(value, str):
        return [invalid(path, value, m) for m in names.port_name(value)]
    return [invalid(path, value, "must contain at least one letter or number (a-z, 0-9)")]


def protocol(value: Any, path: Path) -> list[FieldError]:
    if not value:
        return [required(path)]
    if value not in SUPPORTED_PROTOCOLS:
        return [not_supported(path, value, SUPPORTED_PROTOCOLS)]
    return []


def one_of(value: Any, path: Path, valid: tuple[str, ...], *, allow_empty: bool = False) -> list[FieldError]:
    """Required when empty (unless ``allow_empty``), else NotSupported unless one of ``valid``."""
    if value is None or value == "":
        return [] if allow_empty else [required(path)]
    if value not in valid:
        return [not_supported(path, value, valid)]
    return []


def immutable(new: Any, old: Any, path: Path) -> list[FieldError]:
    """Upstream ``ValidateImmutableField``."""
    if new != old:
        return [invalid(path, new if not isinstance(new, (dict, list)) else GoRepr(_compact(new)), FIELD_IMMUTABLE)]
    return []


def _compact(v: Any) -> str:
    import orjson
    return orjson.dumps(v).decode()


def unique_names(items: list[dict], path: Path, key: str = "name") -> list[FieldError]:
    seen: set[str] = set()
    errs = []
    for i, it in enumerate(items):
        n = it.get(key)
        if n in seen:
            errs.append(duplicate(path.index(i).child(key), n))
        elif n is not None:
            seen.add(n)
    return errs


def b64_decoded_len(value: str) -> int:
    """Length in bytes of a base64 value without decoding it (JSON carries ``[]byte`` as base64)."""
    n = len(value)
    if n == 0:
        return 0
    pad = 2 if value.endswith("==") else 1 if value.endswith("=") else 0
    return n * 3 // 4 - pad


def b64_decode(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def forbid_unless(cond: bool, path: Path, detail: str) -> list[FieldError]:
    return [] if cond else [forbidden(path, detail)]


def get_list(d: Mapping[str, Any] | None, key: str) -> list:
    """``d[key]`` as a list, treating absent and JSON null as empty."""
    if not d:
        return []
    v = d.get(key)
    return v if isinstance(v, list) else []


def get_map(d: Mapping[str, Any] | None, key: str) -> dict:
    if not d:
        return {}
    v = d.get(key)
    return v if isinstance(v, dict) else {}


def nonneg_fields(obj: Mapping[str, Any] | None, path: Path, keys: Iterable[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    if not obj:
        return errs
    for k in keys:
        v = obj.get(k)
        if v is not None:
            errs.extend(nonnegative(v, path.child(k)))
    return errs


def _label_selector_errors(sel: Mapping[str, Any] | None, path: Path) -> list[FieldError]:
    """Upstream ``ValidateLabelSelector`` (used when ``pybernetes.api.selectors`` is not available)."""
    if not sel:
        return []
    errs = list(names.validate_labels(sel.get("matchLabels"), path.child("matchLabels")))
    for i, expr in enumerate(sel.get("matchExpressions") or ()):
        ip = path.child("matchExpressions").index(i)
        op, values = expr.get("operator", ""), expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(ip.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(ip.child("values"),
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(ip.child("operator"), op, "not a valid selector operator"))
        errs.extend(label_name(expr.get("key", ""), ip.child("key")))
        for j, v in enumerate(values):
            errs.extend(invalid(ip.child("values").index(j), v, m) for m in names.label_value(v))
    return errs


try:
    from pybernetes.api.selectors import validate_label_selector
except ImportError:  # pragma: no cover - the shared module is written in parallel
    validate_label_selector = _label_selector_errors
