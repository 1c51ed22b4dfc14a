"""DaemonSet defaults, validation, generation and the template-generation annotation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.daemonset import TEMPLATE_GENERATION, DaemonSetStrategy

S = DaemonSetStrategy()


def ds(**spec: Any) -> dict[str, Any]:
    base = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "a", "image": "busybox"}]}}}}
    base["spec"].update(spec)
    return base


def created(obj: dict[str, Any]) -> dict[str, Any]:
    S.default(obj)
    S.prepare_for_create(obj)
    return obj


def test_defaults_and_template_generation() -> None:
    d = created(ds())
    assert d["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert d["metadata"]["annotations"] == {TEMPLATE_GENERATION: "1"}
    assert d["metadata"]["generation"] == 1
    assert S.validate(d) == []


@pytest.mark.parametrize(("change", "generation", "template_generation"), [
    (lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "busybox:2"), 2, "2"),
    (lambda d: d["spec"].__setitem__("minReadySeconds", 5), 2, "1"),
    (lambda d: d["metadata"]["annotations"].__setitem__(TEMPLATE_GENERATION, "9"), 1, "1"),
])
def test_generations(change: Any, generation: int, template_generation: str) -> None:
    old = created(ds())
    new = copy.deepcopy(old)
    change(new)
    S.default(new)
    S.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == generation
    assert new["metadata"]["annotations"][TEMPLATE_GENERATION] == template_generation


@pytest.mark.parametrize(("strategy", "expected"), [
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
     ["spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"]),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
     ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]),
    ({"type": "Sometimes"},
     ['spec.updateStrategy: Unsupported value: {"type":"Sometimes"}: supported values: "RollingUpdate", "OnDelete"']),
])
def test_update_strategy_rules(strategy: dict[str, Any], expected: list[str]) -> None:
    d = created(ds())
    d["spec"]["updateStrategy"] = strategy
    assert [str(e) for e in S.validate(d)] == expected


def test_absent_selector_reports_only_the_label_mismatch_like_upstream() -> None:
    d = created(ds())
    del d["spec"]["selector"]
    assert [str(e) for e in S.validate(d)] == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"agent"}: '
        "`selector` does not match template `labels`"]


def test_selector_immutable() -> None:
    old = created(ds())
    new = copy.deepcopy(old)
    new["spec"]["selector"]["matchLabels"]["x"] = "y"
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert [e.field for e in S.validate_update(new, old)] == ["spec.selector"]
