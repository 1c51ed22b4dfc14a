"""Shared workload helpers, ControllerRevision, and the registration of every non-core strategy."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds import STRATEGIES
from pybernetes.api.kinds.apps import ControllerRevisionStrategy, Sel, go_label_selector, selector_kind
from pybernetes.api.kinds.fieldchecks import (
    int_or_percent_value,
    is_decremented,
    positive_int_or_percent,
)
from pybernetes.api.resources import BUILTIN


def test_every_non_core_builtin_kind_has_its_strategy() -> None:
    for r in BUILTIN:
        if r.group in ("", "authentication.k8s.io", "authorization.k8s.io"):
            continue
        assert (r.group, r.kind) in STRATEGIES, (r.group, r.kind)
        s = STRATEGIES[(r.group, r.kind)]
        assert s.has_status_subresource == any(sub.name == "status" for sub in r.subresources), r.kind


@pytest.mark.parametrize(("sel", "kind"), [
    (None, Sel.NOTHING), ({}, Sel.EVERYTHING), ({"matchLabels": {}}, Sel.EVERYTHING),
    ({"matchLabels": {"a": "b"}}, Sel.OK), ({"matchExpressions": [{"key": "a", "operator": "Bad"}]}, Sel.BAD),
])
def test_selector_kinds(sel: Any, kind: Sel) -> None:
    assert selector_kind(sel)[0] is kind


def test_go_label_selector() -> None:
    assert str(go_label_selector({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]})) == (
        "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{"
        'v1.LabelSelectorRequirement{Key:"tier", Operator:"In", Values:[]string{"a", "b"}}}}')
    assert go_label_selector(None) is None


@pytest.mark.parametrize(("value", "number"), [("25%", 25), (3, 3), ("7", 7), ("x", 0), (None, 0)])
def test_int_or_percent_value(value: Any, number: int) -> None:
    assert int_or_percent_value(value) == number


@pytest.mark.parametrize(("value", "ok"), [("0%", True), (0, True), ("25%", True), (-1, False), ("25", False),
                                           ("%", False)])
def test_positive_int_or_percent(value: Any, ok: bool) -> None:
    assert (positive_int_or_percent(value, "p") == []) == ok


@pytest.mark.parametrize(("new", "old", "dec"), [(1, 2, True), (None, 2, True), (2, 2, False), (1, None, False)])
def test_is_decremented(new: int | None, old: int | None, dec: bool) -> None:
    assert is_decremented(new, old) == dec


def test_controller_revision() -> None:
    s = ControllerRevisionStrategy()
    rev = {"metadata": {"name": "web-5d8f"}, "data": {"spec": {"template": {}}}, "revision": 1}
    assert s.validate(rev) == []
    assert [str(e) for e in s.validate({"revision": -1})] == [
        "data: Required value: data is mandatory", "revision: Invalid value: -1: must be greater than or equal to 0"]
    new = copy.deepcopy(rev)
    new["data"] = {"spec": {}}
    assert [e.field for e in s.validate_update(new, rev)] == ["data"]
    new = copy.deepcopy(rev)
    new["revision"] = 3
    assert s.validate_update(new, rev) == []


@pytest.mark.parametrize(("group", "kind", "status"), [
    ("apps", "Deployment", {}),
    ("apps", "ReplicaSet", {"replicas": 0}),
    ("apps", "StatefulSet", {"replicas": 0, "availableReplicas": 0}),
    ("apps", "DaemonSet", {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                           "numberReady": 0}),
    ("batch", "Job", {}),
    ("autoscaling", "HorizontalPodAutoscaler", {"desiredReplicas": 0, "currentMetrics": None}),
    ("networking.k8s.io", "Ingress", {"loadBalancer": {}}),
    ("storage.k8s.io", "VolumeAttachment", {"attached": False}),
])
def test_create_stores_the_zero_status_a_real_server_stores(group: str, kind: str, status: dict[str, Any]) -> None:
    obj: dict[str, Any] = {"metadata": {"name": "x", "uid": "u"}, "spec": {}, "status": {"replicas": 7}}
    strategy = STRATEGIES[(group, kind)]
    strategy.prepare_for_create(obj)
    assert obj["status"] == status
    other: dict[str, Any] = {"metadata": {"name": "y", "uid": "v"}, "spec": {}}
    strategy.prepare_for_create(other)
    assert other["status"] is not obj["status"] or status == {}

