"""Object accessors and timestamps used by every component.

API objects stay plain dicts (STYLE.md), so "the name of an object" is a dict walk that every controller, the
scheduler, the kubelet and the API server do thousands of times a second. These helpers do it once, the same way
everywhere: a missing ``metadata`` or field reads as upstream's zero value (``""``, ``{}``, ``[]``, ``None``), never
as a ``KeyError``. Returned dicts and lists are the object's own (no copy, for speed): treat them as read-only.

Timestamps follow ``metav1.Time`` (RFC 3339, whole seconds, always UTC: ``2006-01-02T15:04:05Z``) and
``metav1.MicroTime`` (``2006-01-02T15:04:05.000000Z``), the forms the Go API server writes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_EMPTY: Mapping[str, Any] = {}


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or _EMPTY


def name_of(obj: Mapping[str, Any]) -> str:
    return _meta(obj).get("name") or ""


def namespace_of(obj: Mapping[str, Any]) -> str:
    return _meta(obj).get("namespace") or ""


def uid_of(obj: Mapping[str, Any]) -> str:
    return _meta(obj).get("uid") or ""


def resource_version_of(obj: Mapping[str, Any]) -> str:
    return _meta(obj).get("resourceVersion") or ""


def generation_of(obj: Mapping[str, Any]) -> int:
    return _meta(obj).get("generation") or 0


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's labels (its own dict, or a fresh empty one): read-only."""
    return _meta(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's annotations (its own dict, or a fresh empty one): read-only."""
    return _meta(obj).get("annotations") or {}


def finalizers_of(obj: Mapping[str, Any]) -> list[str]:
    return _meta(obj).get("finalizers") or []


def owner_references_of(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _meta(obj).get("ownerReferences") or []


def deletion_timestamp_of(obj: Mapping[str, Any]) -> str | None:
    return _meta(obj).get("deletionTimestamp") or None


def is_being_deleted(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def key_of(obj: Mapping[str, Any]) -> str:
    """The work-queue key (client-go ``MetaNamespaceKeyFunc``): ``namespace/name``, or ``name`` if cluster-scoped."""
    m = _meta(obj)
    ns = m.get("namespace")
    name = m.get("name") or ""
    return f"{ns}/{name}" if ns else name


def split_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`key_of` (``SplitMetaNamespaceKey``): ``(namespace, name)``; namespace ``""`` if none."""
    ns, sep, name = key.partition("/")
    if not sep:
        return "", key
    if "/" in name:
        raise ValueError(f'unexpected key format: "{key}"')
    return ns, name


# ---------------------------------------------------------------------------------------------------------------
# Owner references


def controller_ref(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ownerReference with ``controller: true`` (upstream ``GetControllerOf``), or None."""
    ref: dict[str, Any]
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller") is True:
            return ref
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """Upstream ``IsControlledBy``: the controller reference points at ``owner``'s UID."""
    ref = controller_ref(obj)
    return ref is not None and bool(ref.get("uid")) and ref.get("uid") == uid_of(owner)


def owner_key(obj: Mapping[str, Any], kind: str) -> str | None:
    """The queue key of the controller that owns ``obj`` when that controller is a ``kind``, else None.

    Controllers use this to map an event on a dependent (a Pod) to the owner to reconcile (its ReplicaSet). As
    upstream's ``resolveControllerRef``, only the kind is compared here; the caller must still check the owner's
    UID against the live object, since a same-named owner may have been deleted and recreated.
    """
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind or not ref.get("name"):
        return None
    ns = namespace_of(obj)
    return f"{ns}/{ref['name']}" if ns else ref["name"]


# ---------------------------------------------------------------------------------------------------------------
# Timestamps

_RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
# Go's time.RFC3339 parse layout: 'T' and 'Z' upper case, optional fraction of any length, offset ±hh:mm.
_RFC3339_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


_NOW: tuple[int, str] = (-1, "")               # (a second, its text): formatted once a second, not per write


def now_rfc3339() -> str:
    """The current time as ``metav1.Time`` serialises it: ``2006-01-02T15:04:05Z``."""
    global _NOW
    secs = int(time.time())
    got = _NOW
    if got[0] != secs:
        got = _NOW = (secs, time.strftime(_RFC3339, time.gmtime(secs)))
    return got[1]


def now_rfc3339_micro() -> str:
    """The current time as ``metav1.MicroTime`` serialises it: ``2006-01-02T15:04:05.000000Z``."""
    t = time.time()
    secs = int(t)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(secs))}.{int((t - secs) * 1e6):06d}Z"


def format_rfc3339(dt: datetime) -> str:
    """``metav1.Time`` form of an aware datetime (converted to UTC, fraction dropped)."""
    return dt.astimezone(UTC).strftime(_RFC3339)


def format_rfc3339_micro(dt: datetime) -> str:
    """``metav1.MicroTime`` form of an aware datetime (converted to UTC)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: str) -> datetime:
    """Parse an RFC 3339 timestamp as Go's ``time.Parse(time.RFC3339, s)`` does; returns an aware UTC datetime.

    Fractions beyond microseconds are truncated (Python's resolution). Raises ``ValueError`` with Go's wording
    for text that is not RFC 3339.
    """
    if not isinstance(s, str) or not _RFC3339_RE.fullmatch(s):
        raise ValueError(f'parsing time "{s}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    return datetime.fromisoformat(s).astimezone(UTC)


def parse_time_or_none(value: Any) -> datetime | None:
    """:func:`parse_time` of a timestamp field that may be unset or malformed: None then, which callers read as
    "no time" (as upstream's code reads a zero ``metav1.Time``)."""
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
