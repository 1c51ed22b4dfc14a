"""Pure DaemonSet helpers: tolerations, node pinning, placement predicates, surge handling, update plans."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.controllers import daemonset_util as du

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ds(strategy: Obj | None = None, **template_spec: Any) -> Obj:
    body: Obj = {"metadata": {"name": "d", "namespace": "ns", "annotations": {du.TEMPLATE_GENERATION_ANNOTATION: "2"}},
                 "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": template_spec}}}
    if strategy is not None:
        body["spec"]["updateStrategy"] = strategy
    return body


def node(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {}}


def pod(name: str, node_name: str, hash_: str, *, ready: bool = True, created: str = "2026-01-01T00:00:00Z") -> Obj:
    return {"metadata": {"name": name, "labels": {"controller-revision-hash": hash_}, "creationTimestamp": created},
            "spec": {"nodeName": node_name},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_tolerations_are_added_once_and_replace_equal_ones() -> None:
    spec: Obj = {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                  "effect": "NoSchedule", "tolerationSeconds": None}, {"key": "mine"}]}
    du.add_daemon_tolerations(spec)
    du.add_daemon_tolerations(spec)
    keys = [t.get("key") for t in spec["tolerations"]]
    assert keys.count("node.kubernetes.io/unschedulable") == 1 and "mine" in keys and len(keys) == 7


def test_pin_to_node_replaces_required_terms_only() -> None:
    spec: Obj = {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}}}
    du.pin_to_node(spec, "n7")
    na = spec["affinity"]["nodeAffinity"]
    assert na["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]
    assert na["preferredDuringSchedulingIgnoredDuringExecution"]
    assert du.target_node({"spec": spec}) == "n7"


@pytest.mark.parametrize(("template_spec", "labels", "want"), [
    ({}, {}, (True, True)),
    ({"nodeSelector": {"disk": "ssd"}}, {"disk": "hdd"}, (False, False)),
    ({"nodeName": "other"}, {}, (False, False)),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}]}]}}}}, {"zone": "a"},
     (True, True)),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {}]}}}}, {}, (False, False)),
])
def test_should_run(template_spec: Obj, labels: dict[str, str], want: tuple[bool, bool]) -> None:
    assert du.should_run(node("n1", labels), ds(**template_spec)) == want


def test_pod_template_labels_generation_and_hash() -> None:
    t = du.pod_template(ds(), "h1")
    assert t["metadata"]["labels"] == {"a": "b", "pod-template-generation": "2", "controller-revision-hash": "h1"}
    assert du.is_pod_updated({"metadata": {"labels": {"pod-template-generation": "2"}}}, "other", 2)


def test_surge_keeps_old_until_new_available() -> None:
    d = ds({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    old, new = pod("old", "n1", "h0"), pod("new", "n1", "h1", ready=False, created="2026-01-01T00:01:00Z")
    create, delete = du.pods_on_node(node("n1"), [old, new], d, "h1", NOW, failed_pod=lambda p: True)
    assert (create, delete) == (False, [])
    new["status"]["conditions"][0]["status"] = "True"
    assert du.pods_on_node(node("n1"), [old, new], d, "h1", NOW, failed_pod=lambda p: True) == (False, [old])
    # Without surge the youngest extra pod goes at once.
    plain = ds()
    assert du.pods_on_node(node("n1"), [old, new], plain, "h1", NOW, failed_pod=lambda p: True) == (False, [new])


def test_rolling_update_plans() -> None:
    nodes = [node(f"n{i}") for i in range(4)]
    pods = {f"n{i}": [pod(f"p{i}", f"n{i}", "h0")] for i in range(4)}
    pods["n3"][0]["status"]["conditions"][0]["status"] = "False"          # unavailable old pod
    d = ds({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "maxSurge": 0}})
    delete, create = du.rolling_update_plan(d, nodes, {k: list(v) for k, v in pods.items()}, "h1", NOW)
    assert [p["metadata"]["name"] for p in delete] == ["p3", "p0"] and create == []
    s = ds({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "50%"}})
    delete, create = du.rolling_update_plan(s, nodes, {k: list(v) for k, v in pods.items()}, "h1", NOW)
    assert delete == [] and create == ["n3", "n0", "n1"]                 # unavailable n3 plus 2 surge nodes


def test_compute_status_counts_misscheduled() -> None:
    d = ds(nodeSelector={"x": "y"})
    counters = du.compute_status(d, [node("n1", {"x": "y"}), node("n2")],
                                 {"n1": [pod("a", "n1", "h")], "n2": [pod("b", "n2", "h")]}, "h", NOW)
    assert counters == {"currentNumberScheduled": 1, "numberMisscheduled": 1, "desiredNumberScheduled": 1,
                        "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1, "numberUnavailable": 0}
