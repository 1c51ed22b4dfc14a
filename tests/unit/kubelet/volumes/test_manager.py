"""The volume manager against a fake API (no tmpfs): layout, every supported kind, refresh, PVCs, teardown."""

from __future__ import annotations

import base64
import datetime
import os
import pathlib
from typing import Any

import pytest

from pybernetes.client.clock import FakeClock
from pybernetes.kubelet.volumes.atomic import read_payload
from pybernetes.kubelet.volumes.localpath import cleanup_path, remove_volume_dir
from pybernetes.kubelet.volumes.manager import VolumeError, VolumeManager
from pybernetes.kubelet.volumes.tokens import TokenManager

Obj = dict[str, Any]


class FakeAPI:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.cms: dict[tuple[str, str], Obj] = {}
        self.secrets: dict[tuple[str, str], Obj] = {}
        self.pvcs: dict[tuple[str, str], Obj] = {}
        self.pvs: dict[str, Obj] = {}
        self.tokens = 0

    async def configmap(self, namespace: str, name: str) -> Obj | None:
        return self.cms.get((namespace, name))

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get((namespace, name))

    async def pvc(self, namespace: str, name: str) -> Obj | None:
        return self.pvcs.get((namespace, name))

    async def pv(self, name: str) -> Obj | None:
        return self.pvs.get(name)

    async def request_token(self, namespace: str, service_account: str, body: Obj) -> Obj:
        self.tokens += 1
        exp = self.clock.now() + datetime.timedelta(seconds=body["spec"]["expirationSeconds"])
        return {"status": {"token": f"token-{self.tokens}", "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}


@pytest.fixture
def setup(tmp_path: pathlib.Path) -> tuple[VolumeManager, FakeAPI, FakeClock]:
    clock = FakeClock()
    api = FakeAPI(clock)
    tokens = TokenManager(api.request_token, clock=clock)
    return VolumeManager(root=tmp_path / "pods", api=api, tokens=tokens, tmpfs=False,
                         allocatable={"memory": "1Gi"}), api, clock


def pod(*volumes: Obj) -> Obj:
    return {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"serviceAccountName": "default", "volumes": list(volumes),
                     "containers": [{"name": "c"}]}}


SA_VOLUME = {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}


async def test_kinds_and_layout(setup: tuple, tmp_path: pathlib.Path) -> None:
    vm, api, _ = setup
    api.cms[("shop", "cfg")] = {"data": {"app.conf": "v1"}}
    api.cms[("shop", "kube-root-ca.crt")] = {"data": {"ca.crt": "PEM"}}
    api.secrets[("shop", "s")] = {"data": {"k": base64.b64encode(b"secret").decode()}}
    host = tmp_path / "host" / "dir"
    p = pod({"name": "scratch", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}},
            {"name": "info", "downwardAPI": {"items": [{"path": "labels",
                                                        "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            {"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}}, SA_VOLUME)
    paths = await vm.setup(p)
    base = tmp_path / "pods" / "u-1" / "volumes"
    assert paths == {"scratch": str(base / "kubernetes.io~empty-dir" / "scratch"),
                     "cfg": str(base / "kubernetes.io~configmap" / "cfg"),
                     "sec": str(base / "kubernetes.io~secret" / "sec"),
                     "info": str(base / "kubernetes.io~downward-api" / "info"),
                     "host": str(host),
                     "kube-api-access-abcde": str(base / "kubernetes.io~projected" / "kube-api-access-abcde")}
    assert (os.stat(paths["scratch"]).st_mode & 0o777) == 0o777
    assert read_payload(paths["cfg"]) == {"app.conf": b"v1"}
    assert read_payload(paths["sec"]) == {"k": b"secret"}
    assert (os.stat(pathlib.Path(paths["sec"]) / "k").st_mode & 0o777) == 0o400
    assert read_payload(paths["info"]) == {"labels": b'app="web"'}
    assert read_payload(paths["kube-api-access-abcde"]) == {"ca.crt": b"PEM", "namespace": b"shop",
                                                            "token": b"token-1"}
    assert host.is_dir()
    assert await vm.setup(p) == paths                             # idempotent


async def test_refresh_propagates_updates_and_rotates_tokens(setup: tuple) -> None:
    vm, api, clock = setup
    api.cms[("shop", "cfg")] = {"data": {"a": "1"}}
    api.cms[("shop", "kube-root-ca.crt")] = {"data": {"ca.crt": "PEM"}}
    p = pod({"name": "cfg", "configMap": {"name": "cfg"}}, SA_VOLUME)
    paths = await vm.setup(p)
    assert await vm.refresh(p) == 0
    api.cms[("shop", "cfg")] = {"data": {"a": "2", "b": "3"}}
    assert await vm.refresh(p) == 1
    assert read_payload(paths["cfg"]) == {"a": b"2", "b": b"3"}
    clock.advance(0.81 * 3607)
    assert await vm.refresh(p) == 1
    assert read_payload(paths["kube-api-access-abcde"])["token"] == b"token-2"
    del api.cms[("shop", "cfg")]                                 # a failing refresh keeps the old files
    assert await vm.refresh(p) == 0
    assert read_payload(paths["cfg"]) == {"a": b"2", "b": b"3"}


@pytest.mark.parametrize(("volume", "message"), [
    ({"name": "cfg", "configMap": {"name": "missing"}}, 'MountVolume.SetUp failed for volume "cfg" : configmap '
                                                        '"missing" not found'),
    ({"name": "h", "hostPath": {"path": "/nonexistent-pyb", "type": "Directory"}},
     'MountVolume.SetUp failed for volume "h" : hostPath type check failed: /nonexistent-pyb is not a directory'),
    ({"name": "c", "persistentVolumeClaim": {"claimName": "nope"}},
     'persistentvolumeclaim "nope" not found'),
    ({"name": "c", "persistentVolumeClaim": {"claimName": "pending"}}, "error processing PVC shop/pending: PVC is "
                                                                       "not bound"),
    ({"name": "x", "nfs": {"server": "s", "path": "/"}}, "volume type 'nfs' is not supported on this node"),
])
async def test_errors(setup: tuple, volume: Obj, message: str) -> None:
    vm, api, _ = setup
    api.pvcs[("shop", "pending")] = {"spec": {}, "status": {"phase": "Pending"}}
    with pytest.raises(VolumeError) as info:
        await vm.setup(pod(volume))
    assert message in str(info.value)
    assert info.value.volume == volume["name"]


async def test_pvc_to_local_path_volume(setup: tuple, tmp_path: pathlib.Path) -> None:
    vm, api, _ = setup
    path = tmp_path / "storage" / "pvc-1_shop_data"
    api.pvcs[("shop", "data")] = {"spec": {"volumeName": "pvc-1"}, "status": {"phase": "Bound"}}
    api.pvs["pvc-1"] = {"metadata": {"name": "pvc-1"},
                        "spec": {"hostPath": {"path": str(path), "type": "DirectoryOrCreate"}}}
    paths = await vm.setup(pod({"name": "d", "persistentVolumeClaim": {"claimName": "data"}}))
    assert paths == {"d": str(path)} and path.is_dir()
    api.pvs["pvc-1"] = {"metadata": {"name": "pvc-1"}, "spec": {"local": {"path": str(tmp_path / "nope")}}}
    with pytest.raises(VolumeError, match="does not exist"):
        await vm.setup(pod({"name": "d", "persistentVolumeClaim": {"claimName": "data"}}))


async def test_teardown_removes_pod_dir(setup: tuple, tmp_path: pathlib.Path) -> None:
    vm, _, _ = setup
    await vm.setup(pod({"name": "scratch", "emptyDir": {}}))
    assert list(vm.known_pods()) == ["u-1"]
    await vm.teardown("u-1")
    assert not (tmp_path / "pods" / "u-1").exists()
    await vm.teardown("u-1")


def local_pv(path: str, *, node: str = "node-1", policy: str = "Delete") -> Obj:
    return {"metadata": {"name": "pvc-1", "annotations": {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}},
            "spec": {"persistentVolumeReclaimPolicy": policy, "hostPath": {"path": path, "type": "DirectoryOrCreate"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}


@pytest.mark.parametrize(("pv", "expected"), [
    (local_pv("/base/pvc-1_ns_c"), "/base/pvc-1_ns_c"),
    (local_pv("/base/pvc-1_ns_c", node="other"), None),
    (local_pv("/base/pvc-1_ns_c", policy="Retain"), None),
    (local_pv("/elsewhere/pvc-1"), None),
    (local_pv("/base/../etc"), None),
    (local_pv("/base"), None),
    ({"metadata": {"name": "x"}, "spec": {"hostPath": {"path": "/base/x"}}}, None),
])
def test_local_path_cleanup_path(pv: Obj, expected: str | None) -> None:
    assert cleanup_path(pv, hostname="node-1", base="/base") == expected


async def test_local_path_removal(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "pvc-1_ns_c"
    (d / "sub").mkdir(parents=True)
    assert await remove_volume_dir(local_pv(str(d)), hostname="node-1", base=str(tmp_path))
    assert not d.exists()


async def test_fs_group_ownership(setup: tuple) -> None:
    vm, api, _ = setup
    gid = os.getgid()
    api.secrets[("shop", "s")] = {"data": {"k": base64.b64encode(b"x").decode()}}
    api.cms[("shop", "kube-root-ca.crt")] = {"data": {"ca.crt": "PEM"}}
    p = pod({"name": "scratch", "emptyDir": {}}, {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}},
            SA_VOLUME)
    p["spec"]["securityContext"] = {"fsGroup": gid}
    paths = await vm.setup(p)
    scratch = os.stat(paths["scratch"])
    assert scratch.st_gid == gid and scratch.st_mode & 0o7777 == 0o2777
    secret = os.stat(pathlib.Path(paths["sec"]) / "k")
    assert secret.st_gid == gid and secret.st_mode & 0o777 == 0o440          # 0400 + group read
    token = pathlib.Path(paths["kube-api-access-abcde"]) / "token"
    assert os.stat(token).st_mode & 0o777 == 0o640                          # tokens 0600 + group read
    assert os.stat(pathlib.Path(paths["kube-api-access-abcde"]) / "ca.crt").st_mode & 0o777 == 0o644


async def test_local_path_directories_are_world_writable(setup: tuple, tmp_path: pathlib.Path) -> None:
    vm, api, _ = setup
    path = tmp_path / "storage" / "pvc-2_shop_data"
    api.pvcs[("shop", "data")] = {"spec": {"volumeName": "pvc-2"}, "status": {"phase": "Bound"}}
    api.pvs["pvc-2"] = {"metadata": {"name": "pvc-2", "annotations": {
        "pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}},
        "spec": {"hostPath": {"path": str(path), "type": "DirectoryOrCreate"}}}
    await vm.setup(pod({"name": "d", "persistentVolumeClaim": {"claimName": "data"}}))
    assert os.stat(path).st_mode & 0o777 == 0o777
