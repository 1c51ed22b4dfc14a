"""``pybernetes server`` without ``--disable-agent`` runs a real node on this machine (as k3s does): the node
registers Ready with the runtime's version, a pod the scheduler places runs in a real container, and
``kubectl logs``/``exec`` reach it through the kubelet. The server forwards ``--registry-config`` and
``--node-ip`` to its agent.

Needs root and the Debian packages of ``tools/install-deps.sh``; outside CI a missing prerequisite skips, in CI
it fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e import ocihelpers as h
from tests.harness import READY, Server

pytestmark = pytest.mark.e2e
BRIDGE = "pyb0"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    h.require_node_prerequisites()
    base = tmp_path_factory.mktemp("servernode")
    had_bridge = os.path.exists(f"/sys/class/net/{BRIDGE}")
    reg_gen = h.registry_fixture(base)
    registry = next(reg_gen)
    data, kc = base / "data", base / "admin.kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "pybernetes", "server", "--data-dir", str(data), "--bind-address",
                             "127.0.0.1", "--port", "0", "--write-kubeconfig", str(kc), "--token", "t",
                             "--node-ip", "127.0.0.1", "--registry-config", str(registry.registries_yaml)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    url = ""
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not url:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if m := READY.search(line):
                url = m.group(1)
        assert url, "server did not start:\n" + "".join(lines)
        threading.Thread(target=lambda: [lines.append(x) for x in proc.stdout or ()], daemon=True).start()
        yield Server(data_dir=base, proc=proc, url=url, kubeconfig=kc, token="t", log=lines)
    finally:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        finally:
            h.cleanup_root(data / "agent" / "runtime")
            h.unmount_under(base)
            next(reg_gen, None)
            if not had_bridge and os.path.exists(f"/sys/class/net/{BRIDGE}"):
                subprocess.run(["ip", "link", "delete", BRIDGE], check=False)


def wait_for(server: Server, what: str, check: object, timeout: float = 90) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()  # type: ignore[operator]
            if last:
                return last
        except (AssertionError, KeyError, ValueError) as e:
            last = e
        time.sleep(0.3)
    agent_log = Path(server.data_dir / "data" / "logs").glob("agent*")
    raise AssertionError(f"timed out waiting for {what}: {last}\n" +
                         "\n".join(p.read_text(errors="replace")[-3000:] for p in agent_log))


def test_the_server_runs_a_real_node(server: Server) -> None:
    def node_ready() -> dict[str, object]:
        items = json.loads(server.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        (node,) = items
        conds = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conds["Ready"] == "True"
        return node

    node = wait_for(server, "the node", node_ready)
    assert isinstance(node, dict)
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("crun://")
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    server.kubectl("run", "hello", "--image=busybox:latest", "--restart=Never", "--overrides",
                   json.dumps({"spec": {"automountServiceAccountToken": False}}), "--",
                   "sh", "-c", "echo hello from $(hostname); sleep 1000")

    def running() -> bool:
        pod = json.loads(server.kubectl("get", "pod", "hello", "-o", "json").stdout)
        return pod["status"].get("phase") == "Running" and pod["spec"].get("nodeName") == node["metadata"]["name"]

    wait_for(server, "the pod to run", running)
    wait_for(server, "its log", lambda: "hello from hello" in server.kubectl("logs", "hello").stdout)
    out = server.kubectl("exec", "hello", "--", "sh", "-c", "cat /etc/hostname; id -u; ls /proc/1/cmdline").stdout
    assert re.fullmatch(r"hello\n0\n/proc/1/cmdline\n", out), out
    server.kubectl("delete", "pod", "hello", "--wait=true", "--grace-period=1", timeout=120)


def test_after_the_server_stops_shim_stop_takes_the_pods_down(server: Server) -> None:
    """Containers outlive the server (as k3s's do); ``pybernetes shim --stop`` is the node's "killall"."""
    server.kubectl("run", "stays", "--image=busybox:latest", "--restart=Never", "--overrides",
                   json.dumps({"spec": {"automountServiceAccountToken": False}}), "--", "sleep", "1000")
    wait_for(server, "the pod to run", lambda: json.loads(server.kubectl("get", "pod", "stays", "-o", "json").stdout)
             ["status"].get("phase") == "Running")
    root = server.data_dir / "data" / "agent" / "runtime"
    recs = [r for r in h.records.load_all(root / "containers") if r.meta.get("kind") == "sandbox"]
    assert len(recs) == 1
    netns, pid = recs[0].meta["netns"], recs[0].pid
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(30)
    assert h.exists(netns) and os.path.exists(f"/proc/{pid}")        # still running without the server
    out = subprocess.run([sys.executable, "-m", "pybernetes", "shim", "--root", str(root), "--socket",
                          str(root / "shim.sock"), "--stop"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "stopped 1 pod sandbox(es)" in out.stdout, out.stderr
    assert not h.exists(netns) and not os.path.exists(f"/proc/{pid}") and h.shim_pid(root) is None
