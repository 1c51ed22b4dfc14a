"""Tables of apps/v1 workloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.tables.apps import PRINTERS, controller_name

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.21"}, {"name": "log", "image": "busybox"}]}}
SELECTOR = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In",
                                                                   "values": ["fe", "be"]}]}


def obj(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2025-03-01T11:57:57Z"},
            **fields}


def cells(kind: str, o: dict[str, Any]) -> list[Any]:
    return PRINTERS[("apps", kind)].cells(o, NOW)


def columns(kind: str) -> list[tuple[str, str, int]]:
    return [(c["name"], c["type"], c["priority"]) for c in PRINTERS[("apps", kind)].columns]


def test_deployment() -> None:
    d = obj(spec={"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
            status={"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2})
    assert cells("Deployment", d) == ["web", "2/3", 3, 2, "2m3s", "web,log", "nginx:1.21,busybox",
                                      "app=web,tier in (be,fe)"]
    assert cells("Deployment", obj(spec={"replicas": 1, "template": {}}, status={})) == [
        "web", "0/1", 0, 0, "2m3s", "", "", ""]
    bad = obj(spec={"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}})
    assert cells("Deployment", bad)[7] == "<invalid>"
    assert columns("Deployment") == [("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "string", 0),
                                     ("Available", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
                                     ("Images", "string", 1), ("Selector", "string", 1)]


def test_replica_set() -> None:
    rs = obj(spec={"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4"}},
                   "template": TEMPLATE}, status={"replicas": 3, "readyReplicas": 3})
    assert cells("ReplicaSet", rs) == ["web", 3, 3, 3, "2m3s", "web,log", "nginx:1.21,busybox",
                                       "app=web,pod-template-hash=5d4"]
    assert cells("ReplicaSet", obj(spec={"replicas": 0})) == ["web", 0, 0, 0, "2m3s", "", "", "<none>"]
    bad = obj(spec={"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}})
    assert cells("ReplicaSet", bad)[7] == "<error>"
    assert [t for _, t, _ in columns("ReplicaSet")][1:4] == ["integer"] * 3


def test_stateful_set() -> None:
    ss = obj(spec={"replicas": 2, "template": TEMPLATE}, status={"readyReplicas": 1})
    assert cells("StatefulSet", ss) == ["web", "1/2", "2m3s", "web,log", "nginx:1.21,busybox"]
    assert columns("StatefulSet") == [("Name", "string", 0), ("Ready", "string", 0), ("Age", "string", 0),
                                      ("Containers", "string", 1), ("Images", "string", 1)]


def test_daemon_set() -> None:
    template = {"spec": {**TEMPLATE["spec"], "nodeSelector": {"kubernetes.io/os": "linux"}}}
    ds = obj(spec={"selector": {"matchLabels": {"app": "fluentd"}}, "template": template},
             status={"desiredNumberScheduled": 4, "currentNumberScheduled": 4, "numberReady": 3,
                     "updatedNumberScheduled": 4, "numberAvailable": 3})
    assert cells("DaemonSet", ds) == ["web", 4, 4, 3, 4, 3, "kubernetes.io/os=linux", "2m3s", "web,log",
                                      "nginx:1.21,busybox", "app=fluentd"]
    assert cells("DaemonSet", obj(spec={"template": TEMPLATE}))[1:7] == [0, 0, 0, 0, 0, "<none>"]
    assert [n for n, _, _ in columns("DaemonSet")] == ["Name", "Desired", "Current", "Ready", "Up-to-date",
                                                       "Available", "Node Selector", "Age", "Containers", "Images",
                                                       "Selector"]


@pytest.mark.parametrize(("refs", "want"), [
    ([{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd", "controller": True}],
     "daemonset.apps/fluentd"),
    ([{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": False},
      {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}], "statefulset.apps/db"),
    ([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "controller": True}], "configmap/c"),
    ([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"}], "<none>"),
    ([], "<none>"),
])
def test_controller_name(refs: list[dict[str, Any]], want: str) -> None:
    o = obj()
    o["metadata"]["ownerReferences"] = refs
    assert controller_name(o) == want


def test_controller_revision() -> None:
    cr = obj(revision=3, data={})
    cr["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
                                          "controller": True, "uid": "u"}]
    assert cells("ControllerRevision", cr) == ["web", "statefulset.apps/db", 3, "2m3s"]
