from __future__ import annotations

import copy

from pybernetes.api.kinds.node import NodeStrategy

from .helpers import create, errors, update

S = NodeStrategy()


def node(**spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}, "spec": dict(spec),
            "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}


def test_create_keeps_status_and_defaults() -> None:
    out, errs = create(S, node(podCIDR="10.42.0.0/24"))
    assert errs == []
    assert out["spec"]["podCIDRs"] == ["10.42.0.0/24"]
    assert out["status"]["allocatable"] == {"cpu": "2", "memory": "4Gi", "pods": "110"}


def test_pod_cidr_set_once() -> None:
    old, _ = create(S, node())
    assigned = copy.deepcopy(old)
    assigned["spec"]["podCIDRs"] = ["10.42.1.0/24"]
    out, errs = update(S, assigned, old)
    assert errs == []
    assert out["spec"]["podCIDR"] == "10.42.1.0/24"
    changed = copy.deepcopy(out)
    changed["spec"]["podCIDRs"] = ["10.42.2.0/24"]
    changed["spec"].pop("podCIDR")
    _, errs = update(S, changed, out)
    assert errors(errs) == ['spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']


def test_taints() -> None:
    _, errs = create(S, node(taints=[{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"},
                                     {"key": "x", "effect": "Sometimes"}, {"key": "y"}]))
    msgs = errors(errs)
    assert msgs[0].startswith("spec.taints[1]: Duplicate value:")
    assert msgs[0].endswith("taints must be unique by key and effect pair")
    assert msgs[1] == ('spec.taints[2].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", '
                       '"PreferNoSchedule", "NoExecute"')
    assert msgs[2] == "spec.taints[3].effect: Required value"


def test_status_strategy_keeps_spec() -> None:
    old, _ = create(S, node(unschedulable=True))
    new = copy.deepcopy(old)
    new["spec"] = {}
    new["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    out, errs = update(S.status_strategy(), new, old)
    assert errs == []
    assert out["spec"] == {"unschedulable": True}
    assert out["status"]["conditions"][0]["type"] == "Ready"
