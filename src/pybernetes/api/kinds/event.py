"""The core/v1 Event kind as written through ``/api/v1`` (upstream ``legacyValidateEvent`` with requestVersion v1).

Writes through core v1 get only the legacy checks, which stay loose for old clients; the reporting controller is
named ``reportingComponent`` in paths here, as upstream does for v1 requests. The events.k8s.io/v1 API has its own
strategy in ``events.py``.
"""

from __future__ import annotations

from pybernetes.api.field import FieldError, Path, invalid, required
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import dns1123_subdomain, qualified_name

LIMITS = {"reportingInstance": 128, "action": 128, "reason": 128, "message": 1024}
NS_PATH = Path("involvedObject", "namespace")


def validate_core_event(ev: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    ns = (ev.get("metadata") or {}).get("namespace") or ""
    involved_ns = (ev.get("involvedObject") or {}).get("namespace") or ""
    if not ev.get("eventTime"):
        if (not involved_ns and ns not in ("", "default")) or (involved_ns and ns != involved_ns):
            errs.append(invalid(NS_PATH, involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            errs.append(invalid(NS_PATH, involved_ns, "does not match event.namespace"))
        controller = ev.get("reportingComponent") or ""
        if not controller:
            errs.append(required(Path("reportingComponent"), ""))
        errs.extend(invalid(Path("reportingComponent"), controller, m) for m in qualified_name(controller))
        for key, limit in LIMITS.items():
            value = ev.get(key) or ""
            if not value and key != "message":
                errs.append(required(Path(key), ""))
            if len(value) > limit:
                errs.append(invalid(Path(key), "", f"can have at most {limit} characters"))
    errs.extend(invalid(Path("namespace"), ns, m) for m in dns1123_subdomain(ns))
    return errs


class EventStrategy(Strategy):
    allow_create_on_update = True

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_core_event(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_core_event(obj)
