"""Two ``pybernetes server`` processes on one real etcd (HA): objects written through one are read and watched
through the other, one cluster CA (a kubeconfig of one works against the other), the ``kubernetes`` Endpoints list
both servers and then only the survivor once one stops, which keeps serving.

The servers bind 127.0.0.2 and 127.0.0.3 on the same port (the ``kubernetes`` Service has one port) and advertise
two TEST-NET-1 addresses (Endpoints may not be loopback; nothing is ever sent to them). They renew their endpoint
leases every second with a 3 s TTL (``PYBERNETES_APISERVER_LEASE_{RENEW,TTL}_SECONDS``) so a stopped server drops
out in seconds. etcd runs from a temporary data dir on free loopback ports and is stopped by PID; without the etcd
binary the module skips — except in CI, where it must fail.
"""

from __future__ import annotations

import json
import os
import pathlib
import queue
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pybernetes.apiserver import kubeconfig
from tests.harness import Server, kubectl_binary, start_server

pytestmark = pytest.mark.integration

TOKEN = "ha-cluster-token"
BIND = ("127.0.0.2", "127.0.0.3")
ADVERTISE = ("192.0.2.12", "192.0.2.13")


def etcd_binary() -> str:
    path = shutil.which("etcd") or ("/usr/bin/etcd" if os.path.exists("/usr/bin/etcd") else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("the etcd binary is missing in CI: tools/install-deps.sh must install etcd-server")
        pytest.skip("the etcd binary is not installed (apt-get install etcd-server)")
    return path


def free_port(*hosts: str) -> int:
    """A port free on every one of ``hosts`` (tried until one is)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = int(s.getsockname()[1])
        ok = True
        for h in hosts[1:]:
            with socket.socket() as s:
                try:
                    s.bind((h, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no common free port")


def until(cond: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll a real cluster (there is nothing to await across processes)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} never held (last: {last!r})")


@dataclass
class Etcd:
    proc: subprocess.Popen[bytes]
    client_port: int

    @property
    def endpoint(self) -> str:
        return f"etcd://127.0.0.1:{self.client_port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.client_port}/health", timeout=0.5) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_etcd(root: pathlib.Path) -> Etcd:
    binary = etcd_binary()
    client, peer = free_port("127.0.0.1"), free_port("127.0.0.1")
    log = open(root / "etcd.log", "ab")             # handed to the child
    proc = subprocess.Popen([
        binary, "--name", "ha", "--data-dir", str(root / "etcd"),
        "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"ha=http://127.0.0.1:{peer}", "--initial-cluster-state", "new",
    ], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    etcd = Etcd(proc, client)
    try:
        until(lambda: etcd.healthy() or proc.poll() is not None, timeout=30, what="etcd healthy")
        if proc.poll() is not None:
            raise AssertionError("etcd exited:\n" + (root / "etcd.log").read_text()[-2000:])
    except BaseException:
        etcd.stop()
        raise
    return etcd


@dataclass
class HA:
    etcd: Etcd
    a: Server
    b: Server
    port: int


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HA]:
    root = pathlib.Path(tmp_path_factory.mktemp("ha"))
    etcd = start_etcd(root)
    port = free_port(*BIND)
    saved = {k: os.environ.get(k) for k in ("PYBERNETES_APISERVER_LEASE_RENEW_SECONDS",
                                            "PYBERNETES_APISERVER_LEASE_TTL_SECONDS")}
    os.environ["PYBERNETES_APISERVER_LEASE_RENEW_SECONDS"] = "1"      # inherited by the server processes
    os.environ["PYBERNETES_APISERVER_LEASE_TTL_SECONDS"] = "3"
    servers: list[Server] = []
    try:
        for i in (0, 1):
            servers.append(start_server(
                root / f"server-{'ab'[i]}", "--datastore-endpoint", etcd.endpoint, "--bind-address", BIND[i],
                "--advertise-address", ADVERTISE[i], "--tls-san", BIND[0], "--tls-san", BIND[1],
                "--disable-scheduler", "--disable-controller-manager", token=TOKEN, port=port))
        yield HA(etcd, servers[0], servers[1], port)
    finally:
        for s in servers:
            s.stop()
        etcd.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def endpoint_ips(server: Server) -> list[str]:
    ep = json.loads(server.kubectl("-n", "default", "get", "endpoints", "kubernetes", "-o", "json").stdout)
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def slice_ips(server: Server) -> list[str]:
    sl = json.loads(server.kubectl("-n", "default", "get", "endpointslices", "kubernetes", "-o", "json").stdout)
    return sorted(a for e in sl.get("endpoints") or [] for a in e["addresses"])


def test_servers_listen_where_asked(ha: HA) -> None:
    assert (ha.a.url, ha.b.url) == (f"https://{BIND[0]}:{ha.port}", f"https://{BIND[1]}:{ha.port}")


def test_an_object_written_through_one_is_read_through_the_other(ha: HA) -> None:
    ha.a.kubectl("create", "namespace", "ha")
    ha.a.kubectl("-n", "ha", "create", "configmap", "written-by-a", "--from-literal=k=v")
    cm = json.loads(until(lambda: ha.b.kubectl("-n", "ha", "get", "configmap", "written-by-a", "-o", "json",
                                               check=False).stdout, what="configmap visible through b"))
    assert cm["data"] == {"k": "v"}
    ours = json.loads(ha.a.kubectl("-n", "ha", "get", "configmap", "written-by-a", "-o", "json").stdout)
    assert cm["metadata"]["uid"] == ours["metadata"]["uid"]
    # and back, with optimistic concurrency across the two servers
    cm["data"]["k"] = "from-b"
    ha.b.kubectl("replace", "-f", "-", input=json.dumps(cm))
    stale = dict(ours, data={"k": "stale"})
    p = ha.a.kubectl("replace", "-f", "-", input=json.dumps(stale), check=False)
    assert p.returncode == 1 and "the object has been modified" in p.stderr
    until(lambda: json.loads(ha.a.kubectl("-n", "ha", "get", "configmap", "written-by-a", "-o", "json").stdout)
          ["data"] == {"k": "from-b"}, what="b's write visible through a")


def test_one_cluster_ca_a_kubeconfig_of_one_works_against_the_other(ha: HA) -> None:
    for name in ("server-ca.crt", "client-ca.crt", "service-account.key"):
        assert (ha.a.data_dir / "tls" / name).read_bytes() == (ha.b.data_dir / "tls" / name).read_bytes(), name
    cache = ha.a.data_dir / "kubectl-cache-cross"
    p = subprocess.run([kubectl_binary(), "--kubeconfig", str(ha.a.kubeconfig), "--cache-dir", str(cache),
                        "--server", ha.b.url, "-n", "ha", "get", "configmap", "written-by-a", "-o", "name"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(ha.a.data_dir)})
    assert (p.returncode, p.stdout) == (0, "configmap/written-by-a\n"), p.stderr
    # a ServiceAccount token issued by one server is accepted by the other (same signing key)
    ha.a.kubectl("-n", "ha", "create", "serviceaccount", "robot")
    token = ha.a.kubectl("-n", "ha", "create", "token", "robot").stdout.strip()
    token_kc = ha.b.data_dir / "robot.kubeconfig"
    kubeconfig.write(token_kc, kubeconfig.render(server=ha.b.url, ca_pem=(ha.a.data_dir / "tls" /
                                                                          "server-ca.crt").read_bytes(), token=token))
    p = subprocess.run([kubectl_binary(), "--kubeconfig", str(token_kc), "--cache-dir", str(cache), "auth", "whoami",
                        "-o", "json"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "HOME": str(ha.b.data_dir)})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"]["userInfo"]["username"] == "system:serviceaccount:ha:robot"


def drain(q: queue.Queue[str]) -> list[str]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_a_watch_through_one_sees_writes_through_the_other(ha: HA) -> None:
    cache = ha.b.data_dir / "kubectl-cache-watch"
    # -v=6 logs each request once its response headers are in: the watch's line means it is open, and since it
    # starts from the list's resourceVersion, every write after that is an event (no sleep-and-hope).
    watch = subprocess.Popen([kubectl_binary(), "--kubeconfig", str(ha.b.kubeconfig), "--cache-dir", str(cache),
                              "-n", "ha", "get", "configmaps", "--watch-only", "--output-watch-events", "-o",
                              'jsonpath={.type} {.object.metadata.name} {.object.data.k}{"\\n"}', "-v=6"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "HOME": str(ha.b.data_dir)})
    lines: queue.Queue[str] = queue.Queue()
    log: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in watch.stdout], daemon=True).start()  # type: ignore[union-attr]
    threading.Thread(target=lambda: [log.put(x) for x in watch.stderr], daemon=True).start()  # type: ignore[union-attr]
    try:
        until(lambda: any("watch=true" in x and " 200 OK" in x for x in drain(log)), timeout=60,
              what="kubectl's watch request answered")
        ha.a.kubectl("-n", "ha", "create", "configmap", "watched", "--from-literal=k=1")
        ha.a.kubectl("-n", "ha", "patch", "configmap", "watched", "-p", '{"data":{"k":"2"}}')
        ha.a.kubectl("-n", "ha", "delete", "configmap", "watched")
        seen: list[list[str]] = []
        deadline = time.monotonic() + 20
        while len(seen) < 3 and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if " watched " in line:
                seen.append(line.split())
        assert seen == [["ADDED", "watched", "1"], ["MODIFIED", "watched", "2"], ["DELETED", "watched", "2"]], seen
    finally:
        watch.terminate()
        watch.wait(10)


def test_endpoints_list_both_servers(ha: HA) -> None:
    until(lambda: endpoint_ips(ha.a) == sorted(ADVERTISE), what="both servers in the kubernetes Endpoints")
    assert endpoint_ips(ha.b) == sorted(ADVERTISE)
    until(lambda: slice_ips(ha.b) == sorted(ADVERTISE), what="both servers in the EndpointSlice")
    ep = json.loads(ha.b.kubectl("-n", "default", "get", "endpoints", "kubernetes", "-o", "json").stdout)
    assert ep["subsets"][0]["ports"] == [{"name": "https", "port": ha.port, "protocol": "TCP"}]


def test_stopping_one_leaves_the_other_serving_and_alone_in_the_endpoints(ha: HA) -> None:
    rc = ha.a.stop()
    assert rc == 0, "".join(ha.a.log[-30:])
    ha.b.kubectl("-n", "ha", "create", "configmap", "after-a", "--from-literal=k=v")
    assert "configmap/after-a" in ha.b.kubectl("-n", "ha", "get", "configmaps", "-o", "name").stdout
    until(lambda: endpoint_ips(ha.b) == [ADVERTISE[1]], timeout=20, what="only b in the kubernetes Endpoints")
    until(lambda: slice_ips(ha.b) == [ADVERTISE[1]], timeout=20, what="only b in the EndpointSlice")
    assert ha.b.proc.poll() is None
