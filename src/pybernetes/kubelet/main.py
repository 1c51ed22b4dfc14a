"""``pybernetes agent``: join a server as one real node (issue 4) or as N simulated nodes.

    pybernetes agent --server URL --token T [--data-dir D] --simulated N [--node-name-prefix P]
                     [--node-capacity cpu=8,memory=32Gi,pods=110] [--node-labels k=v,...]

Without ``--simulated`` the agent runs this machine as a real node (``realnode.py``), with the Service proxy and
NetworkPolicy enforcement (``pybernetes.proxy``) beside it unless ``--disable-kube-proxy``.

Exit codes: 0 after SIGTERM/SIGINT, 1 when the server cannot be trusted or reached or the host cannot run
containers, 2 for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pybernetes.client.rest import Client, ClientConfig
from pybernetes.kubelet.agent import Agent
from pybernetes.kubelet.config import AgentConfig, ConfigError, parse_capacity, parse_labels, simulated_names
from pybernetes.kubelet.trust import TrustError, server_ca

log = logging.getLogger(__name__)
NODE_EVENTS_UP_TO = 100                # more simulated nodes than this: no per-node condition events
USER_AGENT = "pybernetes-kubelet"


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    from pybernetes.cli import default_data_dir
    data_dir = (args.data_dir or default_data_dir() / "agent").resolve()
    if not args.simulated:
        from pybernetes.kubelet.realnode import real_config
        return real_config(args, data_dir)
    names = simulated_names(args.simulated, prefix=args.node_name_prefix, node_name=args.node_name)
    return AgentConfig(server=args.server.rstrip("/"), token=args.token, data_dir=data_dir, node_names=names,
                       simulated=True, capacity=parse_capacity(args.node_capacity),
                       labels=parse_labels(args.node_labels), node_events=len(names) <= NODE_EVENTS_UP_TO)


async def run_agent(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as e:
        print(f"pybernetes agent: {e}", file=sys.stderr)
        return 2
    try:
        ca = await server_ca(config.server, config.data_dir, config.token)
    except TrustError as e:
        print(f"pybernetes agent: {e}", file=sys.stderr)
        return 1
    if not config.simulated:
        from pybernetes.kubelet.realnode import run_real
        if getattr(args, "disable_kube_proxy", False):
            return await run_real(config, ca, args)
        from pybernetes.proxy.main import run_beside  # Services and NetworkPolicy for this node (issue 5)
        return await run_beside(run_real(config, ca, args), server=config.server, ca=ca, token=config.token,
                                node_name=config.node_names[0])
    return await run_simulated(config, ca)


async def run_simulated(config: AgentConfig, ca: bytes | None) -> int:
    from pybernetes.kubelet.runtime.simulated import SimulatedRuntime

    cfg = ClientConfig(server=config.server, ca_pem=ca, token=config.token, user_agent=USER_AGENT)
    client, hb, ev = Client(cfg, limit=64), Client(cfg, limit=64), Client(cfg, limit=16)
    agent = Agent(config=config, client=client, heartbeat_client=hb, events_client=ev,
                  runtime=SimulatedRuntime())
    log.info("starting agent", extra={"server": config.server, "nodes": len(config.node_names)})
    try:
        await agent.run()
        return 0
    finally:
        await asyncio.shield(_close(agent, client, hb, ev))


async def _close(agent: Agent, *clients: Client) -> None:
    try:
        await agent.close()
    finally:
        for c in clients:
            await c.close()
