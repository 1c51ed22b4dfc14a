"""Running the proxy: beside a real node's agent (:func:`run_beside`), or alone (``python -m pybernetes.proxy``).

    python -m pybernetes.proxy --kubeconfig KC --node-name N [--table pybernetes] [--cluster-cidr C]...
                               [--disable-network-policy] [--disable-servicelb] [--cleanup]

In the agent the proxy is a supervised task with its own API connections: a crash is logged and the proxy
restarted (with back-off), never taking the node down, and stopping the agent leaves the rules in place so
Service traffic keeps flowing while it restarts (the next proxy rewrites the table atomically; ``python -m
pybernetes.proxy --cleanup`` removes it). Its table is ``pybernetes`` unless ``PYBERNETES_PROXY_TABLE`` names
another: a node is one network namespace, but tests may run several agents in the host's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pybernetes.client.informers import InformerFactory
from pybernetes.client.rest import Client, ClientConfig
from pybernetes.proxy import host
from pybernetes.proxy.conntrack import Cleaner, udp_frontends
from pybernetes.proxy.healthcheck import HealthServers, health_checks
from pybernetes.proxy.proxier import Proxier, ProxyConfig
from pybernetes.proxy.runner import NftError, Runner, default_runner
from pybernetes.proxy.servicelb import ServiceLB

log = logging.getLogger(__name__)
USER_AGENT = "pybernetes-proxy"
TABLE_ENV = "PYBERNETES_PROXY_TABLE"   # another table name: tests running several agents in one network namespace
T = TypeVar("T")


async def run_proxy(*, client: Client, config: ProxyConfig, runner: Runner | None = None, servicelb: bool = True,
                    health: bool = True, prepare_host: bool = True) -> None:
    """The proxy until cancelled: informers, the sync loop, the LoadBalancer status controller, the
    health-check servers and the clean-up of stale UDP flows."""
    if prepare_host:
        await asyncio.to_thread(host.prepare)
    informers = InformerFactory(client)
    changed = asyncio.Event()
    proxier = Proxier(config=config, runner=runner or default_runner(), informers=informers,
                      on_synced=lambda _p: changed.set())
    lb = ServiceLB(client=client, services=proxier.services, nodes=proxier.nodes) if servicelb else None
    servers = HealthServers() if health else None
    cleaner = Cleaner()
    informers.start()

    async def synced() -> None:
        await asyncio.gather(proxier.services.synced.wait(), proxier.slices.synced.wait(),
                             proxier.nodes.synced.wait())
        log.info("proxy informers synced", extra={"node": config.node_name, "table": config.table})

    def slices_of(key: str) -> list[dict[str, Any]]:
        return proxier.slices.by_index("service", key)

    async def after_syncs() -> None:
        """Work that follows committed rules: health-check servers, stale UDP flows."""
        while True:
            await changed.wait()
            changed.clear()
            if servers is not None:
                await servers.sync(health_checks(proxier.services.list(), slices_of, node=config.node_name))
            if proxier.udp_changed:
                await cleaner.clean(udp_frontends(proxier.services.list(), slices_of))

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(proxier.run(synced), name="proxy-sync")
            if lb is not None:
                tg.create_task(lb.run(), name="proxy-servicelb")
            tg.create_task(after_syncs(), name="proxy-after-sync")
    finally:
        if servers is not None:
            await asyncio.shield(servers.close())
        await asyncio.shield(informers.stop())


async def supervise(make: Callable[[], Awaitable[None]], *, name: str = "proxy", backoff_max: float = 30.0) -> None:
    """Run ``make()`` again whenever it fails, with back-off; returns only by cancellation."""
    backoff = 1.0
    while True:
        try:
            await make()
            backoff = 1.0
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("component crashed; restarting", extra={"component": name, "after": backoff})
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, backoff_max)


async def run_beside(agent: Awaitable[T], *, server: str, ca: bytes | None, token: str, node_name: str) -> T:
    """Run the proxy for ``node_name`` while ``agent`` runs; return the agent's result."""
    client = Client(ClientConfig(server=server, ca_pem=ca, token=token, user_agent=USER_AGENT), limit=8)
    config = ProxyConfig(node_name=node_name, table=os.environ.get(TABLE_ENV) or "pybernetes")
    task = asyncio.create_task(supervise(lambda: run_proxy(client=client, config=config)), name="kube-proxy")
    try:
        return await agent
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        await client.close()


async def cleanup(table: str, runner: Runner | None = None) -> bool:
    """Delete the proxy's table; False when there was none."""
    try:
        await (runner or default_runner()).apply(f"delete table ip {table}\n")
        return True
    except NftError:
        return False


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m pybernetes.proxy", description="Service proxy and "
                                 "NetworkPolicy enforcement for one node (nftables).")
    ap.add_argument("--kubeconfig", help="credentials for the API server")
    ap.add_argument("--node-name", default="", help="this node's name (local endpoints, local pods)")
    ap.add_argument("--table", default="pybernetes", help="the nftables table (family ip) the proxy owns")
    ap.add_argument("--cluster-cidr", action="append", default=[],
                    help="pod CIDR(s) of the cluster (default: every Node's spec.podCIDRs)")
    ap.add_argument("--disable-network-policy", action="store_true")
    ap.add_argument("--disable-servicelb", action="store_true", help="do not write LoadBalancer ingress IPs")
    ap.add_argument("--disable-health-check", action="store_true", help="do not serve healthCheckNodePorts")
    ap.add_argument("--cleanup", action="store_true", help="delete the table and exit")
    ap.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return ap


async def _main(args: argparse.Namespace) -> int:
    if args.cleanup:
        await cleanup(args.table)
        return 0
    if not args.kubeconfig or not args.node_name:
        print("python -m pybernetes.proxy: --kubeconfig and --node-name are required", file=sys.stderr)
        return 2
    client = Client(ClientConfig.from_kubeconfig(args.kubeconfig, user_agent=USER_AGENT), limit=8)
    config = ProxyConfig(node_name=args.node_name, table=args.table, cluster_cidrs=tuple(args.cluster_cidr),
                         network_policy=not args.disable_network_policy)
    try:
        await run_proxy(client=client, config=config, servicelb=not args.disable_servicelb,
                        health=not args.disable_health_check)
        return 0
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def until_signal() -> int:
        task = asyncio.ensure_future(_main(args))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            return 0

    return asyncio.run(until_signal())
