"""CNI for real: a pod network namespace made with ``ip netns add`` joins the bridge through the Debian plugins;
its IP answers ping from the host, a hostPort reaches a server inside it through portmap, and teardown releases
the IP. Needs root, iproute2, busybox-static and containernetworking-plugins (a missing one fails under CI)."""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from pybernetes.kubelet.network.cni import PLUGIN_DIR, CNINetwork

pytestmark = pytest.mark.e2e
CIDR = "10.199.7.0/24"


def require(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"e2e prerequisite missing: {what}")
        pytest.skip(f"e2e prerequisite missing: {what}")


@pytest.fixture
def netns() -> Iterator[tuple[str, str]]:
    require(os.geteuid() == 0, "root")
    require(shutil.which("ip") is not None, "iproute2")
    require(shutil.which("busybox") is not None, "busybox-static")
    require(all(os.access(f"{PLUGIN_DIR}/{p}", os.X_OK) for p in ("bridge", "host-local", "loopback", "portmap")),
            "containernetworking-plugins")
    name = f"pybt-{uuid.uuid4().hex[:8]}"
    bridge = f"pybt{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name, bridge
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        subprocess.run(["ip", "link", "del", bridge], check=False, stderr=subprocess.DEVNULL)


def ping(ip: str) -> bool:
    return subprocess.run(["busybox", "ping", "-c", "1", "-W", "2", ip], capture_output=True).returncode == 0


async def http_get(host: str, port: int) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    writer.write(b"GET / HTTP/1.0\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_setup_ping_hostport_teardown(netns: tuple[str, str], tmp_path: pathlib.Path) -> None:
    name, bridge = netns
    path = f"/var/run/netns/{name}"
    host_port = free_port()
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u"},
           "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": host_port}]}]}}
    net = CNINetwork(data_dir=tmp_path, bridge=bridge)
    ips = await net.setup(path, container_id="e2e-sb", pod=pod, pod_cidr=CIDR)
    assert len(ips) == 1 and ips[0].startswith("10.199.7.") and ips[0] != "10.199.7.1"
    state = tmp_path / "cni" / "networks" / "pybernetes"
    assert (state / ips[0]).exists()
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from the pod\n")
    httpd = await asyncio.create_subprocess_exec("ip", "netns", "exec", name, "busybox", "httpd", "-f", "-p", "80",
                                                 "-h", str(www))
    try:
        assert await asyncio.to_thread(ping, ips[0])
        await net.check(path, container_id="e2e-sb")
        body = b""
        for _ in range(50):                      # httpd needs a moment to listen
            try:
                body = await http_get(ips[0], 80)
                break
            except OSError:
                await asyncio.sleep(0.05)
        assert b"hello from the pod" in body
        assert b"hello from the pod" in await http_get("127.0.0.1", host_port)      # portmap DNAT
    finally:
        httpd.terminate()
        await httpd.wait()
    await net.teardown(path, container_id="e2e-sb", pod=pod)
    assert not (state / ips[0]).exists()                          # host-local released the address
    assert not await asyncio.to_thread(ping, ips[0])
    out = (await asyncio.to_thread(subprocess.run, ["iptables", "-t", "nat", "-S"], capture_output=True,
                                   text=True)).stdout
    assert f"--dport {host_port}" not in out
    await net.teardown(path, container_id="e2e-sb", pod=pod)       # idempotent
    # the address is handed out again (host-local round-robins, so it is the next one, and DEL freed the first)
    again = await net.setup(path, container_id="e2e-sb2", pod=pod, pod_cidr=CIDR)
    await net.teardown(path, container_id="e2e-sb2", pod=pod)
    assert again and not any(p.name.startswith("10.") for p in state.iterdir())
