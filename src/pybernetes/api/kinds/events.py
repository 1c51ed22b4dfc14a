"""events.k8s.io/v1 Event: validation as upstream applies it to writes through the events.k8s.io API.

Core v1 and events.k8s.io/v1 Events are one stored object (see ``conversion.py``). Upstream validates the internal
(core-shaped) object and picks the rules by the request's API version: writes through core v1 get only the legacy
checks (kept loose for old clients), writes through events.k8s.io/v1 must also carry ``eventTime``, a reporting
controller and instance, an action and a reason, and may not set the deprecated fields. Error paths therefore use the
core field names (``involvedObject``, ``reportingController``, ``message``), exactly as a real server reports them.
This strategy accepts an object in either shape and checks it in core shape.
"""

from __future__ import annotations

from typing import Any

from pybernetes.api.conversion import convert
from pybernetes.api.field import FieldError, Path, invalid, required
from pybernetes.api.kinds.fieldchecks import immutable
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import dns1123_subdomain, qualified_name

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024
IMMUTABLE_FIELDS = ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
                    "type", "eventTime", "action", "related", "reportingComponent", "reportingInstance")
# Error paths name ``reportingController`` although the core field is ``reportingComponent``: upstream's internal
# type calls it ReportingController, and its paths are written by hand.
_PATH_NAMES = {"reportingComponent": "reportingController"}


def as_core(obj: Obj) -> Obj:
    return convert(obj, "v1") if obj.get("apiVersion") == "events.k8s.io/v1" else obj


def _set(v: Any) -> bool:
    return v not in (None, "", 0, {})


def legacy_validate_event(ev: Obj) -> list[FieldError]:
    """Checks every Event write passes, whichever API it came through (upstream ``legacyValidateEvent``)."""
    errs: list[FieldError] = []
    ns = (ev.get("metadata") or {}).get("namespace") or ""
    involved_ns = (ev.get("involvedObject") or {}).get("namespace") or ""
    ns_path = Path("involvedObject", "namespace")
    if not ev.get("eventTime"):
        if not involved_ns:
            if ns not in ("", "default"):
                errs.append(invalid(ns_path, involved_ns, "does not match event.namespace"))
        elif ns != involved_ns:
            errs.append(invalid(ns_path, involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            errs.append(invalid(ns_path, involved_ns, "does not match event.namespace"))
        controller = ev.get("reportingComponent") or ""
        if not controller:
            errs.append(required("reportingController"))
        errs += [invalid("reportingController", controller, m) for m in qualified_name(controller)]
        errs += _limited(ev, "reportingInstance", REPORTING_INSTANCE_LIMIT, required_=True)
        errs += _limited(ev, "action", ACTION_LIMIT, required_=True)
        errs += _limited(ev, "reason", REASON_LIMIT, required_=True)
        errs += _limited(ev, "message", NOTE_LIMIT, required_=False)
    errs += [invalid("namespace", ns, m) for m in dns1123_subdomain(ns)]
    return errs


def _limited(ev: Obj, key: str, limit: int, *, required_: bool) -> list[FieldError]:
    v = ev.get(key) or ""
    errs = [required(key)] if required_ and not v else []
    if len(v) > limit:
        errs.append(invalid(key, "", f"can have at most {limit} characters"))
    return errs


def _series(ev: Obj) -> list[FieldError]:
    series = ev.get("series")
    if series is None:
        return []
    errs: list[FieldError] = []
    if (series.get("count") or 0) < 2:
        errs.append(invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(required("series.lastObservedTime"))
    return errs


def validate_event_create(ev: Obj) -> list[FieldError]:
    """events.k8s.io/v1 create: legacy checks plus the strict ones."""
    errs = legacy_validate_event(ev)
    errs += _series(ev)
    if not ev.get("eventTime"):
        errs.append(required("eventTime"))
    if ev.get("type") not in ("Normal", "Warning"):
        errs.append(invalid("type", "", f"has invalid value: {ev.get('type') or ''}"))
    for key in ("firstTimestamp", "lastTimestamp", "count"):
        if _set(ev.get(key)):
            errs.append(invalid(key, "", "needs to be unset"))
    source = ev.get("source") or {}
    if source.get("component") or source.get("host"):
        errs.append(invalid("source", "", "needs to be unset"))
    return errs


def validate_event_update(ev: Obj, old: Obj) -> list[FieldError]:
    errs = legacy_validate_event(ev)
    if ev.get("series") != old.get("series"):
        errs += _series(ev)
    for key in IMMUTABLE_FIELDS:
        errs += immutable(ev.get(key), old.get(key), _PATH_NAMES.get(key, key))
    return errs


class EventsV1EventStrategy(Strategy):
    """Strategy for Events written through events.k8s.io/v1 (either shape accepted; checked in core shape)."""

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_event_create(as_core(obj))

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_event_update(as_core(obj), as_core(old))
