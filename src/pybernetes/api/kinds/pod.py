"""The Pod kind: strategy, update rules, status, ``pods/binding`` and ``pods/ephemeralcontainers``.

Re-exports the reusable pod-template helpers that workload kinds (apps, batch) call:
:func:`default_pod_spec`, :func:`default_pod_template`, :func:`validate_pod_spec`,
:func:`validate_pod_template_spec`, :func:`validate_pod_spec_update`.

Upstream: ``pkg/registry/core/pod/strategy.go`` (hooks), ``pkg/registry/core/pod/storage/storage.go`` (binding),
``pkg/apis/core/validation/validation.go`` (``ValidatePodUpdate``, ``ValidatePodStatusUpdate``,
``ValidatePodEphemeralContainersUpdate``).
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

import orjson

from pybernetes.api.errors import Conflict, Invalid
from pybernetes.api.field import (
    FieldError,
    Path,
    forbidden,
    invalid,
    not_supported,
    required,
)
from pybernetes.api.kinds.common import FIELD_IMMUTABLE, MAX_INT32, now_rfc3339, qualified_name
from pybernetes.api.kinds.pod_defaults import (
    MIRROR_POD_ANNOTATION,
    admit_pod,
    admit_pod_default_tolerations,
    admit_pod_priority,
    admit_pod_service_account,
    default_pod,
    default_pod_spec,
    default_pod_template,
)
from pybernetes.api.kinds.pod_validation import validate_pod_spec, validate_pod_template_spec, validate_tolerations
from pybernetes.api.kinds.resource_list import pod_qos_class
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation import names

__all__ = [
    "PodEphemeralContainersStrategy", "PodStatusStrategy", "PodStrategy", "admit_pod",
    "admit_pod_default_tolerations", "admit_pod_priority", "admit_pod_service_account", "bind_pod",
    "default_pod", "default_pod_spec", "default_pod_template", "semantic_equal", "validate_binding",
    "validate_pod_spec", "validate_pod_spec_update", "validate_pod_template_spec",
]

SPEC = Path("spec")
UPDATE_FORBIDDEN = ("pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                    "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                    "previously negative)")
SYSTEM_CONDITIONS = frozenset({"PodScheduled", "Ready", "Initialized"})
_EMPTY = (None, "", [], {})


def semantic_equal(a: Any, b: Any) -> bool:
    """Upstream ``equality.Semantic.DeepEqual`` on JSON: absent, null, "", [] and {} are all the zero value."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a == b:
            return True
        for k in a.keys() | b.keys():
            if not semantic_equal(a.get(k), b.get(k)):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(semantic_equal(x, y) for x, y in zip(a, b, strict=True))
    if a in _EMPTY and b in _EMPTY and not isinstance(a, (bool, int)) and not isinstance(b, (bool, int)):
        return True
    return a == b


def _go_name(key: str) -> str:
    return key[:1].upper() + key[1:]


def spec_diff(old: Obj, new: Obj) -> str:
    """A short cmp.Diff-like rendering of the top-level spec fields that differ (``-`` old, ``+`` new)."""
    lines = ["  core.PodSpec{"]
    for k in sorted(old.keys() | new.keys()):
        o, n = old.get(k), new.get(k)
        if semantic_equal(o, n):
            continue
        if o not in _EMPTY:
            lines.append(f"- \t{_go_name(k)}: {orjson.dumps(o).decode()},")
        if n not in _EMPTY:
            lines.append(f"+ \t{_go_name(k)}: {orjson.dumps(n).decode()},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def _only_added_tolerations(new: list, old: list, path: Path) -> list[FieldError]:
    for o in old:
        found = False
        for n in new:
            clone = dict(o)
            if "tolerationSeconds" in n:
                clone["tolerationSeconds"] = n["tolerationSeconds"]
            else:
                clone.pop("tolerationSeconds", None)
            if semantic_equal(clone, n):
                found = True
                break
        if not found:
            return [forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return validate_tolerations(new, path)


def validate_pod_spec_update(new: Obj, old: Obj, path: Path = SPEC) -> list[FieldError]:
    """Upstream ``ValidatePodUpdate``'s spec rules: only images, activeDeadlineSeconds (shortened), added
    tolerations, removed scheduling gates and a negative grace period turned into 1 may change."""
    errs: list[FieldError] = []
    for key in ("containers", "initContainers"):
        nc, oc = new.get(key) or [], old.get(key) or []
        if len(nc) != len(oc):
            return [forbidden(path.child(key), "pod updates may not add or remove containers")]
        for i, c in enumerate(nc):
            image = c.get("image", "")
            if not image:
                errs.append(required(path.child(key).index(i).child("image"), ""))
            elif image != image.strip():
                errs.append(invalid(path.child(key).index(i).child("image"), image,
                                    "must not have leading or trailing whitespace"))
    nads, oads = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if nads is not None:
        if nads < 0 or nads > MAX_INT32:
            ads = path.child("activeDeadlineSeconds")
            return [*errs, invalid(ads, nads, f"must be between 0 and {MAX_INT32}, inclusive")]
        if oads is not None and oads < nads:
            ads = path.child("activeDeadlineSeconds")
            return [*errs, invalid(ads, nads, "must be less than or equal to previous value")]
    elif oads is not None:
        errs.append(invalid(path.child("activeDeadlineSeconds"), None, "must not update from a positive integer to "
                                                                       "nil value"))
    errs.extend(_only_added_tolerations(new.get("tolerations") or [], old.get("tolerations") or [],
                                        path.child("tolerations")))
    old_gates = {g.get("name") for g in old.get("schedulingGates") or ()}
    for i, g in enumerate(new.get("schedulingGates") or ()):
        if g.get("name") not in old_gates:
            errs.append(forbidden(path.child("schedulingGates").index(i),
                                  f"only deletion is allowed, but found new scheduling gate '{g.get('name', '')}'"))

    munged = dict(new)
    for key in ("containers", "initContainers"):
        if key in new:
            munged[key] = [dict(c, image=o.get("image")) if "image" in o else
                           {k: v for k, v in c.items() if k != "image"}
                           for c, o in zip(new[key], old.get(key) or [], strict=True)]
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if key in old:
            munged[key] = old[key]
        else:
            munged.pop(key, None)
    otgp = old.get("terminationGracePeriodSeconds")
    if otgp is not None and otgp < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = otgp
    if old.get("schedulingGates"):
        ons, nns = old.get("nodeSelector") or {}, munged.get("nodeSelector") or {}
        if ons != nns:
            for k, v in ons.items():
                if nns.get(k) != v:
                    errs.append(invalid(path.child("nodeSelector"), nns.get(k), FIELD_IMMUTABLE))
                    break
            munged["nodeSelector"] = old.get("nodeSelector")
    if not semantic_equal(munged, old):
        errs.append(forbidden(path, UPDATE_FORBIDDEN + "\n" + spec_diff(old, munged)))
    return errs


def _reset_status(pod: Obj) -> None:
    pod["status"] = {"phase": "Pending", "qosClass": pod_qos_class(pod.get("spec") or {})}


def _scheduling_gated(pod: Obj) -> None:
    if (pod.get("spec") or {}).get("schedulingGates"):
        pod["status"].setdefault("conditions", []).append({
            "type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": None,
            "reason": "SchedulingGated", "message": "Scheduling is blocked due to non-empty scheduling gates"})


def validate_pod(pod: Obj) -> list[FieldError]:
    """Upstream ``ValidatePodCreate`` minus ObjectMeta (the registry validates metadata for every kind)."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return [required(SPEC, "")]
    errs = validate_pod_spec(spec, SPEC, is_pod=True)
    if spec.get("ephemeralContainers"):
        errs.append(forbidden(SPEC.child("ephemeralContainers"), "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        errs.append(forbidden(SPEC.child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
    return errs


def _ips(values: list | None, path: Path, old: list | None) -> list[FieldError]:
    errs: list[FieldError] = []
    existing = {x.get("ip") for x in old or ()}
    ips = [x.get("ip", "") for x in values or ()]
    for i, ip in enumerate(ips):
        if ip not in existing:
            errs.extend(invalid(path.index(i), ip, m) for m in names.valid_ip(ip))
    if len(ips) > 1 and not errs:
        try:
            families = {ipaddress.ip_address(ip).version for ip in ips}
        except ValueError:
            families = set()
        if len(ips) > 2 or len(families) != 2:
            errs.append(invalid(path, values, "may specify no more than one IP for each IP family"))
    return errs


def _state_transitions(new: list | None, old: list | None, path: Path, restart_policy: str) -> list[FieldError]:
    if restart_policy == "Always":
        return []
    errs: list[FieldError] = []
    for i, o in enumerate(old or ()):
        term = (o.get("state") or {}).get("terminated")
        if term is None:
            continue
        if term.get("exitCode", 0) != 0 and restart_policy == "OnFailure":
            continue
        for n in new or ():
            if n.get("name") == o.get("name") and (n.get("state") or {}).get("terminated") is None:
                errs.append(forbidden(path.index(i).child("state"), "may not be transitioned to non-terminated state"))
    return errs


def validate_pod_status_update(new: Obj, old: Obj) -> list[FieldError]:
    """Upstream ``ValidatePodStatusUpdate`` (ObjectMeta is left to the registry)."""
    errs: list[FieldError] = []
    status, old_status = new.get("status") or {}, old.get("status") or {}
    for i, cond in enumerate(status.get("conditions") or ()):
        if cond.get("type") not in SYSTEM_CONDITIONS:
            errs.extend(qualified_name(cond.get("type", ""), Path("metadata", "conditions").index(i).child("Type")))
    sp = Path("status")
    if (new.get("spec") or {}).get("nodeName") != (old.get("spec") or {}).get("nodeName"):
        errs.append(forbidden(sp.child("nodeName"), "may not be changed directly"))
    nnn = status.get("nominatedNodeName", "")
    if nnn and nnn != old_status.get("nominatedNodeName", ""):
        errs.extend(invalid(sp.child("nominatedNodeName"), nnn, m) for m in names.name_is_dns_subdomain(nnn, False))
    rp = (old.get("spec") or {}).get("restartPolicy", "Always")
    errs.extend(_state_transitions(status.get("containerStatuses"), old_status.get("containerStatuses"),
                                   sp.child("containerStatuses"), rp))
    errs.extend(_state_transitions(status.get("initContainerStatuses"), old_status.get("initContainerStatuses"),
                                   sp.child("initContainerStatuses"), "Never" if rp == "Never" else "OnFailure"))
    errs.extend(_state_transitions(status.get("ephemeralContainerStatuses"),
                                   old_status.get("ephemeralContainerStatuses"),
                                   sp.child("ephemeralContainerStatuses"), "Never"))
    errs.extend(_ips(status.get("podIPs"), sp.child("podIPs"), old_status.get("podIPs")))
    host_ips = status.get("hostIPs")
    errs.extend(_ips(host_ips, sp.child("hostIPs"), old_status.get("hostIPs")))
    if host_ips and status.get("hostIP", "") != host_ips[0].get("ip", ""):
        errs.append(invalid(sp.child("hostIPs").index(0).child("ip"), host_ips[0].get("ip", ""),
                            "must be equal to the hostIP"))
    if status.get("qosClass", "") != old_status.get("qosClass", "") and old_status.get("qosClass"):
        errs.append(invalid(sp.child("qosClass"), status.get("qosClass", ""), FIELD_IMMUTABLE))
    og = status.get("observedGeneration")
    if og is not None and og < 0:
        errs.append(invalid(sp.child("observedGeneration"), og, "must be greater than or equal to 0"))
    return errs


def validate_ephemeral_containers_update(new: Obj, old: Obj) -> list[FieldError]:
    """Upstream ``ValidatePodEphemeralContainersUpdate``: new spec valid, existing ephemeral containers unchanged."""
    if MIRROR_POD_ANNOTATION in ((old.get("metadata") or {}).get("annotations") or {}):
        return [forbidden("", "static pods do not support ephemeral containers")]
    errs = validate_pod_spec(new.get("spec") or {}, SPEC, is_pod=True)
    path = SPEC.child("ephemeralContainers")
    by_name = {c.get("name"): c for c in (new.get("spec") or {}).get("ephemeralContainers") or ()}
    for o in (old.get("spec") or {}).get("ephemeralContainers") or ():
        n = by_name.get(o.get("name"))
        if n is None:
            errs.append(forbidden(path, f'existing ephemeral containers "{o.get("name", "")}" may not be removed\n'))
        elif not semantic_equal(o, n):
            errs.append(forbidden(path, f'existing ephemeral containers "{o.get("name", "")}" may not be changed\n'))
    return errs


def validate_binding(binding: Obj) -> list[FieldError]:
    """Upstream ``ValidatePodBinding``."""
    errs: list[FieldError] = []
    target = binding.get("target") or {}
    kind = target.get("kind", "")
    if kind and kind != "Node":
        errs.append(not_supported(Path("target", "kind"), kind, ("Node", "<empty>")))
    if not target.get("name"):
        errs.append(required(Path("target", "name"), ""))
    return errs


def _set_condition(status: Obj, cond_type: str, value: str) -> None:
    """Upstream ``podutil.UpdatePodCondition``: the transition time moves only when the status changes."""
    conds = status.setdefault("conditions", [])
    for c in conds:
        if c.get("type") == cond_type:
            if c.get("status") != value:
                c["status"] = value
                c["lastTransitionTime"] = now_rfc3339()
            for k in ("reason", "message"):
                c.pop(k, None)
            return
    conds.append({"type": cond_type, "status": value, "lastProbeTime": None, "lastTransitionTime": now_rfc3339()})


def bind_pod(pod: Obj, binding: Obj) -> Obj:
    """Apply a Binding to a stored pod; returns the new pod (the argument is not changed).

    Raises :class:`Invalid` for a bad binding and :class:`Conflict` (``pods/binding``) when the pod is being deleted,
    already bound, still gated, or not the pod the binding's UID names — as upstream's ``BindingREST``.
    """
    meta = pod.get("metadata") or {}
    name = meta.get("name", "")
    if errs := validate_binding(binding):
        raise Invalid("Binding", "", (binding.get("metadata") or {}).get("name", name), errs)
    spec = pod.get("spec") or {}
    bmeta = binding.get("metadata") or {}
    uid = bmeta.get("uid")
    if uid and uid != meta.get("uid"):
        raise Conflict("pods/binding", "", name, f"Precondition failed: UID in precondition: {uid}, UID in object "
                                                 f"meta: {meta.get('uid', '')}")
    if meta.get("deletionTimestamp"):
        raise Conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
    if spec.get("nodeName"):
        raise Conflict("pods/binding", "", name, f'pod {name} is already assigned to node "{spec["nodeName"]}"')
    if spec.get("schedulingGates"):
        raise Conflict("pods/binding", "", name, f"pod {name} has non-empty .spec.schedulingGates")
    new = dict(pod)
    new["metadata"] = new_meta = dict(meta)
    new["spec"] = dict(spec, nodeName=binding["target"]["name"])
    annotations = bmeta.get("annotations")
    if annotations:
        new_meta["annotations"] = dict(meta.get("annotations") or {}, **annotations)
    status = dict(pod.get("status") or {})
    status["conditions"] = [dict(c) for c in status.get("conditions") or ()]
    _set_condition(status, "PodScheduled", "True")
    new["status"] = status
    return new


class PodStrategy(Strategy):
    has_status_subresource: ClassVar[bool] = True
    tracks_generation: ClassVar[bool] = True     # 1.33 sets metadata.generation on pods and bumps it on spec changes

    def default(self, obj: Obj) -> None:
        default_pod(obj)

    def reset_status(self, obj: Obj) -> None:
        _reset_status(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _scheduling_gated(obj)

    def spec_of(self, obj: Obj) -> Any:
        return obj.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pod(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validate_pod_spec(spec, SPEC, is_pod=True)
        errs.extend(validate_pod_spec_update(spec, old.get("spec") or {}))
        return errs

    def warnings_on_create(self, obj: Obj) -> list[str]:
        name = (obj.get("metadata") or {}).get("name", "")
        msgs = names.dns1123_label(name) if name else []
        if msgs:
            return ["metadata.name: this is used in the Pod's hostname, which can result in surprising behavior; "
                    f"a DNS label is recommended: [{' '.join(msgs)}]"]
        return []

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_pod_status_update(obj, old)

    def status_strategy(self) -> Strategy:
        return PodStatusStrategy(self)

    def ephemeral_containers_strategy(self) -> Strategy:
        return PodEphemeralContainersStrategy(self)

    def subresource_strategy(self, subresource: str) -> Strategy:
        """The strategy for a write through ``pods/<subresource>``."""
        if subresource == "status":
            return self.status_strategy()
        if subresource == "ephemeralcontainers":
            return self.ephemeral_containers_strategy()
        if subresource == "binding":
            return PodBindingStrategy(self)
        return self


class PodStatusStrategy(Strategy):
    """``pods/status``: the spec stays as stored; labels and annotations may change (the kubelet never does),
    owner references may not; an empty qosClass is backfilled from the old status."""

    def __init__(self, main: PodStrategy) -> None:
        self.main = main

    def default(self, obj: Obj) -> None:
        default_pod(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        obj["spec"] = old.get("spec")
        meta, old_meta = obj["metadata"], old.get("metadata") or {}
        for key in ("ownerReferences", "deletionTimestamp", "generation"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        status = obj.setdefault("status", {})
        old_status = old.get("status") or {}
        if not status.get("qosClass") and old_status.get("qosClass"):
            status["qosClass"] = old_status["qosClass"]
        if not status.get("observedGeneration") and old_status.get("observedGeneration"):
            status["observedGeneration"] = old_status["observedGeneration"]

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_pod_status_update(obj, old)

    def warnings_on_update(self, obj: Obj, old: Obj) -> list[str]:
        out: list[str] = []
        status = obj.get("status") or {}
        for key in ("podIPs", "hostIPs"):
            for i, ip in enumerate(status.get(key) or ()):
                out.extend(names.ip_warnings(Path("status", key).index(i).child("ip"), ip.get("ip", "")))
        return out


class PodEphemeralContainersStrategy(Strategy):
    """``pods/ephemeralcontainers``: only ``spec.ephemeralContainers`` is taken from the request."""

    def __init__(self, main: PodStrategy) -> None:
        self.main = main

    def default(self, obj: Obj) -> None:
        default_pod(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        eph = (obj.get("spec") or {}).get("ephemeralContainers")
        obj["spec"] = spec = dict(old.get("spec") or {})
        if eph:
            spec["ephemeralContainers"] = eph
        else:
            spec.pop("ephemeralContainers", None)
        if "status" in old:
            obj["status"] = old["status"]
        meta, old_meta = obj["metadata"], old.get("metadata") or {}
        for key in ("labels", "annotations", "ownerReferences", "deletionTimestamp", "finalizers"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        gen = old_meta.get("generation", 1)
        if not semantic_equal(spec, old.get("spec")):
            gen += 1
        meta["generation"] = gen

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_ephemeral_containers_update(obj, old)


class PodBindingStrategy(Strategy):
    """``pods/binding`` as an update of the pod: :func:`bind_pod` already did the checks; nothing else may change."""

    def __init__(self, main: PodStrategy) -> None:
        self.main = main

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []
