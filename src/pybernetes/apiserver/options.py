"""Query parameters of API requests, parsed once into small records (upstream ``metav1.*Options``).

Bad values become 400 BadRequest Status errors here, before any handler work.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from pybernetes.api.errors import BadRequest, Expired

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


def _bool(q: Mapping[str, str], name: str) -> bool:
    v = q.get(name)
    if v is None or v == "":
        return False
    if v in ("true", "1", "True"):
        return True
    if v in ("false", "0", "False"):
        return False
    raise BadRequest(f'invalid value for {name}: "{v}": must be a boolean')


def _int(q: Mapping[str, str], name: str) -> int | None:
    v = q.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise BadRequest(f'invalid value for {name}: "{v}": must be an integer') from None


def _dry_run(all_values: list[str]) -> bool:
    for v in all_values:
        if v != "All":
            raise BadRequest(f'Invalid dryRun value: "{v}": supported values: "All"', code=400)
    return bool(all_values)


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
        if o.resource_version_match and o.resource_version_match not in ("Exact", "NotOlderThan"):
            raise BadRequest(f'resourceVersionMatch: Unsupported value: "{o.resource_version_match}": supported '
                             'values: "Exact", "NotOlderThan"')
        if o.resource_version and o.resource_version != "0":
            parse_rv(o.resource_version)
        if o.resource_version_match and not o.resource_version and not o.send_initial_events:
            raise BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if o.continue_token and o.resource_version and o.resource_version != "0":
            raise BadRequest("specifying resource version is not allowed when using continue")
        return o


def parse_rv(v: str) -> int:
    try:
        rv = int(v)
        if rv < 0:
            raise ValueError
        return rv
    except ValueError:
        raise BadRequest(f'Invalid value for resourceVersion: "{v}"', reason="BadRequest") from None


@dataclass(frozen=True, slots=True)
class Continue:
    rv: int
    start: str          # the key to continue after


def encode_continue(rv: int, last_key: str, prefix: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": last_key[len(prefix):] + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str, prefix: str) -> Continue:
    try:
        pad = "=" * (-len(token) % 4)
        d = orjson.loads(base64.urlsafe_b64decode(token + pad))
        if d.get("v") != "meta.k8s.io/v1" or not isinstance(d.get("rv"), int) or not isinstance(d.get("start"), str):
            raise ValueError
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version "
                         "meta.k8s.io/v1)") from None
    start = d["start"]
    if start.endswith("\x00"):
        start = start[:-1]
    if ".." in start or start.startswith("/"):
        raise BadRequest("continue key is not valid: key cannot contain relative segments")
    if d["rv"] <= 0:
        raise Expired("The provided continue parameter is too old to display a consistent list result. You can "
                      "start a new list without the continue parameter.")
    return Continue(d["rv"], prefix + start)


@dataclass(slots=True)
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Strict"
    force: bool = False

    @classmethod
    def parse(cls, q: Any, *, default_validation: str = "Warn") -> WriteOptions:
        fv = q.get("fieldValidation", "") or default_validation
        if fv not in FIELD_VALIDATION:
            raise BadRequest(f'fieldValidation: Unsupported value: "{fv}": supported values: "Ignore", "Strict", '
                             '"Warn"')
        fm = q.get("fieldManager", "")
        if len(fm) > 128:
            raise BadRequest('fieldManager: Too long: may not be more than 128 bytes')
        return cls(dry_run=_dry_run(_all(q, "dryRun")),
                   field_manager=fm, field_validation=fv, force=_bool(q, "force"))


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
        if gp is not None and not isinstance(gp, int):
            raise BadRequest("gracePeriodSeconds must be an integer")
        o.grace_period_seconds = gp
        pp = body.get("propagationPolicy") or q.get("propagationPolicy")
        if pp is not None and pp not in ("Orphan", "Background", "Foreground"):
            raise BadRequest(f'propagationPolicy: Unsupported value: "{pp}": supported values: "Foreground", '
                             '"Background", "Orphan"', reason="Invalid", code=422)
        o.propagation_policy = pp
        od = body.get("orphanDependents")
        if od is None and "orphanDependents" in q:
            od = _bool(q, "orphanDependents")
        o.orphan_dependents = od
        if od is not None and pp is not None:
            raise BadRequest("orphanDependents and deletionPropagation cannot be both set", reason="Invalid",
                             code=422)
        pre = body.get("preconditions") or {}
        if isinstance(pre, dict):
            o.preconditions = {k: v for k, v in pre.items() if v is not None}
        dr = body.get("dryRun") or _all(q, "dryRun")
        if not isinstance(dr, list):
            raise BadRequest("dryRun must be a list of strings")
        o.dry_run = _dry_run(dr)
        return o
