"""A lab for the proxy's e2e tests and benchmark: network namespaces on a bridge of their own play the pods.

Each "pod" is a netns with a veth on the lab bridge (hairpin on, as the CNI bridge plugin sets it), an address
in the lab's /24 and a default route via the bridge, running a tiny HTTP server that answers
``<pod name> <client address>``. The Service CIDR is routed to the lab bridge, so a connection to a ClusterIP
the proxy has not (or no longer) programmed goes to the lab, never out of the machine. Everything is created
and removed by name; traffic only goes to loopback and to addresses the lab created.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SERVER = textwrap.dedent("""
    import socket, sys, threading
    name, port = sys.argv[1], int(sys.argv[2])

    def udp():
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", port))
        while True:
            _, addr = u.recvfrom(2048)
            u.sendto(f"{name} {addr[0]}".encode(), addr)

    threading.Thread(target=udp, daemon=True).start()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    while True:
        c, addr = s.accept()
        try:
            c.settimeout(2)
            c.recv(4096)
            body = f"{name} {addr[0]}\\n".encode()
            c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
        except OSError:
            pass
        finally:
            c.close()
""")

CLIENT = textwrap.dedent("""
    import socket, sys
    host, port, n, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    for _ in range(n):
        try:
            c = socket.create_connection((host, port), timeout)
            c.settimeout(timeout)
            c.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            data = b""
            while chunk := c.recv(4096):
                data += chunk
            c.close()
            print(data.split(b"\\r\\n\\r\\n", 1)[-1].decode().strip(), flush=True)
        except ConnectionRefusedError:
            print("REFUSED", flush=True)
        except (TimeoutError, socket.timeout):
            print("TIMEOUT", flush=True)
        except OSError as e:
            print(f"ERROR {e.errno}", flush=True)
""")

UDP_CLIENT = textwrap.dedent("""
    import socket, sys
    host, port, n, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    u.bind(("0.0.0.0", sport))
    u.settimeout(0.5)
    for _ in range(n):
        u.sendto(b"hi", (host, port))
        try:
            print(u.recvfrom(2048)[0].decode(), flush=True)
        except (TimeoutError, socket.timeout):
            print("TIMEOUT", flush=True)
        except OSError as e:
            print(f"ERROR {e.errno}", flush=True)
""")


def require(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"e2e prerequisite missing: {what}")
        pytest.skip(f"e2e prerequisite missing: {what}")


def require_prerequisites() -> None:
    require(os.geteuid() == 0, "root (network namespaces, nftables)")
    for binary, package in (("ip", "iproute2"), ("nft", "nftables"), ("bridge", "iproute2")):
        require(shutil.which(binary) is not None, f"{binary} (Debian package {package})")
    require(os.path.exists("/proc/sys/net/bridge") or subprocess.run(
        ["modprobe", "br_netfilter"], capture_output=True).returncode == 0, "br_netfilter")


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(list(cmd), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr.strip()}")
    return p


@dataclass
class Pod:
    name: str
    netns: str
    ip: str
    veth: str
    server: subprocess.Popen[bytes] | None = None


@dataclass
class Lab:
    """``subnet`` like ``10.99.17``: the bridge is ``.1``, pods ``.2`` on; ``service_cidr`` is routed here."""

    workdir: Path
    subnet: str
    service_cidr: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:5])
    pods: dict[str, Pod] = field(default_factory=dict)
    port: int = 8080

    @property
    def bridge(self) -> str:
        return f"pybp{self.tag}"

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    @property
    def cidr(self) -> str:
        return f"{self.subnet}.0/24"

    def up(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "server.py").write_text(SERVER)
        (self.workdir / "client.py").write_text(CLIENT)
        (self.workdir / "udp_client.py").write_text(UDP_CLIENT)
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        sh("ip", "route", "add", self.service_cidr, "dev", self.bridge)

    def add_pod(self, name: str, *, serve: bool = True) -> Pod:
        n = len(self.pods) + 2
        pod = Pod(name=name, netns=f"pybp-{self.tag}-{name}", ip=f"{self.subnet}.{n}", veth=f"pybp{self.tag}{n}")
        sh("ip", "netns", "add", pod.netns)
        self.pods[name] = pod
        sh("ip", "link", "add", pod.veth, "type", "veth", "peer", "name", "eth0", "netns", pod.netns)
        sh("ip", "link", "set", pod.veth, "master", self.bridge, "up")
        sh("bridge", "link", "set", "dev", pod.veth, "hairpin", "on")
        sh("ip", "-n", pod.netns, "addr", "add", f"{pod.ip}/24", "dev", "eth0")
        sh("ip", "-n", pod.netns, "link", "set", "eth0", "up")
        sh("ip", "-n", pod.netns, "link", "set", "lo", "up")
        sh("ip", "-n", pod.netns, "route", "add", "default", "via", self.gateway)
        if serve:
            pod.server = subprocess.Popen(["ip", "netns", "exec", pod.netns, sys.executable,
                                           str(self.workdir / "server.py"), name, str(self.port)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True)
            self.wait_serving(pod)
        return pod

    def wait_serving(self, pod: Pod, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get_from_host(pod.ip, self.port, timeout=0.5).startswith(pod.name):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the server in {pod.netns} did not start")

    def requests(self, pod: str, host: str, port: int, n: int = 1, *, timeout: float = 2) -> list[str]:
        """``n`` HTTP GETs from inside a pod, each on a new connection; a body, REFUSED, TIMEOUT or ERROR n."""
        p = subprocess.run(["ip", "netns", "exec", self.pods[pod].netns, sys.executable,
                            str(self.workdir / "client.py"), host, str(port), str(n), str(timeout)],
                           capture_output=True, text=True, timeout=n * (timeout + 1) + 10)
        return p.stdout.splitlines()

    def udp(self, pod: str, host: str, port: int, n: int = 1, *, sport: int = 40053) -> list[str]:
        """``n`` UDP requests from inside a pod, all from the same source port (one conntrack flow)."""
        p = subprocess.run(["ip", "netns", "exec", self.pods[pod].netns, sys.executable,
                            str(self.workdir / "udp_client.py"), host, str(port), str(n), str(sport)],
                           capture_output=True, text=True, timeout=n + 10)
        return p.stdout.splitlines()

    def get_from_host(self, host: str, port: int, *, timeout: float = 2) -> str:
        import socket
        try:
            with socket.create_connection((host, port), timeout) as c:
                c.settimeout(timeout)
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := c.recv(4096):
                    data += chunk
            return data.split(b"\r\n\r\n", 1)[-1].decode().strip()
        except ConnectionRefusedError:
            return "REFUSED"
        except TimeoutError:
            return "TIMEOUT"
        except OSError as e:
            return f"ERROR {e.errno}"

    def down(self) -> None:
        for pod in self.pods.values():
            if pod.server is not None and pod.server.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pod.server.pid, signal.SIGKILL)
                pod.server.wait(10)
            sh("ip", "netns", "del", pod.netns, check=False)
            sh("ip", "link", "del", pod.veth, check=False)
        sh("ip", "route", "del", self.service_cidr, "dev", self.bridge, check=False)
        sh("ip", "link", "del", self.bridge, check=False)


@contextlib.contextmanager
def lab(workdir: Path, *, subnet: str, service_cidr: str) -> Iterator[Lab]:
    the_lab = Lab(workdir=workdir, subnet=subnet, service_cidr=service_cidr)
    try:
        the_lab.up()
        yield the_lab
    finally:
        the_lab.down()


@dataclass
class ProxyProcess:
    """``python -m pybernetes.proxy`` for the lab's node, logging to a file."""

    kubeconfig: Path
    node: str
    table: str
    log: Path
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "pybernetes.proxy", "--kubeconfig", str(self.kubeconfig),
                                      "--node-name", self.node, "--table", self.table, "--log-level", "DEBUG",
                                      *self.extra], stdout=out, stderr=out, start_new_session=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        out.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def delete_table(self) -> None:
        sh("nft", "delete", "table", "ip", self.table, check=False)
