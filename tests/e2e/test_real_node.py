"""A real node: ``pybernetes agent`` without ``--simulated`` against a real server, running pods as real
containers from the project's test images (pulled from a local registry through ``--registry-config``), and a
restarted agent adopting the containers it left running.

Needs root and the Debian packages of ``tools/install-deps.sh``; outside CI a missing prerequisite skips, in CI
it fails. The node reports 127.0.0.1 as its InternalIP (``--node-ip``), so the API server reaches its kubelet on
loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e import ocihelpers as h
from tests.harness import Server, start_server

from pybernetes.kubelet.runtime.oci.shimclient import ShimClient
from pybernetes.testing import images as ti

pytestmark = pytest.mark.e2e
NODE = "e2e-real-node"
BRIDGE = "pyb0"


@dataclass
class Node:
    server: Server
    data_dir: Path
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.data_dir / "agent.log", "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"the agent did not stop on signal {sig} within 30s:\n{self.log()}") from None

    def log(self) -> str:
        return (self.data_dir / "agent.log").read_text(errors="replace")[-4000:]

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.server.kubectl(*args, "-o", "json").stdout)


def wait_for(check: Callable[[], Any], *, timeout: float = 60, what: str = "", node: Node | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except AssertionError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {last}\n" + (node.log() if node else ""))


@contextlib.contextmanager
def running_node(base: Path) -> Iterator[Node]:
    """A server and a real node agent (NODE, kubelet on a free port, the test registry) under ``base``; on exit
    the agent is stopped, its containers and pod volumes removed, and the CNI bridge deleted if it made it."""
    h.require_node_prerequisites()
    had_bridge = os.path.exists(f"/sys/class/net/{BRIDGE}")
    reg_gen = h.registry_fixture(base)
    registry = next(reg_gen)
    srv = start_server(base / "server")
    data = base / "agent"
    data.mkdir()
    argv = [sys.executable, "-m", "pybernetes", "agent", "--server", srv.url, "--token", srv.token,
            "--data-dir", str(data), "--node-name", NODE, "--node-ip", "127.0.0.1",
            "--kubelet-port", str(ti.free_port()), "--registry-config", str(registry.registries_yaml)]
    n = Node(server=srv, data_dir=data, argv=argv)
    n.start()
    try:
        yield n
    finally:
        try:
            if n.proc is not None and n.proc.poll() is None:
                n.kill(signal.SIGTERM)
        finally:
            h.cleanup_root(data / "runtime")
            h.unmount_under(data)                   # pod volumes (tmpfs) the agent left mounted
            srv.stop()
            next(reg_gen, None)
            if not had_bridge and os.path.exists(f"/sys/class/net/{BRIDGE}"):
                subprocess.run(["ip", "link", "delete", BRIDGE], check=False)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(tmp_path_factory.mktemp("realnode")) as n:
        yield n


def shim_records(node: Node) -> list[dict[str, Any]]:
    async def get() -> list[dict[str, Any]]:
        c = ShimClient(node.data_dir / "runtime" / "shim.sock")
        try:
            return await c.list()
        finally:
            await c.close()
    return asyncio.run(get())


def ready(node: Node) -> dict[str, Any]:
    obj = node.kubectl_json("get", "node", NODE)
    conds = {c["type"]: c["status"] for c in obj["status"].get("conditions", [])}
    assert conds.get("Ready") == "True", conds
    return obj


def pod_status(node: Node, ns: str, name: str) -> dict[str, Any]:
    return node.kubectl_json("get", "pod", name, "-n", ns)["status"]


def running(node: Node, ns: str, name: str) -> dict[str, Any]:
    st = pod_status(node, ns, name)
    assert st.get("phase") == "Running" and all(cs.get("ready") for cs in st.get("containerStatuses", ())), st
    return st


def test_the_node_reports_this_machine(node: Node) -> None:
    obj = wait_for(lambda: ready(node), what="the node to be Ready", node=node)
    info = obj["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("crun://1.")
    assert info["osImage"] and info["kernelVersion"] == os.uname().release
    cap = obj["status"]["capacity"]
    assert cap["cpu"] == str(len(os.sched_getaffinity(0))) and cap["pods"] == "110"
    assert cap["memory"].endswith("Ki") and int(cap["memory"][:-2]) > 0
    assert {"type": "InternalIP", "address": "127.0.0.1"} in obj["status"]["addresses"]


def test_a_restarted_agent_adopts_its_running_containers(node: Node) -> None:
    wait_for(lambda: ready(node), what="the node to be Ready", node=node)
    srv, ns = node.server, "adopt"
    srv.kubectl("create", "namespace", ns)
    srv.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleeper"},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False,
                 "containers": [{
            "name": "app", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "command": ["sh", "-c", "echo started $POD; exec sleep 100000"]}]}}))
    before = wait_for(lambda: running(node, ns, "sleeper"), timeout=120, what="the pod to run", node=node)
    (cs,) = before["containerStatuses"]
    cid = cs["containerID"]
    assert cid.startswith("crun://") and cs["restartCount"] == 0
    assert cs["imageID"].startswith("docker.io/library/busybox@sha256:")
    rec = next(r for r in shim_records(node) if r["id"] == cid.split("://")[1])
    pid = rec["pid"]
    assert wait_for(lambda: "started sleeper" in srv.kubectl("logs", "sleeper", "-n", ns).stdout,
                    what="kubectl logs", node=node)

    node.kill(signal.SIGKILL)
    assert os.path.exists(f"/proc/{pid}"), "the container died with the agent"
    node.start()
    wait_for(lambda: ready(node), what="the node to be Ready again", node=node)
    time.sleep(3)                                   # let the new agent sync the pod
    after = wait_for(lambda: running(node, ns, "sleeper"), what="the pod to stay running", node=node)
    (cs2,) = after["containerStatuses"]
    assert (cs2["containerID"], cs2["restartCount"]) == (cid, 0)
    assert after["podIP"] == before["podIP"]
    apps = [r for r in shim_records(node) if r["meta"].get("kind") == "container"
            and r["meta"].get("pod_uid") == rec["meta"]["pod_uid"]]
    assert [r["id"] for r in apps] == [cid.split("://")[1]] and os.path.exists(f"/proc/{pid}")

    srv.kubectl("delete", "pod", "sleeper", "-n", ns, "--wait=true", timeout=120)
    assert not any(r["meta"].get("pod_uid") == rec["meta"]["pod_uid"] for r in shim_records(node))
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), what="the container process to end")


def test_a_failing_container_is_restarted_with_its_exit_code(node: Node) -> None:
    wait_for(lambda: ready(node), what="the node to be Ready", node=node)
    srv, ns = node.server, "crash"
    srv.kubectl("create", "namespace", ns)
    srv.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crasher"},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False,
                 "containers": [{
            "name": "app", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", "echo failing; exit 3"]}]}}))

    def restarted() -> dict[str, Any]:
        (cs,) = pod_status(node, ns, "crasher").get("containerStatuses") or [{}]
        term = (cs.get("lastState") or {}).get("terminated") or {}
        assert cs.get("restartCount", 0) >= 1 and term.get("exitCode") == 3, cs
        return cs

    cs = wait_for(restarted, timeout=120, what="a restart", node=node)
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    srv.kubectl("delete", "pod", "crasher", "-n", ns, "--wait=true", timeout=120)
