"""Deployment defaults, validation and generation, against what a 1.33 API server stores and answers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from pybernetes.api.errors import Invalid
from pybernetes.api.kinds.deployment import DeploymentStrategy

S = DeploymentStrategy()


def deployment(**spec: Any) -> dict[str, Any]:
    base = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
    }
    base["spec"].update(spec)
    return base


def created(obj: dict[str, Any]) -> dict[str, Any]:
    S.default(obj)
    S.prepare_for_create(obj)
    return obj


def messages(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_defaults_match_a_real_cluster() -> None:
    d = created(deployment())
    spec = d["spec"]
    assert {k: v for k, v in spec.items() if k not in ("template", "selector")} == {
        "replicas": 1,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Always" and pod["dnsPolicy"] == "ClusterFirst"
    assert d["metadata"]["generation"] == 1
    assert d["status"] == {}
    assert S.validate(d) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"replicas": 0}, {"replicas": 0}),
    ({"strategy": {"type": "Recreate"}}, {"strategy": {"type": "Recreate"}}),
    ({"strategy": {"rollingUpdate": {"maxSurge": 1}}},
     {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}}),
    ({"revisionHistoryLimit": 0, "progressDeadlineSeconds": 30},
     {"revisionHistoryLimit": 0, "progressDeadlineSeconds": 30}),
])
def test_given_values_are_kept(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    d = created(deployment(**spec))
    for k, v in expected.items():
        assert d["spec"][k] == v


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        *head, last = path.split(".")
        cur = obj
        for k in head:
            cur = cur.setdefault(k, {})
        if value is _DELETE:
            cur.pop(last, None)
        else:
            cur[last] = value
    return apply


_DELETE = object()

CASES = [
    ("selector missing", _set("spec.selector", _DELETE), [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"]),
    ("labels do not match", _set("spec.template.metadata.labels", {"app": "other"}), [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        "`selector` does not match template `labels`"]),
    ("empty selector", _set("spec.selector", {}), [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]),
    ("negative replicas", _set("spec.replicas", -1), [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    ("both zero", _set("spec.strategy", {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}), [
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0']),
    ("over 100%", _set("spec.strategy", {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "110%"}}), [
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "110%": must not be greater than 100%']),
    ("bad percent", _set("spec.strategy", {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxSurge": "x%", "maxUnavailable": 1}}), [
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"x%\": a valid percent string must be a numeric "
        "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"]),
    ("recreate with rollingUpdate", _set("spec.strategy", {"type": "Recreate", "rollingUpdate": {}}), [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
    ("restartPolicy", _set("spec.template.spec.restartPolicy", "Never"), [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']),
    ("deadline", _set("spec.template.spec.activeDeadlineSeconds", 5), [
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"]),
    ("progress deadline", _set("spec.minReadySeconds", 600), [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_common_mistakes(name: str, mutate: Callable[[dict[str, Any]], None], expected: list[str]) -> None:
    d = created(deployment())
    mutate(d)
    assert messages(S.validate(d)) == expected


def test_invalid_status_message_reads_like_kubectl() -> None:
    d = created(deployment())
    del d["spec"]["selector"]
    err = Invalid("Deployment", "apps", "web", S.validate(d))
    assert err.message == (
        'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: '
        'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`]')


def test_selector_is_immutable() -> None:
    old = created(deployment())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "a"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "a"
    assert messages(S.validate_update(new, old)) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"a"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]


@pytest.mark.parametrize(("change", "generation"), [
    (lambda d: d["spec"].__setitem__("replicas", 3), 2),
    (lambda d: d["metadata"].__setitem__("annotations", {"kubernetes.io/change-cause": "undo"}), 2),
    (lambda d: d["metadata"].__setitem__("labels", {"x": "y"}), 1),
    (lambda d: d.__setitem__("status", {"replicas": 5}), 1),
])
def test_generation_moves_on_spec_and_annotation_changes(change: Callable[[dict[str, Any]], None],
                                                         generation: int) -> None:
    old = created(deployment())
    old["status"] = {"observedGeneration": 1}
    new = copy.deepcopy(old)
    change(new)
    S.default(new)
    S.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == generation
    assert new["status"] == {"observedGeneration": 1}          # status only changes through /status


def test_status_update_rules() -> None:
    old = created(deployment())
    old["status"] = {"replicas": 2, "collisionCount": 3}
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 3, "collisionCount": 1}
    status = S.status_strategy()
    status.prepare_for_update(new, old)
    assert messages(status.validate_update(new, old)) == [
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
        "status.availableReplicas: Invalid value: 3: cannot be greater than status.replicas",
        "status.availableReplicas: Invalid value: 3: cannot be greater than readyReplicas",
        "status.collisionCount: Invalid value: 1: cannot be decremented",
    ]


@pytest.mark.parametrize(("name", "warned"), [("web", False), ("web.v1", True)])
def test_name_warning(name: str, warned: bool) -> None:
    d = created(deployment())
    d["metadata"]["name"] = name
    warnings = S.warnings_on_create(d)
    assert bool(warnings) == warned
    if warned:
        assert warnings[0].startswith("metadata.name: this is used in Pod names and hostnames, which can result in "
                                      "surprising behavior; a DNS label is recommended: [")
