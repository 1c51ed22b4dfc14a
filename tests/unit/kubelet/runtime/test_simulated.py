"""The simulated runtime: what containers do, sandboxes and IPs, stop semantics, exit events."""

from __future__ import annotations

import asyncio

import pytest

from pybernetes.client.clock import FakeClock
from pybernetes.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ImagePullFailure,
    NotSupported,
    PodSandboxConfig,
    SandboxFailure,
)
from pybernetes.kubelet.runtime.simulated import Behaviour, SimulatedRuntime, behaviour_of, image_ref


def cfg(image: str = "nginx:1.19", command: tuple[str, ...] = (), args: tuple[str, ...] = (),
        init: bool = False) -> ContainerConfig:
    return ContainerConfig(name="c", image=image, command=command, args=args, init=init)


@pytest.mark.parametrize(("config", "policy", "expected"), [
    (cfg(), "Always", Behaviour(None)),
    (cfg("registry.example.com/team/failing-app:1"), "Always", Behaviour(1, 0.5)),
    (cfg(command=("false",)), "Always", Behaviour(1, 0.5)),
    (cfg(command=("/bin/true",)), "Always", Behaviour(0, 0.5)),
    (cfg(command=("sleep", "30")), "Always", Behaviour(0, 30.0)),
    (cfg(command=("sleep",), args=("infinity",)), "Always", Behaviour(None)),
    (cfg(command=("sh", "-c", "sleep 5; exit 3")), "Always", Behaviour(3, 5.0)),
    (cfg(command=("/bin/sh", "-c"), args=("echo hi && sleep 2",)), "Always", Behaviour(0, 2.0)),
    (cfg(command=("bash", "-c", "while true; do sleep 1; done")), "Always", Behaviour(None)),
    (cfg(command=("sh", "-c", "tail -f /dev/null")), "Always", Behaviour(None)),
    (cfg(command=("sh", "-c", "exit")), "Always", Behaviour(0, 0.5)),
    (cfg(command=("nginx", "-g", "daemon off;")), "Always", Behaviour(None)),
    (cfg(command=("perl", "-Mbignum=bpi", "-wle", "print bpi(2000)")), "Never", Behaviour(0, 0.5)),
    (cfg(command=("perl", "-e", "1")), "OnFailure", Behaviour(0, 0.5)),
    (cfg(init=True), "Always", Behaviour(0, 0.5)),
])
def test_behaviour(config: ContainerConfig, policy: str, expected: Behaviour) -> None:
    assert behaviour_of(config, restart_policy=policy) == expected


def test_image_ref_is_stable_and_digest_shaped() -> None:
    a = image_ref("nginx:1.19.1")
    assert a == image_ref("docker.io/library/nginx:1.19.1")
    assert a.name == "docker.io/library/nginx:1.19.1"
    assert a.id.startswith("docker.io/library/nginx@sha256:") and len(a.id.split(":")[-1]) == 64
    assert image_ref("nginx:1.21").id != a.id
    with pytest.raises(ImagePullFailure):
        image_ref("Bad:Name")


def sandbox(uid: str = "u1", node: str = "n1", cidr: str = "10.42.1.0/24", hint: str = "",
            restart: str = "Always") -> PodSandboxConfig:
    return PodSandboxConfig(name="p", namespace="ns", uid=uid, node_name=node, pod_cidr=cidr, ip_hint=hint,
                            pod={"spec": {"restartPolicy": restart}})


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_sandbox_ips_per_node_and_release() -> None:
    rt = SimulatedRuntime(clock=FakeClock())
    a = await rt.run_pod_sandbox(sandbox("u1"))
    b = await rt.run_pod_sandbox(sandbox("u2"))
    c = await rt.run_pod_sandbox(sandbox("u3", node="n2", cidr="10.42.2.0/24"))
    assert (a.ips, b.ips, c.ips) == (("10.42.1.2",), ("10.42.1.3",), ("10.42.2.2",))
    d = await rt.run_pod_sandbox(sandbox("u4", hint="10.42.1.77"))
    assert d.ips == ("10.42.1.77",)
    await rt.remove_pod_sandbox(a.id)
    assert rt.counts() == {"sandboxes": 3, "containers": 0, "ips": 3}
    assert {s.pod_uid for s in await rt.list_pod_sandboxes()} == {"u2", "u3", "u4"}
    with pytest.raises(SandboxFailure, match="no pod CIDR"):
        await rt.run_pod_sandbox(sandbox("u5", cidr=""))
    full = SimulatedRuntime(clock=FakeClock())
    await full.run_pod_sandbox(sandbox("x", cidr="10.0.0.0/30"))
    with pytest.raises(SandboxFailure, match="no IP addresses available"):
        await full.run_pod_sandbox(sandbox("y", cidr="10.0.0.0/30"))


async def test_container_lifecycle_and_exit_event() -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(clock=clock)
    events: list[str] = []
    rt.subscribe(events.append)
    sb = await rt.run_pod_sandbox(sandbox())
    cid = await rt.create_container(sb.id, cfg(command=("sh", "-c", "sleep 3; exit 2")))
    st = await rt.container_status(cid)
    assert st is not None and st.state == ContainerState.CREATED and st.image == "docker.io/library/nginx:1.19"
    await rt.start_container(cid)
    clock.advance(2.9)
    await settle()
    assert (await rt.container_status(cid)).state == ContainerState.RUNNING   # type: ignore[union-attr]
    clock.advance(0.2)
    await settle()
    st = await rt.container_status(cid)
    assert st is not None and (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 2, "Error")
    assert events == ["u1"]
    assert [i.name for i in await rt.list_images(node="n1")] == ["docker.io/library/nginx:1.19"]


@pytest.mark.parametrize(("timeout", "code", "waited"), [(30, 0, 0.2), (0.1, 137, 0.1), (0, 137, 0.0)])
async def test_stop_within_or_past_the_grace_period(timeout: float, code: int, waited: float) -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(clock=clock, stop_delay=0.2)
    sb = await rt.run_pod_sandbox(sandbox())
    cid = await rt.create_container(sb.id, cfg())
    await rt.start_container(cid)
    stop = asyncio.ensure_future(rt.stop_container(cid, timeout))
    await settle()
    if waited:
        assert not stop.done()
        clock.advance(waited)
        await settle()
    assert stop.done()
    st = await rt.container_status(cid)
    assert st is not None and st.exit_code == code and st.state == ContainerState.EXITED


async def test_pull_failure_and_streaming_is_not_supported() -> None:
    rt = SimulatedRuntime(clock=FakeClock())
    with pytest.raises(ImagePullFailure, match="not found"):
        await rt.pull_image("example.com/nonexistent:1", sandbox=sandbox())
    assert await rt.image_status("example.com/nonexistent:1") is None
    assert (await rt.pull_image("busybox", sandbox=sandbox())).name == "docker.io/library/busybox:latest"
    with pytest.raises(NotSupported):
        await rt.exec_sync("x", ["ls"], timeout=1)
    assert await rt.container_log_path("x") == ""


async def test_ten_thousand_pods_are_cheap() -> None:
    import tracemalloc
    rt = SimulatedRuntime(clock=FakeClock())
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(10_000):
        sb = await rt.run_pod_sandbox(sandbox(f"u{i}", node=f"n{i // 100}", cidr=f"10.42.{i // 100}.0/24"))
        cid = await rt.create_container(sb.id, cfg())
        await rt.start_container(cid)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert rt.counts() == {"sandboxes": 10_000, "containers": 10_000, "ips": 10_000}
    assert used < 40 * 1024 * 1024, used        # a few KiB per pod
