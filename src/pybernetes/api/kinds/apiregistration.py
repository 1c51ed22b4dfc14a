"""apiregistration.k8s.io/v1 APIService (upstream kube-aggregator ``pkg/apis/apiregistration``).

An APIService is named ``<version>.<group>`` — the aggregator routes ``/apis/<group>/<version>`` by that name, so a
mismatch between name and spec is an error, reported on ``metadata.name`` like upstream's custom name rule.
"""

from __future__ import annotations

from pybernetes.api.field import FieldError, Path, invalid, required
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import dns1035_label, dns1123_subdomain, path_segment_name, port_num

SPEC = Path("spec")


def default_api_service(obj: Obj) -> None:
    service = (obj.get("spec") or {}).get("service")
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443


def validate_api_service(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    group, version = spec.get("group", ""), spec.get("version", "")
    errs: list[FieldError] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    wanted = f"{version}.{group}"
    if name and not path_segment_name(name) and name != wanted:
        errs.append(invalid(Path("metadata", "name"), name, f'must be `spec.version+"."+spec.group`: "{wanted}"'))
    if not group and version != "v1":
        errs.append(required(SPEC.child("group"), "only v1 may have an empty group and it better be legacy kube"))
    if group:
        errs += [invalid(SPEC.child("group"), group, m) for m in dns1123_subdomain(group)]
    errs += [invalid(SPEC.child("version"), version, m) for m in dns1035_label(version)]
    gpm = spec.get("groupPriorityMinimum", 0)
    if gpm <= 0 or gpm > 20000:
        errs.append(invalid(SPEC.child("groupPriorityMinimum"), gpm, "must be positive and less than 20000"))
    vp = spec.get("versionPriority", 0)
    if vp <= 0 or vp > 1000:
        errs.append(invalid(SPEC.child("versionPriority"), vp, "must be positive and less than 1000"))
    service = spec.get("service")
    ca = spec.get("caBundle") or ""
    skip = bool(spec.get("insecureSkipTLSVerify"))
    if service is None:
        if ca:
            errs.append(invalid(SPEC.child("caBundle"), f"{len(ca) * 3 // 4 - ca[-2:].count('=')} bytes",
                                "local APIServices may not have a caBundle"))
        if skip:
            errs.append(invalid(SPEC.child("insecureSkipTLSVerify"), skip,
                                "local APIServices may not have insecureSkipTLSVerify"))
        return errs
    if not service.get("namespace"):
        errs.append(required(SPEC.child("service", "namespace")))
    if not service.get("name"):
        errs.append(required(SPEC.child("service", "name")))
    port = service.get("port", 0)
    msgs = port_num(port) if isinstance(port, int) else ["must be between 1 and 65535, inclusive"]
    if msgs:
        errs.append(invalid(SPEC.child("service", "port"), port, "port is not valid: " + ", ".join(msgs)))
    if skip and ca:
        errs.append(invalid(SPEC.child("insecureSkipTLSVerify"), skip, "may not be true if caBundle is present"))
    return errs


class APIServiceStrategy(Strategy):
    has_status_subresource = True
    name_fn = staticmethod(path_segment_name)  # type: ignore[assignment]  # unbound on instances

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {}

    def default(self, obj: Obj) -> None:
        default_api_service(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_api_service(obj)
