"""Query parameters of API requests, parsed once into small records (upstream ``metav1.*Options``).

As upstream: a parameter that cannot be decoded (``limit=abc``) is a 400 BadRequest carrying Go's parse error;
options that decode but are not allowed (``dryRun=Maybe``, ``resourceVersionMatch`` without
``resourceVersion``, ``propagationPolicy=Sideways``) are one 422 Invalid naming the options kind
(``CreateOptions.meta.k8s.io "" is invalid: ...``) and every offending field. All of it happens here, before
any handler work.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from pybernetes.api.errors import BadRequest, Invalid
from pybernetes.api.field import FieldError, forbidden, invalid, not_supported, required, too_long

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
META = "meta.k8s.io"
FIELD_MANAGER_MAX = 128
_DIGITS = re.compile(r"[+-]?[0-9]+")


def _bool(q: Mapping[str, str], name: str) -> bool:
    """A query bool as upstream decodes it (``Convert_Slice_string_To_bool``): absent is false; "0" and "false"
    (any case) are false; anything else — "", "f", "yes" — is true. Never an error."""
    v = q.get(name)
    if v is None:
        return False
    return not (v == "0" or v.lower() == "false")


def _go_parse_int(v: str, *, func: str = "ParseInt", unsigned: bool = False) -> int:
    """``strconv.ParseInt``/``ParseUint`` base 10, with Go's error text (no spaces, no ``_``, 64-bit range)."""
    if not _DIGITS.fullmatch(v) or (unsigned and v[0] in "+-"):
        raise ValueError(f'strconv.{func}: parsing {_go_quote(v)}: invalid syntax')
    n = int(v)
    lo, hi = (0, 2 ** 64 - 1) if unsigned else (-(2 ** 63), 2 ** 63 - 1)
    if not lo <= n <= hi:
        raise ValueError(f'strconv.{func}: parsing {_go_quote(v)}: value out of range')
    return n


def _go_quote(v: str) -> str:
    return orjson.dumps(v).decode()


def _int(q: Mapping[str, str], name: str) -> int | None:
    """An int64 query parameter; present but not a number is 400 with Go's ``strconv`` message."""
    v = q.get(name)
    if v is None:
        return None
    try:
        return _go_parse_int(v)
    except ValueError as e:
        raise BadRequest(str(e)) from None


@dataclass(frozen=True, slots=True)
class _GoStrings:
    """A []string bad value, printed as Go's ``%#v`` prints it in field errors: ``[]string{"a", "b"}``."""
    values: tuple[str, ...]

    def __str__(self) -> str:
        return "[]string{" + ", ".join(_go_quote(v) for v in self.values) + "}"


def _dry_run_errors(values: list[str]) -> list[FieldError]:
    if all(v == "All" for v in values):
        return []
    return [not_supported("dryRun", _GoStrings(tuple(values)), ["All"])]


def _all(q: Any, name: str) -> list[str]:
    """Every value of a repeated query parameter (aiohttp's MultiDict) or the single one of a plain dict."""
    if hasattr(q, "getall"):
        return list(q.getall(name, []))
    return [q[name]] if name in q else []


@dataclass(slots=True)
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    resource_version: str = ""
    resource_version_match: str = ""
    limit: int = 0
    continue_token: str = ""
    watch: bool = False
    allow_bookmarks: bool = False
    timeout_seconds: int | None = None
    send_initial_events: bool | None = None

    @classmethod
    def parse(cls, q: Mapping[str, str]) -> ListOptions:
        o = cls(label_selector=q.get("labelSelector", ""), field_selector=q.get("fieldSelector", ""),
                resource_version=q.get("resourceVersion", ""),
                resource_version_match=q.get("resourceVersionMatch", ""),
                limit=_int(q, "limit") or 0, continue_token=q.get("continue", ""),
                watch=_bool(q, "watch"), allow_bookmarks=_bool(q, "allowWatchBookmarks"),
                timeout_seconds=_int(q, "timeoutSeconds"))
        if "sendInitialEvents" in q:
            o.send_initial_events = _bool(q, "sendInitialEvents")
        if o.limit < 0:
            o.limit = 0
        errs = o._watch_errors() if o.watch else o._list_errors()
        if errs:
            raise Invalid("ListOptions", META, "", errs)
        if o.resource_version and o.resource_version != "0":
            parse_rv(o.resource_version)
        if o.continue_token and o.resource_version and o.resource_version != "0":
            raise BadRequest("specifying resource version is not allowed when using continue")
        return o

    def _list_errors(self) -> list[FieldError]:
        """Upstream ``ValidateListOptions`` for a list."""
        errs: list[FieldError] = []
        if match := self.resource_version_match:
            if not self.resource_version:
                errs.append(forbidden("resourceVersionMatch",
                                      "resourceVersionMatch is forbidden unless resourceVersion is provided"))
            if self.continue_token:
                errs.append(forbidden("resourceVersionMatch",
                                      "resourceVersionMatch is forbidden when continue is provided"))
            if match not in ("Exact", "NotOlderThan"):
                errs.append(not_supported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]))
            if match == "Exact" and self.resource_version == "0":
                errs.append(forbidden("resourceVersionMatch",
                                      'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
        if self.send_initial_events is not None:
            errs.append(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
        return errs

    def _watch_errors(self) -> list[FieldError]:
        """Upstream ``validateWatchOptions`` with the WatchList feature on (we serve sendInitialEvents)."""
        errs: list[FieldError] = []
        match = self.resource_version_match
        if self.send_initial_events is not None and match != "NotOlderThan":
            errs.append(forbidden("resourceVersionMatch",
                                  "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
        if match:
            if self.send_initial_events is None:
                errs.append(forbidden("resourceVersionMatch",
                                      "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                                      "provided"))
            if match != "NotOlderThan":
                errs.append(not_supported("resourceVersionMatch", match, ["NotOlderThan"]))
            if self.continue_token:
                errs.append(forbidden("resourceVersionMatch",
                                      "resourceVersionMatch is forbidden when continue is provided"))
        return errs


def parse_rv(v: str) -> int:
    """A resourceVersion as upstream's versioner parses it (``strconv.ParseUint``); bad ones are 400."""
    try:
        return _go_parse_int(v, func="ParseUint", unsigned=True)
    except ValueError as e:
        raise BadRequest(f"invalid resource version: {invalid('resourceVersion', v, str(e))}") from None


@dataclass(frozen=True, slots=True)
class Continue:
    rv: int
    start: str          # the key to continue after


def encode_continue(rv: int, last_key: str, prefix: str) -> str:
    """The token upstream's ``EncodeContinue`` makes: raw URL-safe base64 of ``{"v","rv","start"}``, where start
    is the last key returned, relative to the listed prefix, plus NUL (the next key to read from)."""
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": last_key[len(prefix):] + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INVALID_TOKEN = "invalid continue token: continue key is not valid"


def decode_continue(token: str, prefix: str) -> Continue:
    """Upstream ``DecodeContinue``; every refusal is 400 ``invalid continue token: ...``. The start key may not
    climb out of ``prefix`` (it must already be a clean path)."""
    try:
        if "=" in token:
            raise ValueError("padding")                 # RawURLEncoding: no padding
        d = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(d, dict):
            raise ValueError("not an object")
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest(_INVALID_TOKEN) from None
    if d.get("v") != "meta.k8s.io/v1":
        raise BadRequest(f"{_INVALID_TOKEN}: server does not recognize this encoded version")
    rv, start = d.get("rv", 0), d.get("start", "")
    if not isinstance(rv, int) or isinstance(rv, bool) or not isinstance(start, str):
        raise BadRequest(_INVALID_TOKEN)
    if rv == 0:
        raise BadRequest(f"{_INVALID_TOKEN}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise BadRequest(f"{_INVALID_TOKEN}: encoded start key empty (version meta.k8s.io/v1)")
    key = start if start.startswith("/") else "/" + start
    if _clean(key) != key:
        raise BadRequest(f"{_INVALID_TOKEN}: {start}")
    if rv < 0:
        # Upstream hands out negative revisions only in its "inconsistent continue" tokens (continue at the latest
        # revision after the original one was compacted); we never issue those, so we refuse them.
        raise BadRequest(f"{_INVALID_TOKEN}: inconsistent continuation (negative resourceVersion) is not supported")
    key = key[1:]
    if key.endswith("\x00"):
        key = key[:-1]
    return Continue(rv, prefix + key)


def _clean(p: str) -> str:
    """Go's ``path.Clean`` for an absolute path (posixpath keeps a leading ``//``; Go does not)."""
    cleaned = posixpath.normpath(p)
    return "/" + cleaned.lstrip("/")


@dataclass(slots=True)
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Strict"
    force: bool = False

    @classmethod
    def parse(cls, q: Any, *, default_validation: str = "Warn", kind: str = "CreateOptions",
              apply: bool = False) -> WriteOptions:
        """``kind`` names the options in a 422 (CreateOptions | UpdateOptions | PatchOptions); ``apply``: a
        server-side apply patch, which needs a fieldManager and is the only patch that may say ``force``."""
        fv = q.get("fieldValidation", "")
        fm = q.get("fieldManager", "")
        errs: list[FieldError] = []
        if kind == "PatchOptions":
            if not apply and "force" in q:
                errs.append(forbidden("force", "may not be specified for non-apply patch"))
            elif apply and not fm:
                errs.append(required("fieldManager", "is required for apply patch"))
        errs += _field_manager_errors(fm)
        errs += _dry_run_errors(_all(q, "dryRun"))
        if fv not in ("", *FIELD_VALIDATION):
            errs.append(not_supported("fieldValidation", fv, ["", "Ignore", "Strict", "Warn"]))
        if errs:
            raise Invalid(kind, META, "", errs)
        return cls(dry_run=bool(_all(q, "dryRun")), field_manager=fm, field_validation=fv or default_validation,
                   force=_bool(q, "force"))


def _field_manager_errors(fm: str) -> list[FieldError]:
    """Upstream ``ValidateFieldManager``: at most 128 bytes, printable characters only."""
    errs: list[FieldError] = []
    if len(fm.encode()) > FIELD_MANAGER_MAX:
        errs.append(too_long("fieldManager", fm, FIELD_MANAGER_MAX))
    if not fm.isprintable():
        pos = 0
        for ch in fm:
            if not ch.isprintable():
                errs.append(invalid("fieldManager", fm, f"invalid character U+{ord(ch):04X} (at position {pos})"))
            pos += len(ch.encode())
    return errs


@dataclass(slots=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    preconditions: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    orphan_dependents: bool | None = None

    @classmethod
    def parse(cls, q: Any, body: dict[str, Any] | None) -> DeleteOptions:
        o = cls()
        body = body or {}
        if not isinstance(body, dict):
            raise BadRequest("DeleteOptions body must be an object")
        gp = body.get("gracePeriodSeconds")
        if gp is None:
            gp = _int(q, "gracePeriodSeconds")
        if gp is not None and (not isinstance(gp, int) or isinstance(gp, bool)):
            raise BadRequest("gracePeriodSeconds must be an integer")
        o.grace_period_seconds = gp
        pp = body.get("propagationPolicy") or q.get("propagationPolicy")
        o.propagation_policy = pp
        od = body.get("orphanDependents")
        if od is None and "orphanDependents" in q:
            od = _bool(q, "orphanDependents")
        o.orphan_dependents = od
        pre = body.get("preconditions") or {}
        if isinstance(pre, dict):
            o.preconditions = {k: v for k, v in pre.items() if v is not None}
        dr = body.get("dryRun") or _all(q, "dryRun")
        if not isinstance(dr, list) or not all(isinstance(v, str) for v in dr):
            raise BadRequest("dryRun must be a list of strings")
        # Upstream ValidateDeleteOptions, in its order.
        errs: list[FieldError] = []
        if od is not None and pp is not None:
            errs.append(invalid("propagationPolicy", pp, "orphanDependents and deletionPropagation cannot be both "
                                                         "set"))
        if pp is not None and pp not in ("Orphan", "Background", "Foreground"):
            errs.append(not_supported("propagationPolicy", pp, ["Foreground", "Background", "Orphan", "nil"]))
        errs += _dry_run_errors(dr)
        if errs:
            raise Invalid("DeleteOptions", META, "", errs)
        o.dry_run = bool(dr)
        return o
