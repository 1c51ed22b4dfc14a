"""Logs, exec, attach, cp and port-forward with the real kubectl (1.27 … 1.33) and the official Python client,
through a real API server to a kubelet streaming server.

The kubelet side runs in the test process: the real :class:`~pybernetes.kubelet.server.KubeletServer` (TLS, the
cluster's client CA fetched from the API server with the join token) over the host-process runtime double of
``tests/kubelet_double.py`` — it tests the transport, every protocol each client version speaks; the e2e tests do
the same against real containers. The API server runs without scheduler and controllers so nothing else touches
the node and pods the tests declare (bound with ``spec.nodeName``; their status written as a kubelet would).
"""

from __future__ import annotations

import asyncio
import fcntl
import http.server
import json
import os
import pathlib
import pty
import secrets
import select
import socket
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pybernetes.kubelet.runtime.interface import ContainerState
from pybernetes.kubelet.server import KubeletServer, fetch_client_ca
from tests.harness import Server, kubectl_binary, start_server
from tests.kubelet_double import HostRuntime, PodTable, running_status

pytestmark = pytest.mark.integration
Obj = dict[str, Any]
NODE = "stream-node"


class Node:
    """The kubelet of one test node, served from a background event loop."""

    def __init__(self, server: Server, root: pathlib.Path) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runtime = HostRuntime(root / "runtime")
        self.pods = PodTable()
        server_ca = (server.data_dir / "tls" / "server-ca.crt").read_bytes()

        async def start() -> KubeletServer:
            client_ca = await fetch_client_ca(server.url, token=server.token, server_ca=server_ca)
            k = KubeletServer(runtime=self.runtime, pods=self.pods, data_dir=root / "agent", client_ca=client_ca,
                              port=0, bind_address="127.0.0.1")
            await k.start()
            return k

        self.kubelet = self.call(start())
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}, "status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet.port}}}}
        server.kubectl("create", "-f", "-", input=json.dumps(node))

    def call(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.runtime.stop())
        self.call(self.kubelet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)

    def add_pod(self, ns: str, name: str, containers: tuple[str, ...] = ("main",), *,
                labels: dict[str, str] | None = None, previous: tuple[str, ...] = (),
                ports: tuple[int, ...] = ()) -> dict[str, str]:
        """Create a pod bound to this node and "run" it: one double container per name (ids returned), a
        terminated previous instance for the names in ``previous``, status Running written to the API."""
        spec = {"nodeName": NODE, "containers": [
            {"name": c, "image": "busybox", "ports": [{"containerPort": p} for p in ports]} for c in containers]}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns,
                                                               "labels": labels or {}}, "spec": spec}
        self.server.kubectl("create", "-f", "-", input=json.dumps(pod))
        pod = json.loads(self.server.kubectl("get", "pod", name, "-n", ns, "-o", "json").stdout)
        sandbox = f"sb-{ns}-{name}"
        ids = {c: f"{name}-{c}-{secrets.token_hex(3)}" for c in containers}
        last = {c: f"{name}-{c}-old" for c in previous}
        for c, cid in last.items():
            self.runtime.add_container(cid, c, sandbox, attempt=0, state=ContainerState.EXITED)
        for c, cid in ids.items():
            self.runtime.add_container(cid, c, sandbox, attempt=1 if c in last else 0)
        status = running_status(pod, ids, last=last)
        self.server.kubectl("patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p",
                            json.dumps({"status": status}))
        self.pods.put(pod, status, sandbox)
        return ids

    def served(self, key: str) -> int:
        return self.kubelet.served[key]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Node]]:
    root = pathlib.Path(tmp_path_factory.mktemp("streaming"))
    srv = start_server(root / "server", "--disable-controller-manager", "--disable-scheduler")
    node = Node(srv, root)
    try:
        yield srv, node
    finally:
        node.stop()
        assert srv.stop() == 0, "".join(srv.log[-50:])


@pytest.fixture()
def ns(cluster: tuple[Server, Node], request: pytest.FixtureRequest) -> str:
    srv, _ = cluster
    name = "s-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"{name}-{secrets.token_hex(2)}"
    srv.create_namespace(name)         # with its default ServiceAccount and kube-root-ca.crt
    return name


def env(srv: Server) -> dict[str, str]:
    return {**os.environ, "HOME": str(srv.data_dir)}


def kubectl_cmd(srv: Server, version: str | None, *args: str) -> list[str]:
    return [kubectl_binary(version), "--kubeconfig", str(srv.kubeconfig), "--cache-dir",
            str(srv.data_dir / f"kubectl-cache-{version or 'default'}"), *args]


# ------------------------------------------------------------------ exec
@pytest.mark.parametrize("version,transport", [("1.27", "spdy/v4.channel.k8s.io"),
                                               ("1.28", "spdy/v4.channel.k8s.io"),
                                               ("1.29", "spdy/v5.channel.k8s.io"),
                                               ("1.30", "websocket/v5.channel.k8s.io"),
                                               ("1.31", "websocket/v5.channel.k8s.io"),
                                               ("1.32", "websocket/v5.channel.k8s.io"),
                                               ("1.33", "websocket/v5.channel.k8s.io")])
def test_exec_output_and_exit_code(cluster: tuple[Server, Node], ns: str, version: str, transport: str) -> None:
    srv, node = cluster
    node.add_pod(ns, "p")
    before = node.served(f"exec/{transport}")
    p = srv.kubectl("exec", "p", "-n", ns, "--", "sh", "-c", "echo hi; echo err >&2; exit 3", version=version,
                    check=False)
    assert p.returncode == 3, p.stderr
    assert p.stdout == "hi\n"
    assert p.stderr == "err\ncommand terminated with exit code 3\n"
    assert node.served(f"exec/{transport}") == before + 1, node.kubelet.served
    p = srv.kubectl("exec", "p", "-n", ns, "--", "ls", version=version)
    assert p.returncode == 0


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_exec_with_stdin(cluster: tuple[Server, Node], ns: str, version: str) -> None:
    srv, node = cluster
    node.add_pod(ns, "p")
    p = srv.kubectl("exec", "-i", "p", "-n", ns, "--", "sh", "-c", "tr a-z A-Z; echo done", version=version,
                    input="hello stdin\nsecond line\n")
    assert p.stdout == "HELLO STDIN\nSECOND LINE\ndone\n"


def run_in_pty(argv: list[str], environ: dict[str, str], script: list[tuple[bytes, bytes]], *,
               size: tuple[int, int]) -> tuple[int, bytes]:
    """Drive a program on a terminal of ``size`` (rows, cols): for each (wait_for, send) wait until the output
    holds ``wait_for``, then type ``send``. Returns (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:                                               # the child: kubectl on the terminal
        os.execve(argv[0], argv, environ)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    out = b""
    deadline = time.monotonic() + 30

    def read_until(marker: bytes) -> None:
        nonlocal out
        while marker not in out and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if not data:
                    return
                out += data

    for wait_for, send in script:
        read_until(wait_for)
        os.write(fd, send)
    read_until(b"\x00never")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_exec_interactive_terminal(cluster: tuple[Server, Node], ns: str, version: str) -> None:
    srv, node = cluster
    node.add_pod(ns, "p")
    argv = kubectl_cmd(srv, version, "exec", "-it", "p", "-n", ns, "--", "sh")
    code, out = run_in_pty(argv, env(srv), [(b"#", b"stty size; echo sum=$((40+2))\n"), (b"sum=42", b"exit 7\n")],
                           size=(33, 101))
    assert b"33 101" in out                # the terminal's size reached the shell (resize stream/channel)
    assert b"sum=42" in out
    assert code == 7, out


@pytest.mark.parametrize("version", ["1.27", None])
def test_cp_both_ways(cluster: tuple[Server, Node], ns: str, tmp_path: pathlib.Path, version: str | None) -> None:
    """``kubectl cp`` is tar through exec: binary data both ways, a megabyte so it spans many frames."""
    srv, node = cluster
    node.add_pod(ns, "p")
    src = tmp_path / "blob.bin"
    src.write_bytes(os.urandom(1 << 20))
    srv.kubectl("cp", str(src), f"{ns}/p:blob.bin", version=version, timeout=120)
    back = tmp_path / "back.bin"
    srv.kubectl("cp", f"{ns}/p:blob.bin", str(back), version=version, timeout=120)
    assert back.read_bytes() == src.read_bytes()


def test_exec_into_a_stopped_container(cluster: tuple[Server, Node], ns: str) -> None:
    srv, node = cluster
    ids = node.add_pod(ns, "p")
    node.runtime.containers[ids["main"]].state = ContainerState.EXITED
    p = srv.kubectl("exec", "p", "-n", ns, "--", "ls", check=False)
    assert p.returncode != 0
    assert 'container not found ("main")' in p.stderr


def test_exec_names_the_container_choices(cluster: tuple[Server, Node], ns: str) -> None:
    srv, node = cluster
    node.add_pod(ns, "p", ("a", "b"))
    p = srv.kubectl("exec", "p", "-n", ns, "-c", "nope", "--", "ls", check=False)
    assert p.returncode != 0 and "container nope is not valid for pod p" in p.stderr


# ------------------------------------------------------------------ attach
@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_attach(cluster: tuple[Server, Node], ns: str, version: str) -> None:
    srv, node = cluster
    ids = node.add_pod(ns, "p")
    node.call(node.runtime.start_main(ids["main"], "while read l; do echo got $l; done"))
    a = subprocess.Popen(kubectl_cmd(srv, version, "attach", "-i", "p", "-n", ns), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(srv))
    try:
        assert a.stdin is not None and a.stdout is not None
        a.stdin.write(b"ping\n")
        a.stdin.flush()
        assert a.stdout.readline() == b"got ping\n"
    finally:
        a.terminate()
        a.wait(10)


# ------------------------------------------------------------------ logs
def test_logs(cluster: tuple[Server, Node], ns: str) -> None:
    srv, node = cluster
    ids = node.add_pod(ns, "p", ("app", "side"), previous=("app",))
    t0 = 1_767_225_600_000_000_000                    # 2026-01-01T00:00:00Z
    for i in range(5):
        node.runtime.log(ids["app"], "stdout", f"line {i}".encode(), time_ns=t0 + i * 1_000_000_001)
    node.runtime.log("p-app-old", "stderr", b"the previous instance", time_ns=t0)
    node.runtime.log(ids["side"], "stdout", b"side car", time_ns=time.time_ns())
    p = srv.kubectl("logs", "p", "-n", ns)
    assert p.stdout == "line 0\nline 1\nline 2\nline 3\nline 4\n"
    assert p.stderr == 'Defaulted container "app" out of: app, side\n'
    assert srv.kubectl("logs", "p", "-n", ns, "-c", "app", "--tail=2").stdout == "line 3\nline 4\n"
    assert srv.kubectl("logs", "p", "-n", ns, "-c", "app", "--tail=1", "--timestamps").stdout == \
        "2026-01-01T00:00:04.000000004Z line 4\n"
    assert srv.kubectl("logs", "p", "-n", ns, "-c", "app", "--previous").stdout == "the previous instance\n"
    assert srv.kubectl("logs", "p", "-n", ns, "-c", "app", "--since=1h").stdout == ""
    assert srv.kubectl("logs", "p", "-n", ns, "-c", "side", "--since=1h").stdout == "side car\n"
    assert srv.kubectl("logs", "p", "-n", ns, "-c", "app", "--limit-bytes=9", version="1.27").stdout == "line 0\nli"
    p = srv.kubectl("logs", "p", "-n", ns, "-c", "nope", check=False)
    assert p.returncode == 1 and "container nope is not valid for pod p" in p.stderr
    p = srv.kubectl("logs", "p", "-n", ns, "-c", "side", "--previous", check=False)
    assert p.stderr == ('Error from server (BadRequest): previous terminated container "side" in pod "p" not '
                        "found\n")


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_logs_follow_until_the_container_stops(cluster: tuple[Server, Node], ns: str, version: str) -> None:
    srv, node = cluster
    ids = node.add_pod(ns, "p")
    node.runtime.log(ids["main"], "stdout", b"before")
    f = subprocess.Popen(kubectl_cmd(srv, version, "logs", "-f", "p", "-n", ns), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env(srv))
    try:
        assert f.stdout is not None
        assert f.stdout.readline() == b"before\n"
        node.runtime.log(ids["main"], "stdout", b"after")
        assert f.stdout.readline() == b"after\n"
        node.runtime.containers[ids["main"]].state = ContainerState.EXITED
        assert f.wait(15) == 0
    finally:
        if f.poll() is None:
            f.kill()


def test_logs_of_a_deployment(cluster: tuple[Server, Node], ns: str) -> None:
    srv, node = cluster
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
              "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                  "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "main",
                                                                                 "image": "busybox"}]}}}}
    srv.kubectl("create", "-f", "-", input=json.dumps(deploy))
    ids = node.add_pod(ns, "web-abc12", labels={"app": "web"})
    node.runtime.log(ids["main"], "stdout", b"served by the deployment's pod")
    assert srv.kubectl("logs", "deploy/web", "-n", ns).stdout == "served by the deployment's pod\n"


# ------------------------------------------------------------------ port-forward
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def web_port() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("version,transport", [("1.27", "spdy"), ("1.28", "spdy"), ("1.29", "spdy"),
                                               ("1.30", "spdy"), ("1.31", "tunnel"), ("1.32", "tunnel"),
                                               ("1.33", "tunnel")])
def test_port_forward_with_curl(cluster: tuple[Server, Node], ns: str, web_port: int, version: str,
                                transport: str) -> None:
    srv, node = cluster
    node.add_pod(ns, "p", ports=(80,))
    node.runtime.port_map[80] = web_port
    before = node.served(f"portforward/{transport}/portforward.k8s.io")
    local = free_port()
    pf = subprocess.Popen(kubectl_cmd(srv, version, "port-forward", "-n", ns, "pod/p", f"{local}:80"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(srv))
    try:
        assert pf.stdout is not None
        assert pf.stdout.readline() == f"Forwarding from 127.0.0.1:{local} -> 80\n"
        for path in ("/one", "/two"):
            c = subprocess.run(["curl", "-sS", "-m", "20", f"http://127.0.0.1:{local}{path}"], capture_output=True,
                               text=True, timeout=30)
            assert c.stdout == f"hello from {path}\n", c.stderr
    finally:
        pf.terminate()
        pf.wait(10)
    assert node.served(f"portforward/{transport}/portforward.k8s.io") == before + 1


def test_port_forward_to_a_closed_port_reports_the_error(cluster: tuple[Server, Node], ns: str) -> None:
    srv, node = cluster
    node.add_pod(ns, "p")
    local = free_port()
    pf = subprocess.Popen(kubectl_cmd(srv, None, "port-forward", "-n", ns, "pod/p", f"{local}:9999"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(srv))
    try:
        assert pf.stdout is not None
        pf.stdout.readline()
        subprocess.run(["curl", "-sS", "-m", "10", f"http://127.0.0.1:{local}/"], capture_output=True, timeout=20)
        _, err = pf.communicate(timeout=20)
    finally:
        if pf.poll() is None:
            pf.kill()
    assert "error forwarding port 9999 to pod" in err and "connection refused" in err


# ------------------------------------------------------------------ the official Python client
def test_python_client_exec(cluster: tuple[Server, Node], ns: str) -> None:
    from kubernetes import client
    from kubernetes.stream import stream
    srv, node = cluster
    node.add_pod(ns, "p")
    api = client.CoreV1Api(srv.client())
    out = stream(api.connect_get_namespaced_pod_exec, "p", ns, command=["sh", "-c", "echo out; echo err >&2"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "out\nerr\n"
    ws = stream(api.connect_get_namespaced_pod_exec, "p", ns, command=["sh", "-c", "cat; exit 5"], stderr=True,
                stdin=True, stdout=True, tty=False, _preload_content=False)
    ws.write_stdin("from python\n")
    ws.close_channel(0)                     # v5: stdin ends, cat ends
    ws.run_forever(timeout=20)
    assert ws.returncode == 5
    assert ws.read_stdout() == "from python\n"


def test_python_client_port_forward(cluster: tuple[Server, Node], ns: str, web_port: int) -> None:
    from kubernetes import client
    from kubernetes.stream import portforward
    srv, node = cluster
    node.add_pod(ns, "p", ports=(80,))
    node.runtime.port_map[80] = web_port
    api = client.CoreV1Api(srv.client())
    before = node.served("portforward/websocket/v4.channel.k8s.io")
    pf = portforward(api.connect_get_namespaced_pod_portforward, "p", ns, ports="80")
    sock = pf.socket(80)
    sock.setblocking(True)
    sock.sendall(b"GET /py HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.0 200 OK") and data.endswith(b"hello from /py\n")
    assert pf.error(80) is None
    assert node.served("portforward/websocket/v4.channel.k8s.io") == before + 1
