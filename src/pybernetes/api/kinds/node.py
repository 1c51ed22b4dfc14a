"""The Node kind (upstream ``pkg/registry/core/node/strategy.go``, ``ValidateNode``/``ValidateNodeUpdate``).

Nodes are cluster-scoped and, unlike most kinds, may set status on create (the kubelet registers itself that
way). ``spec.podCIDR(s)`` and ``spec.providerID`` may be set once and never changed; taints must be unique per
key and effect. ``podCIDR`` mirrors ``podCIDRs[0]`` as upstream's v1 conversion does.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from pybernetes.api.field import FieldError, Path, duplicate, forbidden, invalid
from pybernetes.api.kinds.common import label_name
from pybernetes.api.kinds.pod_validation import validate_taint_effect
from pybernetes.api.kinds.resource_list import validate_resource_list
from pybernetes.api.strategy import ClusterStrategy, Obj, Strategy
from pybernetes.api.validation.names import label_value, valid_cidr

CIDR_CHANGE = 'node updates may not change podCIDR except from "" to valid'


def default_node(node: Obj) -> None:
    spec = node.get("spec")
    if isinstance(spec, dict):
        cidrs = spec.get("podCIDRs")
        if cidrs:
            spec["podCIDR"] = cidrs[0]
        elif spec.get("podCIDR"):
            spec["podCIDRs"] = [spec["podCIDR"]]
    status = node.get("status")
    if isinstance(status, dict) and status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = dict(status["capacity"])


def validate_taints(taints: list | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(taints or ()):
        ip = path.index(i)
        key, effect = t.get("key", ""), t.get("effect", "")
        errs.extend(label_name(key, ip.child("key")))
        msgs = label_value(t.get("value", ""))
        if msgs:
            errs.append(invalid(ip.child("value"), t.get("value", ""), ";".join(msgs)))
        errs.extend(validate_taint_effect(effect, ip.child("effect"), allow_empty=False))
        if (key, effect) in seen:
            e = duplicate(ip, t)
            errs.append(type(e)(e.type, e.field, e.value, "taints must be unique by key and effect pair"))
            continue
        seen.add((key, effect))
    return errs


def validate_node(node: Obj) -> list[FieldError]:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    errs: list[FieldError] = []
    for key in ("capacity", "allocatable"):
        if status.get(key):
            errs.extend(validate_resource_list(status[key], Path("status", key)))
    cidrs = spec.get("podCIDRs") or []
    cp = Path("spec", "podCIDRs")
    for i, c in enumerate(cidrs):
        errs.extend(invalid(cp.index(i), c, m) for m in valid_cidr(c))
    if len(cidrs) > 1 and not errs:
        families = {ipaddress.ip_network(c, strict=False).version for c in cidrs}
        if len(cidrs) > 2 or len(families) != 2:
            errs.append(invalid(cp, cidrs, "may specify no more than one CIDR for each IP family"))
    if spec.get("taints"):
        errs.extend(validate_taints(spec["taints"], Path("spec", "taints")))
    return errs


def validate_node_update(node: Obj, old: Obj) -> list[FieldError]:
    errs = validate_node(node)
    seen = []
    ap = Path("status", "addresses")
    for i, a in enumerate((node.get("status") or {}).get("addresses") or ()):
        if a in seen:
            errs.append(duplicate(ap.index(i), a))
        seen.append(a)
    spec, old_spec = node.get("spec") or {}, old.get("spec") or {}
    old_cidrs, cidrs = old_spec.get("podCIDRs") or [], spec.get("podCIDRs") or []
    if old_cidrs:
        if len(old_cidrs) != len(cidrs):
            errs.append(forbidden(Path("spec", "podCIDRs"), CIDR_CHANGE))
        else:
            errs.extend(forbidden(Path("spec", "podCIDRs"), CIDR_CHANGE)
                        for o, n in zip(old_cidrs, cidrs, strict=True) if o != n)
    if old_spec.get("providerID") and old_spec["providerID"] != spec.get("providerID"):
        errs.append(forbidden(Path("spec", "providerID"), 'node updates may not change providerID except from "" '
                                                          "to valid"))
    if spec.get("externalID", "") != old_spec.get("externalID", ""):
        errs.append(forbidden(Path("spec", "externalID"), "may not be updated"))
    return errs


class NodeStrategy(ClusterStrategy):
    has_status_subresource: ClassVar[bool] = True

    def default(self, obj: Obj) -> None:
        default_node(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        # Nodes may set every field, status included, on create; the kubelet registers that way.
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.pop("configSource", None)
        status = obj.get("status")
        if isinstance(status, dict):
            status.pop("config", None)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        spec = obj.get("spec")
        if isinstance(spec, dict) and not (old.get("spec") or {}).get("configSource"):
            spec.pop("configSource", None)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_node(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_node_update(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_node_update(obj, old)

    def status_strategy(self) -> Strategy:
        return NodeStatusStrategy(self)


class NodeStatusStrategy(ClusterStrategy):
    """``nodes/status``: the spec stays as stored; labels and annotations may change (the kubelet sets some)."""

    def __init__(self, main: NodeStrategy) -> None:
        self.main = main

    def default(self, obj: Obj) -> None:
        default_node(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        if "spec" in old:
            obj["spec"] = old["spec"]
        else:
            obj.pop("spec", None)
        status = obj.get("status")
        if isinstance(status, dict):
            status.pop("config", None)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_node_update(obj, old)
