"""Service proxy benchmark: programming latency with 1,000 Services, and throughput through a ClusterIP.

    sudo .venv/bin/python -m bench.proxy [--services 1000] [--samples 100] [--seconds 5] [--json out.json]

Set-up (root): the e2e lab (``tests/e2e/proxylab.py``: network-namespace "pods" on a bridge of their own,
10.99.27.0/24, the Service CIDR 10.99.128.0/21 routed to it), a real ``pybernetes server`` (no controllers:
EndpointSlices are written by the benchmark) and ``python -m pybernetes.proxy`` in its own process, on its own
nftables table. ``--services`` Services each get a one-endpoint EndpointSlice, then:

- **initial sync**: proxy start → the last Service answers;
- **programming latency** (p50/p99 over ``--samples``): an EndpointSlice update moving a Service to another
  pod → the first new connection to its ClusterIP that reaches the new pod (measured from before the API write,
  so it includes the write, the watch, the sync and nft); and the same for creating a new Service with its
  slice (Service change → traffic follows);
- **throughput**: HTTP requests per second from a client pod to nginx in a server pod, one new TCP connection
  per request (each is a new conntrack entry and DNAT), straight to the pod IP and through the ClusterIP, in
  short runs alternated ``--rounds`` times (a shared machine's load drifts; the ratio is the median of the
  pairs). The two paths reach nginx on different ports, so neither meets the other's TIME_WAIT tuples.

Prints a Markdown section; ``--json`` also writes the figures for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.proxylab import Lab, ProxyProcess, lab
from tests.harness import start_server

from bench.stats import percentile
from pybernetes.client.resources import ENDPOINTSLICES, NODES, SERVICES
from pybernetes.client.rest import Client, ClientConfig

SUBNET, SERVICE_CIDR = "10.99.27", "10.99.128.0/21"
NODE = "bench-proxy-node"
NGINX_CONF = textwrap.dedent("""
    worker_processes 1;
    daemon off;
    pid {dir}/nginx.pid;
    error_log stderr error;
    events {{ worker_connections 4096; }}
    http {{
        access_log off;
        server {{ listen 8081 backlog=4096; listen 8082 backlog=4096; location / {{ return 200 "ok\\n"; }} }}
    }}
""")
LOAD = textwrap.dedent("""
    import socket, sys, time
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    req = b"GET / HTTP/1.0\\r\\n\\r\\n"
    n = errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            c = socket.create_connection((host, port), 2)
            c.sendall(req)
            while c.recv(4096):
                pass
            c.close()
            n += 1
        except OSError:
            errors += 1
    print(n, errors)
""")


@dataclass
class ProxyBench:
    services: int
    initial_sync: float = 0.0
    endpoint_change: list[float] = field(default_factory=list)
    service_create: list[float] = field(default_factory=list)
    direct_rps: list[float] = field(default_factory=list)
    clusterip_rps: list[float] = field(default_factory=list)
    proxy_syncs: str = ""

    def summary(self) -> dict[str, Any]:
        def pct(xs: list[float]) -> dict[str, float]:
            s = sorted(xs)
            return {"p50": percentile(s, 50), "p99": percentile(s, 99), "max": s[-1], "n": len(s)} if s else {}
        direct, vip = statistics.median(self.direct_rps or [0]), statistics.median(self.clusterip_rps or [0])
        pairs = [v / d for d, v in zip(self.direct_rps, self.clusterip_rps, strict=False) if d]
        return {"services": self.services, "initial_sync_s": self.initial_sync,
                "endpoint_change_s": pct(self.endpoint_change), "service_create_s": pct(self.service_create),
                "direct_rps": direct, "clusterip_rps": vip, "ratio": statistics.median(pairs) if pairs else 0.0}

    def markdown(self) -> str:
        s = self.summary()

        def row(name: str, d: dict[str, float]) -> str:
            if not d:
                return f"| {name} | — | — | — | 0 |"
            cells = " | ".join(f"{d[k] * 1e3:.1f} ms" for k in ("p50", "p99", "max"))
            return f"| {name} | {cells} | {d['n']} |"
        return "\n".join([
            f"### Service proxy (nftables), {self.services:,} Services",
            "",
            f"Initial sync (proxy start → the last Service answers): {s['initial_sync_s']:.2f} s",
            "",
            "| programming latency (API write → traffic follows) | p50 | p99 | max | samples |",
            "|---|---|---|---|---|",
            row("EndpointSlice update (endpoint moves)", s["endpoint_change_s"]),
            row("new Service + EndpointSlice", s["service_create_s"]),
            "",
            "| HTTP, new connection per request (client pod → nginx pod) | requests/s |",
            "|---|---|",
            f"| straight to the pod IP (floor) | {s['direct_rps']:,.0f}/s |",
            f"| through the ClusterIP | {s['clusterip_rps']:,.0f}/s |",
            f"| ratio ClusterIP / pod IP (median of {len(self.direct_rps)} alternated pairs) | {s['ratio']:.2f}× |",
        ])


def service(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}", "namespace": "default"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}


def endpoint_slice(i: int, ip: str, port: int = 8080) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"s{i}-bench", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": f"s{i}"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "nodeName": NODE, "conditions": {"ready": True}}]}


async def gather_limited(n: int, coros: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(n)

    async def one(c: Any) -> Any:
        async with sem:
            return await c
    return await asyncio.gather(*(one(c) for c in coros))


def first_answer(lab_: Lab, ip: str, want: str, *, timeout: float) -> float | None:
    """Poll ``ip:80`` from the host with new connections until a body starts with ``want``; the time it did.

    Each try gives up after 10 ms: a connection whose first packet left before the rule existed is never
    translated (conntrack keeps its first decision), so a longer try would only measure the try."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab_.get_from_host(ip, 80, timeout=0.01).startswith(want):
            return time.monotonic()
    return None


async def measure(args: argparse.Namespace, work: Path) -> ProxyBench:
    result = ProxyBench(services=args.services)
    with lab(work / "lab", subnet=SUBNET, service_cidr=SERVICE_CIDR) as lab_:
        for name in ("p0", "p1", "client"):
            lab_.add_pod(name)
        srv = start_server(work / "server", "--service-cidr", SERVICE_CIDR, "--disable-controller-manager",
                           "--disable-scheduler")
        proxy = ProxyProcess(kubeconfig=srv.kubeconfig, node=NODE, table=f"pybb{lab_.tag}", log=work / "proxy.log",
                             extra=("--disable-servicelb", "--disable-network-policy"))
        client = Client(ClientConfig.from_kubeconfig(srv.kubeconfig), limit=32)
        nginx: subprocess.Popen[bytes] | None = None
        try:
            await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
                                        "spec": {"podCIDR": lab_.cidr, "podCIDRs": [lab_.cidr]}})
            pods = [lab_.pods["p0"].ip, lab_.pods["p1"].ip]
            created = await gather_limited(16, [client.create(SERVICES, service(i), "default")
                                                for i in range(args.services)])
            ips = {int(s["metadata"]["name"][1:]): s["spec"]["clusterIP"] for s in created}
            await gather_limited(16, [client.create(ENDPOINTSLICES, endpoint_slice(i, pods[i % 2]), "default")
                                      for i in range(args.services)])
            start = time.monotonic()
            proxy.start()
            last = args.services - 1
            done = await asyncio.to_thread(first_answer, lab_, ips[last], f"p{last % 2}", timeout=300)
            if done is None:
                raise RuntimeError("the proxy never programmed the Services:\n" + proxy.tail())
            result.initial_sync = done - start

            for k in range(args.samples):                         # endpoint moves to the other pod
                i = (k * 7919) % args.services
                target = (i + 1 + k) % 2
                t0 = time.monotonic()
                await client.update(ENDPOINTSLICES, {**endpoint_slice(i, pods[target]), "metadata": {
                    **endpoint_slice(i, pods[target])["metadata"],
                    "resourceVersion": (await client.get(ENDPOINTSLICES, f"s{i}-bench", "default"))[
                        "metadata"]["resourceVersion"]}})
                t_seen = await asyncio.to_thread(first_answer, lab_, ips[i], f"p{target}", timeout=30)
                if t_seen is not None:
                    result.endpoint_change.append(t_seen - t0)
            for k in range(args.samples):                         # a new Service and its slice
                i = args.services + k
                t0 = time.monotonic()
                svc = await client.create(SERVICES, service(i), "default")
                await client.create(ENDPOINTSLICES, endpoint_slice(i, pods[k % 2]), "default")
                t_seen = await asyncio.to_thread(first_answer, lab_, svc["spec"]["clusterIP"], f"p{k % 2}",
                                                 timeout=30)
                if t_seen is not None:
                    result.service_create.append(t_seen - t0)

            nginx = start_nginx(lab_, work)
            await client.update(ENDPOINTSLICES, {**endpoint_slice(0, pods[0], port=8082), "metadata": {
                **endpoint_slice(0, pods[0])["metadata"],
                "resourceVersion": (await client.get(ENDPOINTSLICES, "s0-bench", "default"))["metadata"][
                    "resourceVersion"]}})
            await asyncio.to_thread(first_answer, lab_, ips[0], "ok", timeout=30)
            for r in range(args.rounds):                          # alternate, and alternate who goes first
                runs = [("direct", pods[0], 8081), ("vip", ips[0], 80)]
                for kind, host, port in runs if r % 2 == 0 else runs[::-1]:
                    rps = load(lab_, work, host, port, args.seconds, args.clients)
                    (result.direct_rps if kind == "direct" else result.clusterip_rps).append(rps)
            result.proxy_syncs = proxy.tail()[-600:]
        finally:
            if nginx is not None and nginx.poll() is None:
                os.killpg(nginx.pid, signal.SIGKILL)
                nginx.wait(10)
            await client.close()
            proxy.stop()
            proxy.delete_table()
            srv.stop()
    return result


def start_nginx(lab_: Lab, work: Path) -> subprocess.Popen[bytes]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    d = work / "nginx"
    d.mkdir(exist_ok=True)
    (d / "nginx.conf").write_text(NGINX_CONF.format(dir=d))
    p = subprocess.Popen(["ip", "netns", "exec", lab_.pods["p0"].netns, nginx, "-c", str(d / "nginx.conf"),
                          "-p", str(d), "-e", "stderr"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if lab_.get_from_host(lab_.pods["p0"].ip, 8081, timeout=0.5) == "ok":
            return p
        time.sleep(0.05)
    raise RuntimeError("nginx did not start")


def load(lab_: Lab, work: Path, host: str, port: int, seconds: float, clients: int) -> float:
    """Requests per second from ``clients`` processes in the client pod, one connection per request."""
    script = work / "load.py"
    script.write_text(LOAD)
    procs = [subprocess.Popen(["ip", "netns", "exec", lab_.pods["client"].netns, sys.executable, str(script), host,
                               str(port), str(seconds)], stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    total = 0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 30)
        n, _errors = (int(x) for x in out.split())
        total += n
    return total / seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=100, help="programming latency samples per kind")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one throughput run")
    ap.add_argument("--rounds", type=int, default=15, help="alternated pod-IP / ClusterIP throughput run pairs")
    ap.add_argument("--clients", type=int, default=2, help="load-generator processes")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench.proxy needs root (network namespaces, nftables)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(measure(args, work))
    print(result.markdown())
    if args.json:
        args.json.write_text(json.dumps({**result.summary(), "raw": asdict(result)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
