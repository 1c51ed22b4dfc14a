"""A real node passes a pod's imagePullSecrets to the image pull as a keyring (``ContainerStarter.pull_auth``)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pybernetes.kubelet.backoff import Backoff
from pybernetes.kubelet.containers import ContainerStarter
from pybernetes.kubelet.images.config import Keyring
from pybernetes.kubelet.runtime.interface import ImagePullFailure, ImageRef, PodSandboxConfig
from pybernetes.kubelet.runtime.simulated import SimulatedRuntime

Obj = dict[str, Any]


def docker_secret(name: str, registry: str, user: str, password: str) -> Obj:
    cfg = {"auths": {registry: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}
    return {"metadata": {"name": name, "namespace": "ns"}, "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(json.dumps(cfg).encode()).decode()}}


class Objects:
    def __init__(self, *secrets: Obj) -> None:
        self.secrets = {s["metadata"]["name"]: s for s in secrets}

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get(name) if namespace == "ns" else None


class Setup:
    def __init__(self, objects: Objects) -> None:
        self.objects = objects


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        self.seen.append((type_, reason, message))


class Runtime(SimulatedRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.auths: list[Any] = []

    async def pull_image(self, image: str, *, sandbox: PodSandboxConfig, auth: Any = None) -> ImageRef:
        self.auths.append(auth)
        return await super().pull_image(image, sandbox=sandbox, auth=None)

    async def image_status(self, image: str, *, node: str = "") -> ImageRef | None:
        return None


def pod(*secrets: str) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"imagePullSecrets": [{"name": s} for s in secrets], "containers": [{"name": "c", "image": "x"}]}}


def starter(runtime: Runtime, objects: Objects | None) -> ContainerStarter:
    return ContainerStarter(runtime, backoff=Backoff(), setup=Setup(objects) if objects else None)  # type: ignore[arg-type]


async def test_pull_secrets_become_a_keyring() -> None:
    objects = Objects(docker_secret("reg", "registry.example.com", "alice", "s3cret"))
    keyring = await starter(Runtime(), objects).pull_auth(pod("reg"), Events())
    assert isinstance(keyring, Keyring)
    (cred,) = keyring.lookup("registry.example.com/team/app:1")
    assert (cred.username, cred.password) == ("alice", "s3cret")
    assert keyring.lookup("docker.io/library/nginx:latest") == ()


async def test_the_pull_gets_the_keyring_and_missing_secrets_are_reported() -> None:
    rt, events = Runtime(), Events()
    objects = Objects(docker_secret("reg", "registry.example.com", "alice", "pw"))
    sandbox = PodSandboxConfig(name="p", namespace="ns", uid="u", node_name="n")
    p = pod("reg", "gone")
    c = {"name": "c", "image": "registry.example.com/a:1", "imagePullPolicy": "Always"}
    ref, _ = await starter(rt, objects).ensure_image(p, c, False, sandbox, events, {})
    assert ref is not None and isinstance(rt.auths[0], Keyring)
    assert ("Warning", "FailedToRetrieveImagePullSecret",
            "Unable to retrieve some image pull secrets (gone); attempting to pull the image may not succeed.") \
        in events.seen


@pytest.mark.parametrize("objects", [None, Objects()])
async def test_no_secrets_no_auth(objects: Objects | None) -> None:
    assert await starter(Runtime(), objects).pull_auth(pod(), Events()) is None
    if objects is None:                      # simulated nodes never read secrets
        assert await starter(Runtime(), objects).pull_auth(pod("reg"), Events()) is None


async def test_a_secret_that_is_not_docker_config_fails_the_pull() -> None:
    bad = {"metadata": {"name": "bad", "namespace": "ns"}, "type": "kubernetes.io/dockerconfigjson",
           "data": {".dockerconfigjson": base64.b64encode(b"not json").decode()}}
    with pytest.raises(ImagePullFailure, match="bad"):
        await starter(Runtime(), Objects(bad)).pull_auth(pod("bad"), Events())
