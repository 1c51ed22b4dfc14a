"""Test hosts: several "machines" on this one, as network namespaces on a bridge of their own (issue 5), for
multi-node tests and benchmarks.

    with TestHosts(3, workdir=tmp) as hosts:            # pyb-h1..pyb-h3: 10.99.0.11..13 on pybt0 (10.99.0.1)
        relay = hosts.expose(registry_port)              # 10.99.0.1:P → 127.0.0.1:P for the hosts
        agent = hosts[0].start_agent(server_url=..., token=..., data_dir=..., registries_yaml=...)

Layout: the bridge :data:`BRIDGE` in the root namespace holds :data:`GATEWAY`; host *i* is the netns
``pyb-h<i>`` with ``eth0`` (a veth whose root end ``pybt-h<i>`` is a bridge port) at ``10.99.0.(10+i)/24``,
loopback up, a default route via the gateway and ``ip_forward`` on. A table ``inet pybt`` in the root namespace
drops whatever the hosts try to route *through* the root namespace (their traffic may reach the gateway address
and each other, never the machine's external networks: DESIGN's network rule), so a pod asking for an address
no Service owns cannot leak out.

Processes run in a host through :meth:`TestHost.command`: ``nsenter --net`` into its namespace plus a private
mount namespace where the host's own ``resolv.conf`` (``nameserver 127.0.0.1``: nothing answers there, so
forwarded lookups fail at once instead of leaving the machine) is bind-mounted over ``/etc/resolv.conf`` and a
tmpfs over ``/run/netns`` holds the pods' namespaces (everything the agent mounts — netns files, overlays, volumes
— lives and dies with that mount namespace).
Not ``ip netns exec``: it remounts ``/sys`` for the namespace, and the cgroup hierarchies under
``/sys/fs/cgroup`` vanish with the old mount, so no container could start.

An agent started with :meth:`TestHost.start_agent` gets everything it writes on the machine to itself: its data
directory (shim socket, CNI state, images), its pod logs (``--pod-log-dir <data>/log/pods``), its pods' cgroups
(``--cgroup-parent /pybernetes/<node>``), and — inside its namespace — its CNI bridge and nftables.
:meth:`AgentProcess.cleanup` removes all of it by PID, cgroup and name, whatever state the test left it in.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BRIDGE = "pybt0"
NETNS_PREFIX = "pyb-h"
VETH_PREFIX = "pybt-h"
SUBNET = ipaddress.ip_network("10.99.0.0/24")
GATEWAY = "10.99.0.1"
GUARD_TABLE = "pybt"
CGROUP_ROOT = "/pybernetes"
# inside a host's private mount namespace: its resolv.conf, and a /run/netns of its own, so the pods' network
# namespaces (``ip netns add`` names them there) vanish with the host's processes instead of leaving files behind
PRIVATE_MOUNTS = ('mount --bind "$0" /etc/resolv.conf && mkdir -p /run/netns && '
                  'mount -t tmpfs -o mode=0755,size=1m pybt-netns /run/netns && exec "$@"')
HOST_RESOLV_CONF = "# a test host: no resolver (lookups that leave the cluster fail at once)\nnameserver 127.0.0.1\n"


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {p.stderr.strip() or p.returncode}")
    return p


def host_address(index: int) -> str:
    """Host ``index`` (1-based) is ``10.99.0.(10+index)``."""
    if not 1 <= index <= 200:
        raise ValueError("test hosts are numbered 1..200")
    return str(SUBNET.network_address + 10 + index)


@dataclass
class AgentProcess:
    """A ``pybernetes agent`` running in a test host."""

    host: TestHost
    node_name: str
    data_dir: Path
    proc: subprocess.Popen[bytes]

    @property
    def cgroup_parent(self) -> str:
        return f"{CGROUP_ROOT}/{self.node_name}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "agent.log"

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Signal the agent and wait for it (KILL after ``timeout``)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def cleanup(self) -> None:
        """The agent, its shim, every process in its pods' cgroups, then the cgroups themselves."""
        self.stop(signal.SIGKILL, timeout=10)
        shim = _shim_pid(self.data_dir / "runtime")
        if shim is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(shim, signal.SIGKILL)
        kill_cgroup_tree(self.cgroup_parent)


def _shim_pid(root: Path) -> int | None:
    """The shim serving ``root`` if it still runs (its command line names the root: never a reused pid)."""
    try:
        pid = int((root / "shim.lock").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    return pid if b"shim" in cmdline and str(root).encode() in cmdline else None


def kill_cgroup_tree(cgroup: str, *, attempts: int = 50) -> list[str]:
    """KILL every process in ``cgroup`` (below :data:`CGROUP_ROOT`) and its children, then remove the
    directories; returns those that could not be removed."""
    from pybernetes.kubelet.runtime.oci import cgroups
    if not cgroup.startswith(CGROUP_ROOT + "/"):
        raise ValueError(f"refusing to touch cgroup {cgroup!r} outside {CGROUP_ROOT}")
    layout = cgroups.host_layout()
    left: list[str] = []
    for _ in range(attempts):
        found = False
        for top in layout.dirs(cgroup):
            for dirpath, _dirs, _files in os.walk(top):
                with contextlib.suppress(OSError):
                    for pid in (Path(dirpath) / "cgroup.procs").read_text().split():
                        found = True
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
        left = cgroups.remove_tree(layout, cgroup)
        if not found and not left:
            break
        time.sleep(0.1)
    return left


@dataclass(frozen=True)
class TestHost:
    __test__ = False                    # not a pytest test class
    index: int
    workdir: Path

    @property
    def name(self) -> str:
        return f"{NETNS_PREFIX}{self.index}"

    @property
    def veth(self) -> str:
        return f"{VETH_PREFIX}{self.index}"

    @property
    def address(self) -> str:
        return host_address(self.index)

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.name}"

    @property
    def resolv_conf(self) -> Path:
        return self.workdir / self.name / "resolv.conf"

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host (its network namespace, its resolv.conf)."""
        return ["nsenter", f"--net={self.netns_path}", "--", "unshare", "--mount", "--propagation", "slave", "--",
                "sh", "-c", PRIVATE_MOUNTS, str(self.resolv_conf), *argv]

    def run(self, *argv: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess[str]:
        """A short command in this host's network namespace."""
        return subprocess.run(["nsenter", f"--net={self.netns_path}", "--", *argv], capture_output=True, text=True,
                              timeout=timeout, check=check, stdin=subprocess.DEVNULL)

    def start_agent(self, *, server_url: str, token: str, data_dir: Path, node_name: str = "",
                    registries_yaml: Path | None = None, extra: Sequence[str] = (),
                    env: dict[str, str] | None = None) -> AgentProcess:
        """``pybernetes agent`` as node ``node_name`` (default ``node<i>``) in this host."""
        node = node_name or f"node{self.index}"
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "pybernetes", "agent", "--server", server_url, "--token", token,
                "--node-name", node, "--data-dir", str(data_dir), "--node-ip", self.address,
                "--pod-log-dir", str(data_dir / "log" / "pods"), "--cgroup-parent", f"{CGROUP_ROOT}/{node}"]
        if registries_yaml is not None:
            argv += ["--registry-config", str(registries_yaml)]
        argv += list(extra)
        with open(data_dir / "agent.log", "ab") as log:
            proc = subprocess.Popen(self.command(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        return AgentProcess(host=self, node_name=node, data_dir=data_dir, proc=proc)


class TCPRelay:
    """Makes a loopback service reachable from the test hosts: listens on ``listen`` and copies bytes both ways
    to ``target``, in a thread of its own (the test's process may be blocked on subprocesses)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.listen, self.target = listen, target
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="test-relay", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, self.listen[0], self.listen[1], reuse_address=True))
        except BaseException as e:
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(OSError, RuntimeError):
                    w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    def close(self) -> None:
        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@dataclass
class TestHosts:
    """``count`` test hosts; a context manager that removes everything it made (also after a failed create)."""

    __test__ = False

    count: int
    workdir: Path
    hosts: list[TestHost] = field(default_factory=list)
    relays: list[TCPRelay] = field(default_factory=list)
    agents: list[AgentProcess] = field(default_factory=list)

    def __enter__(self) -> TestHosts:
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy()

    def __getitem__(self, i: int) -> TestHost:
        return self.hosts[i]

    def __iter__(self) -> Iterator[TestHost]:
        return iter(self.hosts)

    def create(self) -> None:
        self.destroy()                                  # leftovers of a crashed run, by name
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
        _run("ip", "addr", "add", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")
        guard = (f"table inet {GUARD_TABLE} {{\n chain forward {{\n  type filter hook forward priority -200; "
                 f"policy accept;\n  iifname \"{BRIDGE}\" oifname != \"{BRIDGE}\" drop\n }}\n}}\n")
        p = subprocess.run(["nft", "-f", "-"], input=guard, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"nft: {p.stderr.strip()}")
        for i in range(1, self.count + 1):
            h = TestHost(index=i, workdir=self.workdir)
            self.hosts.append(h)
            h.resolv_conf.parent.mkdir(parents=True, exist_ok=True)
            h.resolv_conf.write_text(HOST_RESOLV_CONF)
            _run("ip", "netns", "add", h.name)
            _run("ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.name)
            _run("ip", "link", "set", h.veth, "master", BRIDGE, "up")
            for cmd in (("ip", "link", "set", "lo", "up"),
                        ("ip", "addr", "add", f"{h.address}/{SUBNET.prefixlen}", "dev", "eth0"),
                        ("ip", "link", "set", "eth0", "up"),
                        ("ip", "route", "add", "default", "via", GATEWAY),
                        ("sysctl", "-qw", "net.ipv4.ip_forward=1")):
                p2 = h.run(*cmd)
                if p2.returncode != 0:
                    raise RuntimeError(f"{h.name}: {' '.join(cmd)}: {p2.stderr.strip()}")

    def expose(self, port: int, *, target_host: str = "127.0.0.1", target_port: int = 0) -> TCPRelay:
        """``GATEWAY:port`` relays to ``target_host:target_port`` (default the same port on loopback)."""
        relay = TCPRelay((GATEWAY, port), (target_host, target_port or port))
        self.relays.append(relay)
        return relay

    def start_agent(self, host: TestHost, **kw: Any) -> AgentProcess:
        agent = host.start_agent(**kw)
        self.agents.append(agent)
        return agent

    def destroy(self) -> None:
        """Agents (with their shims, containers and cgroups), relays, namespaces, veths, bridge and guard table —
        each by its PID or name; safe to repeat."""
        for a in self.agents:
            with contextlib.suppress(Exception):
                a.cleanup()
        self.agents.clear()
        for r in self.relays:
            with contextlib.suppress(Exception):
                r.close()
        self.relays.clear()
        names = {h.name for h in self.hosts} | {f"{NETNS_PREFIX}{i}" for i in range(1, self.count + 1)}
        for name in sorted(names):
            _run("ip", "netns", "delete", name, check=False)
        for i in range(1, self.count + 1):
            if Path(f"/sys/class/net/{VETH_PREFIX}{i}").exists():
                _run("ip", "link", "delete", f"{VETH_PREFIX}{i}", check=False)
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            _run("ip", "link", "delete", BRIDGE, check=False)
        _run("nft", "delete", "table", "inet", GUARD_TABLE, check=False)
        self.hosts.clear()
