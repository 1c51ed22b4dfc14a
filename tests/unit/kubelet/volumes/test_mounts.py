"""volumeMounts → runtime mounts: subPath, subPathExpr, readOnly, propagation, escapes refused."""

from __future__ import annotations

import os
import pathlib

import pytest

from pybernetes.kubelet.env import ConfigError
from pybernetes.kubelet.runtime.interface import Mount
from pybernetes.kubelet.volumes.mounts import container_mounts, expand_sub_path


def pod(*volumes: dict) -> dict:
    return {"spec": {"volumes": list(volumes)}}


def test_mounts(tmp_path: pathlib.Path) -> None:
    data, cfg = tmp_path / "data", tmp_path / "cfg"
    data.mkdir()
    cfg.mkdir()
    p = pod({"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "x"}})
    c = {"name": "app", "volumeMounts": [
        {"name": "data", "mountPath": "/data"},
        {"name": "data", "mountPath": "/logs", "subPathExpr": "logs/$(POD_NAME)", "readOnly": True,
         "mountPropagation": "HostToContainer"},
        {"name": "cfg", "mountPath": "/etc/app"}]}
    got = container_mounts(p, c, {"data": str(data), "cfg": str(cfg)}, env=[("POD_NAME", "web-0")])
    assert got == (Mount("/data", str(data)),
                   Mount("/logs", str(data / "logs" / "web-0"), read_only=True, propagation="HostToContainer"),
                   Mount("/etc/app", str(cfg), read_only=True))          # configMap volumes are always read-only
    assert (data / "logs" / "web-0").is_dir()


def test_sub_path_file_through_symlinks(tmp_path: pathlib.Path) -> None:
    vol = tmp_path / "vol"
    (vol / "..2026").mkdir(parents=True)
    (vol / "..2026" / "app.conf").write_text("x")
    os.symlink("..2026", vol / "..data")
    os.symlink("..data/app.conf", vol / "app.conf")
    c = {"name": "app", "volumeMounts": [{"name": "v", "mountPath": "/etc/app.conf", "subPath": "app.conf"}]}
    (m,) = container_mounts(pod({"name": "v", "emptyDir": {}}), c, {"v": str(vol)})
    assert m.host_path == str(vol / "..2026" / "app.conf")


@pytest.mark.parametrize(("mount", "message"), [
    ({"name": "nope", "mountPath": "/x"}, 'cannot find volume "nope" to mount into container "app"'),
    ({"name": "v", "mountPath": "/x", "subPath": "/etc"}, "error SubPath `/etc` must not be an absolute path"),
    ({"name": "v", "mountPath": "/x", "subPath": "a/../../b"}, "must not contain '..'"),
    ({"name": "v", "mountPath": "/x", "subPath": "escape"},
     'failed to prepare subPath for volumeMount "v" of container "app"'),
    ({"name": "v", "mountPath": "/x", "subPathExpr": "$(MISSING)/$(EMPTY)"}, "missing value for EMPTY, MISSING"),
])
def test_errors(tmp_path: pathlib.Path, mount: dict, message: str) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    os.symlink("/etc", vol / "escape")
    with pytest.raises(ConfigError) as info:
        container_mounts(pod({"name": "v", "emptyDir": {}}), {"name": "app", "volumeMounts": [mount]},
                         {"v": str(vol)}, env=[("EMPTY", "")])
    assert message in str(info.value)


def test_expand_sub_path() -> None:
    assert expand_sub_path("$(A)/x/$$(B)", [("A", "a")]) == "a/x/$(B)"
