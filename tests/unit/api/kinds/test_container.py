"""validate_container_common remembers valid containers apart from their volume references, which it always checks."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.field import Path
from pybernetes.api.kinds.container import validate_container_common

BASE = {"name": "app", "image": "nginx", "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File",
        "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}
TOKEN = {"name": "kube-api-access-abcde", "projected": {"sources": []}}
PVC = {"name": "data", "persistentVolumeClaim": {"claimName": "d"}}


def _c(**extra: Any) -> dict[str, Any]:
    return {**BASE, **extra}


def _fields(c: dict[str, Any], volumes: dict[str, Any], **kw: Any) -> list[str]:
    kw.setdefault("claim_names", set())
    return [e.field for e in validate_container_common(c, Path("c"), volumes, **kw)]


MOUNT = {"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}


@pytest.mark.parametrize(("container", "volumes", "kw", "want"), [
    (_c(volumeMounts=[MOUNT]), {"kube-api-access-abcde": TOKEN}, {}, []),
    (_c(volumeMounts=[{**MOUNT, "name": "kube-api-access-zzzzz"}]), {"kube-api-access-abcde": TOKEN}, {},
     ["c.volumeMounts[0].name"]),
    (_c(volumeMounts=[MOUNT, MOUNT]), {"kube-api-access-abcde": TOKEN}, {}, ["c.volumeMounts[1].mountPath"]),
    (_c(volumeMounts=[{**MOUNT, "mountPropagation": "Bidirectional"}]), {"kube-api-access-abcde": TOKEN}, {},
     ["c.volumeMounts.mountPropagation"]),
    (_c(volumeDevices=[{"name": "kube-api-access-abcde", "devicePath": "/dev/x"}]),
     {"kube-api-access-abcde": TOKEN}, {}, ["c.volumeDevices[0].name"]),
    (_c(volumeDevices=[{"name": "data", "devicePath": "/dev/x"}]), {"data": PVC}, {}, []),
    (_c(securityContext={"procMount": "Unmasked"}), {}, {}, ["c.securityContext.procMount"]),
    (_c(securityContext={"procMount": "Unmasked"}), {}, {"host_users": False}, []),
    (_c(securityContext={"procMount": "Unmasked"}), {}, {"host_users": True}, ["c.securityContext.procMount"]),
    (_c(resources={"claims": [{"name": "gpu"}]}), {}, {"claim_names": {"gpu"}}, []),
    (_c(resources={"claims": [{"name": "gpu"}]}), {}, {"claim_names": {"other"}}, ["c.resources.claims[0].name"]),
    (_c(imagePullPolicy="Sometimes"), {}, {}, ["c.imagePullPolicy"]),
])
def test_container_checked_again_gives_the_same_errors(container: dict[str, Any], volumes: dict[str, Any],
                                                       kw: dict[str, Any], want: list[str]) -> None:
    for _ in range(2):
        assert _fields(container, volumes, **kw) == want


def test_a_remembered_container_still_checks_its_mounts() -> None:
    c = _c(volumeMounts=[MOUNT])
    assert _fields(c, {"kube-api-access-abcde": TOKEN}) == []
    assert _fields(c, {}) == ["c.volumeMounts[0].name"]                 # same container, volume gone
    assert _fields(c, {"kube-api-access-abcde": TOKEN}) == []
