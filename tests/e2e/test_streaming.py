"""Logs, exec, cp, attach and port-forward with real containers: a real node (``pybernetes agent`` on the OCI
runtime, images from the project's local registry) behind a real server, driven by the real kubectl 1.27 … 1.33
and the official Python client — the textbook nginx Pod of issue 4's "done means".

Needs root and the Debian packages of ``tools/install-deps.sh`` (outside CI a missing prerequisite skips, in CI
it fails). The node's InternalIP is 127.0.0.1, so the API server reaches the kubelet on loopback only.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.terminal import terminal_session
from tests.e2e.test_real_node import NODE, Node, ready, running, running_node, wait_for
from tests.harness import kubectl_binary

pytestmark = pytest.mark.e2e
NS = "streaming"
# No ServiceAccount token volume: it needs the kube-root-ca.crt ConfigMap, whose publisher is not started yet.
BASE_SPEC = {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(tmp_path_factory.mktemp("streamnode")) as n:
        srv = n.server
        wait_for(lambda: ready(n), what="the node to be Ready", node=n)
        srv.kubectl("create", "namespace", NS)
        pods = [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "labels": {"app": "web"}},
             "spec": {**BASE_SPEC, "containers": [{
                 "name": "nginx", "image": "nginx:latest", "ports": [{"containerPort": 80}]}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "box"},
             "spec": {**BASE_SPEC, "containers": [{
                 "name": "box", "image": "busybox:latest", "stdin": True,
                 "command": ["sh", "-c", "echo started; echo to stderr >&2; "
                                         "while read l; do echo got $l; done; exec sleep 100000"]}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crasher"},
             "spec": {**BASE_SPEC, "containers": [{
                 "name": "app", "image": "busybox:latest",
                 "command": ["sh", "-c", "echo attempt $(cat /proc/uptime); exit 3"]}]}},
        ]
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}}
        for p in [*pods, service]:
            srv.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(p))
        for name in ("nginx", "box"):
            wait_for(lambda name=name: running(n, NS, name), timeout=120, what=f"{name} to run", node=n)
        yield n


def kubectl_cmd(node: Node, version: str | None, *args: str) -> list[str]:
    srv = node.server
    return [kubectl_binary(version), "--kubeconfig", str(srv.kubeconfig), "--cache-dir",
            str(srv.data_dir / f"kubectl-cache-{version or 'default'}"), *args]


def env(node: Node) -> dict[str, str]:
    return {**os.environ, "HOME": str(node.server.data_dir)}


@pytest.mark.parametrize("version", ["1.27", "1.32", "1.33"])
def test_exec_ls_in_nginx(node: Node, version: str) -> None:
    p = node.server.kubectl("exec", "nginx", "-n", NS, "--", "ls", "/", version=version)
    assert {"etc", "usr", "proc"} <= set(p.stdout.split())


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_exec_exit_codes_and_stdin(node: Node, version: str) -> None:
    srv = node.server
    p = srv.kubectl("exec", "box", "-n", NS, "--", "sh", "-c", "echo out; echo err >&2; exit 3", version=version,
                    check=False)
    assert (p.returncode, p.stdout) == (3, "out\n")
    assert p.stderr == "err\ncommand terminated with exit code 3\n"
    p = srv.kubectl("exec", "-i", "box", "-n", NS, "--", "sh", "-c", "tr a-z A-Z", version=version,
                    input="from stdin\n")
    assert p.stdout == "FROM STDIN\n"
    p = srv.kubectl("exec", "box", "-n", NS, "--", "no-such-command", version=version, check=False)
    assert p.returncode != 0


@pytest.mark.parametrize("version", ["1.27", "1.32"])
def test_exec_interactive_terminal(node: Node, version: str) -> None:
    out, code = terminal_session(kubectl_cmd(node, version, "exec", "-it", "box", "-n", NS, "--", "sh"), env(node),
                                 rows=29, cols=97, conversation=[(b"#", b"stty size; echo $((6*7))\n"),
                                                                 (b"42", b"exit 5\n")])
    assert b"29 97" in out, out
    assert code == 5, out


@pytest.mark.parametrize("version", ["1.27", None])
def test_cp_to_and_from_a_container(node: Node, tmp_path: Path, version: str | None) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(300_000))
    node.server.kubectl("cp", str(src), f"{NS}/box:/tmp/data.bin", version=version, timeout=120)
    back = tmp_path / "back.bin"
    node.server.kubectl("cp", f"{NS}/box:/tmp/data.bin", str(back), version=version, timeout=120)
    assert back.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_logs(node: Node, version: str) -> None:
    srv = node.server
    out = srv.kubectl("logs", "box", "-n", NS, version=version).stdout
    assert out.startswith("started\nto stderr\n")
    ts = srv.kubectl("logs", "box", "-n", NS, "--tail=1", "--timestamps", version=version).stdout
    stamp, _, line = ts.partition(" ")
    assert line.endswith("\n") and len(stamp) == len("2026-01-01T00:00:00.000000000Z") and stamp.endswith("Z")
    assert srv.kubectl("logs", "box", "-n", NS, "--since=1h", version=version).stdout.startswith("started")


def test_logs_previous_of_a_restarted_container(node: Node) -> None:
    srv = node.server

    def restarted() -> bool:
        st = node.kubectl_json("get", "pod", "crasher", "-n", NS)["status"]
        (cs,) = st.get("containerStatuses") or [{}]
        return cs.get("restartCount", 0) >= 1
    wait_for(restarted, timeout=120, what="a restart", node=node)
    prev = srv.kubectl("logs", "crasher", "-n", NS, "--previous").stdout
    assert prev.startswith("attempt ")


def test_logs_follow_sees_new_output(node: Node) -> None:
    """What attach sends comes back through ``logs -f --tail=0``. The follower only sees lines written after its
    stream opened, which kubectl does not announce: attach sends numbered lines until one arrives."""
    f = subprocess.Popen(kubectl_cmd(node, None, "logs", "-f", "box", "-n", NS, "--tail=0"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env(node))
    a = subprocess.Popen(kubectl_cmd(node, None, "attach", "-i", "box", "-n", NS), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(node))
    followed: queue.Queue[bytes] = queue.Queue()
    try:
        assert a.stdin is not None and a.stdout is not None and f.stdout is not None
        out = f.stdout
        threading.Thread(target=lambda: [followed.put(line) for line in out], daemon=True).start()
        deadline = time.monotonic() + 60
        sent = 0
        while True:
            sent += 1
            a.stdin.write(b"hello attach %d\n" % sent)
            a.stdin.flush()
            assert a.stdout.readline() == b"got hello attach %d\n" % sent      # attach: stdin in, output out
            try:
                line = followed.get(timeout=1)
                break
            except queue.Empty:
                assert time.monotonic() < deadline, f"logs -f showed nothing in 60 s: {f.poll()=}"
        number = line.removeprefix(b"got hello attach ").strip()
        assert line.startswith(b"got hello attach ") and 1 <= int(number) <= sent    # one line through the log file
    finally:
        for p in (a, f):
            p.terminate()
            p.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("version", ["1.27", "1.32", "1.33"])
def test_port_forward_to_nginx(node: Node, version: str) -> None:
    local = free_port()
    pf = subprocess.Popen(kubectl_cmd(node, version, "port-forward", "-n", NS, "pod/nginx", f"{local}:80"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(node))
    try:
        assert pf.stdout is not None
        assert pf.stdout.readline().startswith(f"Forwarding from 127.0.0.1:{local} -> 80")
        for _ in range(2):
            c = subprocess.run(["curl", "-sS", "-m", "20", f"http://127.0.0.1:{local}/"], capture_output=True,
                               text=True, timeout=30)
            assert "Welcome to nginx!" in c.stdout, c.stderr
    finally:
        pf.terminate()
        pf.wait(10)


def test_python_client_exec_and_port_forward(node: Node) -> None:
    from kubernetes import client
    from kubernetes.stream import portforward, stream
    api = client.CoreV1Api(node.server.client())
    out = stream(api.connect_get_namespaced_pod_exec, "nginx", NS, command=["cat", "/etc/hostname"], stderr=True,
                 stdin=False, stdout=True, tty=False)
    assert out.strip() == "nginx"
    ws = stream(api.connect_get_namespaced_pod_exec, "box", NS, command=["sh", "-c", "exit 4"], stderr=True,
                stdin=False, stdout=True, tty=False, _preload_content=False)
    ws.run_forever(timeout=30)
    assert ws.returncode == 4
    pf = portforward(api.connect_get_namespaced_pod_portforward, "nginx", NS, ports="80")
    sock = pf.socket(80)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: nginx\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK") and b"Welcome to nginx!" in data


def test_logs_and_status_reflect_http_traffic(node: Node) -> None:
    """nginx logs its requests to stdout: the port-forwarded requests above are in ``kubectl logs``."""
    logs = node.server.kubectl("logs", "nginx", "-n", NS).stdout
    assert '"GET / HTTP/1.1" 200' in logs
    st: dict[str, Any] = node.kubectl_json("get", "pod", "nginx", "-n", NS)["status"]
    assert st["phase"] == "Running"


def test_pod_and_service_proxy(node: Node) -> None:
    """``pods/nginx/proxy`` reaches the pod's IP; ``services/web:80/proxy`` a ready endpoint of the Service."""
    srv = node.server
    assert "Welcome to nginx!" in srv.kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/pods/nginx/proxy/").stdout
    assert "Welcome to nginx!" in srv.kubectl("get", "--raw",
                                              f"/api/v1/namespaces/{NS}/pods/http:nginx:80/proxy/index.html").stdout

    def through_service() -> str:
        p = srv.kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/services/web:80/proxy/", check=False)
        assert p.returncode == 0, p.stderr
        return p.stdout
    assert "Welcome to nginx!" in wait_for(through_service, timeout=60, what="the service's endpoints", node=node)
