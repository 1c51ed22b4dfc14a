"""StatefulSet defaults, validation and the frozen-spec update rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.statefulset import FORBIDDEN_UPDATE, StatefulSetStrategy

S = StatefulSetStrategy()


def sts(**spec: Any) -> dict[str, Any]:
    base = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "pg", "image": "postgres"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}]},
    }
    base["spec"].update(spec)
    return base


def created(obj: dict[str, Any]) -> dict[str, Any]:
    S.default(obj)
    S.prepare_for_create(obj)
    return obj


def test_defaults_match_a_real_cluster() -> None:
    spec = created(sts())["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    assert spec["volumeClaimTemplates"] == [{
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"}}]
    assert list(spec["volumeClaimTemplates"][0])[:2] == ["apiVersion", "kind"]
    assert S.validate(created(sts())) == []


def test_on_delete_gets_no_rolling_update() -> None:
    spec = created(sts(updateStrategy={"type": "OnDelete"}))["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}


def test_max_unavailable_is_dropped_while_its_gate_is_alpha() -> None:
    d = created(sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}))
    assert d["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 0}


@pytest.mark.parametrize(("spec", "expected"), [
    ({"podManagementPolicy": "Sometimes"},
     ['spec.podManagementPolicy: Invalid value: "Sometimes": must be \'OrderedReady\' or \'Parallel\'']),
    ({"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 0}}},
     ['spec.updateStrategy.rollingUpdate: Invalid value: {"partition":0}: '
      "only allowed for updateStrategy 'RollingUpdate'"]),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}},
     ["spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"]),
    ({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep", "whenScaled": "Retain"}},
     ['spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: '
      '"Retain", "Delete"']),
    ({"ordinals": {"start": -2}}, ["spec.ordinals.start: Invalid value: -2: must be greater than or equal to 0"]),
    ({"selector": {"matchLabels": {"app": "other"}}},
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"db"}: '
      "`selector` does not match template `labels`"]),
    ({"selector": None},
     ["spec.selector: Required value",
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"db"}: '
      "`selector` does not match template `labels`"]),
])
def test_common_mistakes(spec: dict[str, Any], expected: list[str]) -> None:
    d = created(sts())
    d["spec"].update(spec)
    if d["spec"].get("selector", 0) is None:
        del d["spec"]["selector"]
    assert [str(e) for e in S.validate(d)] == expected


def test_restart_policy_and_deadline() -> None:
    d = created(sts())
    d["spec"]["template"]["spec"].update(restartPolicy="OnFailure", activeDeadlineSeconds=3)
    assert [str(e) for e in S.validate(d)] == [
        'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported"]


@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("replicas", 5, True),
    ("template", None, True),
    ("updateStrategy", {"type": "OnDelete"}, True),
    ("minReadySeconds", 10, True),
    ("ordinals", {"start": 3}, True),
    ("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Delete", "whenScaled": "Retain"}, True),
    ("serviceName", "other", False),
    ("podManagementPolicy", "Parallel", False),
    ("revisionHistoryLimit", 3, False),
    ("volumeClaimTemplates", [], False),
])
def test_only_some_fields_may_change(field: str, value: Any, allowed: bool) -> None:
    old = created(sts())
    new = copy.deepcopy(old)
    if field == "template":
        new["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:17"
    else:
        new["spec"][field] = value
    S.default(new)
    S.prepare_for_update(new, old)
    errs = [str(e) for e in S.validate_update(new, old)]
    assert errs == ([] if allowed else [f"spec: Forbidden: {FORBIDDEN_UPDATE}"])
    assert new["metadata"]["generation"] == 2


def test_forbidden_message_is_upstreams() -> None:
    assert FORBIDDEN_UPDATE == ("updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                                "'minReadySeconds' are forbidden")


def test_name_must_be_a_dns_label() -> None:
    assert S.name_fn is not None
    assert S.name_fn("db-0", False) == []
    assert S.name_fn("db.v1", False) != []


def test_status_rules() -> None:
    old = created(sts())
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 1}
    assert [str(e) for e in S.status_strategy().validate_update(new, old)] == [
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]
