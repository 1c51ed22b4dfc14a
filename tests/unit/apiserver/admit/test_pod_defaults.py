"""ServiceAccount admission's token volume (upstream plugin/pkg/admission/serviceaccount)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from pybernetes.apiserver.admit.pod_defaults import (
    TOKEN_MOUNT_PATH,
    mount_service_account_token,
    should_automount,
    token_volume_source,
)

Obj = dict[str, Any]
MOUNT = {"readOnly": True, "mountPath": TOKEN_MOUNT_PATH}


def pod(**spec: Any) -> Obj:
    base: Obj = {"serviceAccountName": "default", "containers": [{"name": "a"}, {"name": "b"}]}
    base.update(spec)
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": base}


def test_adds_volume_and_mounts() -> None:
    p = pod(initContainers=[{"name": "init"}])
    mount_service_account_token(p, service_account={"metadata": {"name": "default"}})
    (vol,) = p["spec"]["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", vol["name"])
    assert vol["projected"] == token_volume_source()
    assert vol["projected"]["sources"][0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    for c in (*p["spec"]["initContainers"], *p["spec"]["containers"]):
        assert c["volumeMounts"] == [{"name": vol["name"], **MOUNT}]


def test_existing_mount_path_and_volume_are_respected() -> None:
    p = pod(volumes=[{"name": "mine", "emptyDir": {}}])
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]
    mount_service_account_token(p, service_account=None)
    names = [v["name"] for v in p["spec"]["volumes"]]
    assert names[0] == "mine" and names[1].startswith("kube-api-access-")
    assert p["spec"]["containers"][0]["volumeMounts"] == [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]
    assert p["spec"]["containers"][1]["volumeMounts"] == [{"name": names[1], **MOUNT}]
    again = copy.deepcopy(p)
    for c in again["spec"]["containers"]:
        c.pop("volumeMounts")
    mount_service_account_token(again, service_account=None)          # the kube-api-access volume is reused
    assert [v["name"] for v in again["spec"]["volumes"]] == names


def test_every_container_already_mounting_means_no_volume() -> None:
    p = pod(containers=[{"name": "a", "volumeMounts": [{"name": "x", "mountPath": TOKEN_MOUNT_PATH}]}])
    mount_service_account_token(p, service_account=None)
    assert "volumes" not in p["spec"]


@pytest.mark.parametrize(("pod_value", "sa_value", "expected"), [
    (None, None, True), (False, None, False), (None, False, False), (True, False, True), (False, True, False),
    (None, True, True),
])
def test_should_automount(pod_value: bool | None, sa_value: bool | None, expected: bool) -> None:
    p = pod() if pod_value is None else pod(automountServiceAccountToken=pod_value)
    sa = {} if sa_value is None else {"automountServiceAccountToken": sa_value}
    assert should_automount(p, sa) is expected
    mount_service_account_token(p, service_account=sa)
    assert ("volumes" in p["spec"]) is expected


def test_mirror_pods_are_left_alone() -> None:
    p = pod()
    p["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    mount_service_account_token(p, service_account=None)
    assert "volumes" not in p["spec"]
