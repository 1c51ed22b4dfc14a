"""The PATCH formats of the API server: JSON patch, JSON merge patch and strategic merge patch.

Each format is one pure function over decoded JSON, ``apply(doc, patch) -> new doc``, that never mutates its
inputs and returns a document sharing no mutable container with them (the caller may mutate it freely, e.g. in
``prepare_for_update``). The semantics, quirks included, are those of the Kubernetes 1.33 API server:
``jsonpatch`` follows gopkg.in/evanphx/json-patch.v4 (v4.12.0), ``mergepatch`` its ``MergePatch``, ``strategic``
kubernetes/apimachinery ``pkg/util/strategicpatch``, all as called from kubernetes/apiserver
``pkg/endpoints/handlers/patch.go``. A handler does: :func:`check_content_type` (415), :func:`decode` (400),
with ``fieldValidation=Strict|Warn`` the module's ``strict_errors`` (400, or messages for a 422/warnings), then
:func:`apply`.

Every failure is a :class:`PatchError` carrying the HTTP code, the ``metav1.Status`` reason and the message that
handler would send; :meth:`PatchError.to_api_error` turns it into the project's :class:`APIError`.

This module also holds the small pieces the three share: the media types a PATCH may carry, the 415 for any
other, body decoding, a deep copy, and Go-style value formatting (upstream messages embed Go ``%v`` renderings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

import orjson

from pybernetes.api.errors import APIError

if TYPE_CHECKING:
    from pybernetes.api.typeinfo import TypeInfo

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# The Content-Types a PATCH may carry, in upstream's order (it is visible in the 415 message). Custom resources
# have no Go struct tags to drive a strategic merge, so upstream does not offer it for them at all.
BUILTIN_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)

# What NewGenericServerResponse(422, ...) says; it drops the server-side detail on the floor.
GENERIC_INVALID = "the server rejected our request due to an error in our request"


class PatchError(ValueError):
    """A PATCH that cannot be applied, with the status upstream would answer.

    ``message`` is the Status message exactly as upstream sends it; ``detail`` is the underlying library error
    (the same text, except for JSON patch and a few strategic errors where upstream hides it behind
    :data:`GENERIC_INVALID`) — worth logging. ``reason`` is empty where upstream returns a plain Go error, which
    its handler renders as a 500 Status without a reason.
    """

    def __init__(self, message: str, *, code: int, reason: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.detail = message if detail is None else detail

    def to_api_error(self) -> APIError:
        return APIError(self.message, code=self.code, reason=self.reason)


def bad_request(message: str) -> PatchError:
    return PatchError(message, code=400, reason="BadRequest")


def invalid(detail: str) -> PatchError:
    """422 the way upstream reports a failed JSON patch or a list-of-lists: the detail is not sent."""
    return PatchError(GENERIC_INVALID, code=422, reason="Invalid", detail=detail)


def internal(message: str) -> PatchError:
    """A plain Go error reaching upstream's handler: 500, no reason, the error text as message."""
    return PatchError(message, code=500, reason="")


def server_panic() -> PatchError:
    """Where upstream's Go code would panic, its server answers a bare 500; this is the closest Status."""
    return internal("This request caused apiserver to panic. Look in the logs for details.")


def unsupported_media_type(accepted: tuple[str, ...]) -> PatchError:
    return PatchError("the body of the request was in an unknown format - accepted media types include: "
                      + ", ".join(accepted), code=415, reason="UnsupportedMediaType")


def patch_types(*, custom: bool) -> tuple[str, ...]:
    return CUSTOM_PATCH_TYPES if custom else BUILTIN_PATCH_TYPES


def check_content_type(content_type: str, *, custom: bool) -> str:
    """The patch type named by a request's Content-Type (parameters such as charset dropped), or the 415.

    Upstream checks this before reading the body; a strategic merge patch to a custom resource fails here.
    """
    media = content_type.split(";", 1)[0].strip()
    accepted = patch_types(custom=custom)
    if media not in accepted:
        raise unsupported_media_type(accepted)
    return media


def decode(body: bytes, *, patch_type: str, strict: bool = False) -> Any:
    """Decode the body of a JSON, merge or strategic merge PATCH, failing with the 400 Kubernetes 1.33 sends.

    A merge patch that is not JSON is "Invalid JSON Patch"; for the other two the message is Go's syntax error,
    which is reproduced for the common cases only (the clients this server serves never send broken JSON).
    ``strict`` (``fieldValidation=Strict|Warn``) adds the prefix of the strict pre-decoding of JSON and merge
    patches. (From 1.36 on upstream says "invalid JSON patch" for all three.)
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        message = "Invalid JSON Patch" if patch_type == MERGE_PATCH else _go_syntax_error(body, err)
        if strict and patch_type in (JSON_PATCH, MERGE_PATCH):
            message = "error decoding patch: " + _go_syntax_error(body, err)
        raise bad_request(message) from None


def _go_syntax_error(body: bytes, err: orjson.JSONDecodeError) -> str:
    text = body.decode("utf-8", "replace")
    if err.pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    char = text[err.pos]
    quoted = "'\\''" if char == "'" else f"'{char}'"
    if "string key" in err.msg:
        return f"invalid character {quoted} looking for beginning of object key string"
    if "after document" in err.msg:
        return f"invalid character {quoted} after top-level value"
    return f"invalid character {quoted} looking for beginning of value"


def apply(patch_type: str, doc: dict[str, Any], patch: Any, *, ti: TypeInfo | None = None) -> Any:
    """Apply a decoded body of a non-apply PATCH type; ``ti`` is needed for strategic merge patch."""
    from pybernetes.api.patch import jsonpatch, mergepatch, strategic

    if patch_type == JSON_PATCH:
        return jsonpatch.apply(doc, patch)
    if patch_type == MERGE_PATCH:
        return mergepatch.apply(doc, patch)
    if patch_type == STRATEGIC_MERGE_PATCH:
        if ti is None:
            raise internal("strategic merge patch needs the object's type")
        return strategic.apply(doc, patch, ti)
    raise internal(f"{patch_type}: unimplemented patch type")


T = TypeVar("T")


def clone(value: T) -> T:
    """Deep copy of decoded JSON; a C round trip is several times faster than ``copy.deepcopy``."""
    if isinstance(value, (dict, list)):
        return cast(T, orjson.loads(orjson.dumps(value)))
    return value


# --- Go renderings, for messages that embed values the way fmt does ---------------------------------------

def json_kind(value: Any) -> str:
    """The JSON kind Go's decoder names in "cannot unmarshal X into ..." errors."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


_GO_TYPES = {dict: "map[string]interface {}", list: "[]interface {}", str: "string", bool: "bool",
             int: "int64", float: "float64"}


def go_type(value: Any) -> str:
    """``reflect.TypeOf(value)`` under ``%s`` for a value decoded into ``interface{}``."""
    return _GO_TYPES.get(type(value), "%!s(<nil>)")


def go_v(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for decoded JSON (maps print with sorted keys, as fmt does)."""
    return _go_fmt(value, "v")


def go_s(value: Any) -> str:
    """``fmt.Sprintf("%s", value)``: like %v for strings, ``%!s(T=v)`` for other scalars."""
    return _go_fmt(value, "s")


def _go_fmt(value: Any, verb: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(value[k], verb)}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_fmt(v, verb) for v in value) + "]"
    if value is None:
        return "<nil>" if verb == "v" else "%!s(<nil>)"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    else:
        text = go_float(value)
    return text if verb == "v" else f"%!s({go_type(value)}={text})"


def go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) as ``%v`` uses it: shortest digits, exponent form from 1e+06."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if str(f).startswith("-") else ""
    if f == 0:
        return sign + "0"
    mant, _, exp = repr(abs(f)).partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    x = point - 1
    if x < -4 or x >= 6:
        tail = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_quote(s: str) -> str:
    """strconv.Quote for the strings that appear in messages (printable text kept, controls escaped)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
