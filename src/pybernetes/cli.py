"""``pybernetes`` command line: flags become one config record, then the component starts (k3s's shape).

    pybernetes server [--data-dir D] [--bind-address A] [--port P] [--write-kubeconfig F]
                      [--datastore-endpoint sqlite:///F | etcd://h:p[,h:p]] [--token T] [--disable-agent] ...
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pathlib
import secrets
import signal
import sys
from collections.abc import Sequence

log = logging.getLogger("pybernetes")


def default_data_dir() -> pathlib.Path:
    if os.geteuid() == 0:
        return pathlib.Path("/var/lib/pybernetes")
    return pathlib.Path.home() / ".local" / "share" / "pybernetes"


def _add_logging(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-level", default=os.environ.get("PYBERNETES_LOG_LEVEL", "INFO"),
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="log verbosity (default INFO)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pybernetes", description="A Kubernetes-compatible orchestrator.")
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("server", help="run the control plane (and a local node unless --disable-agent)")
    s.add_argument("--data-dir", type=pathlib.Path, default=None,
                   help="state directory (default /var/lib/pybernetes as root, else ~/.local/share/pybernetes)")
    s.add_argument("--bind-address", default="0.0.0.0", help="address the API server listens on")
    s.add_argument("--port", type=int, default=6443, help="API server port (0 picks a free port and prints it)")
    s.add_argument("--advertise-address", default="", help="address other components use to reach this server")
    s.add_argument("--tls-san", action="append", default=[], help="extra name or IP in the serving certificate")
    s.add_argument("--write-kubeconfig", type=pathlib.Path, default=None, help="also write the admin kubeconfig here")
    s.add_argument("--datastore-endpoint", default="",
                   help="sqlite:///PATH (default: <data-dir>/db/state.db) or etcd://HOST:PORT[,HOST:PORT]")
    s.add_argument("--token", default=None, help="cluster join token (default: generated, kept in <data-dir>/token)")
    s.add_argument("--disable-agent", action="store_true", help="do not run a node on this machine")
    s.add_argument("--authorization-mode", choices=("RBAC", "AlwaysAllow"), default="RBAC",
                   help="RBAC (default; system:masters may do anything) or AlwaysAllow (any authenticated user)")
    s.add_argument("--service-cidr", default="10.43.0.0/16")
    s.add_argument("--cluster-cidr", default="10.42.0.0/16")
    s.add_argument("--service-node-port-range", default="30000-32767")
    s.add_argument("--cluster-dns", default="10.43.0.10")
    s.add_argument("--cluster-domain", default="cluster.local")
    s.add_argument("--disable-scheduler", action="store_true", help="do not run the scheduler")
    s.add_argument("--disable-controller-manager", action="store_true", help="do not run the controller manager")
    s.add_argument("--simulated-nodes", type=int, default=0,
                   help="run N simulated nodes in the local agent instead of a real node (scale tests)")
    s.add_argument("--node-eviction-timeout", default="300s",
                   help="default toleration of not-ready/unreachable nodes before their pods are evicted")
    s.add_argument("--node-monitor-grace-period", default="40s",
                   help="how long a node may miss its heartbeats before it is marked Unknown")
    s.add_argument("--node-ip", default="", help="InternalIP of the local node (passed to its agent)")
    s.add_argument("--registry-config", type=pathlib.Path, default=None,
                   help="registries.yaml for the local node's image pulls (passed to its agent)")
    s.add_argument("--disable-default-registry-endpoint", action="store_true",
                   help="the local node pulls registries that have mirrors from their mirrors only")
    s.add_argument("--disable-kube-proxy", action="store_true",
                   help="the local node runs no Service proxy or NetworkPolicy enforcement")
    _add_logging(s)

    c = sub.add_parser("controller-manager", help="run the controllers against an API server")
    c.add_argument("--kubeconfig", required=True)
    c.add_argument("--leader-elect", default="true", choices=("true", "false"))
    c.add_argument("--controllers", default="", help="comma-separated names (default: all)")
    c.add_argument("--node-monitor-grace-period", default="40s")
    c.add_argument("--cluster-cidr", default="10.42.0.0/16")
    c.add_argument("--node-cidr-mask-size", type=int, default=24)
    c.add_argument("--terminated-pod-gc-threshold", type=int, default=12500,
                   help="terminated pods kept before the pod garbage collector deletes the oldest")
    c.add_argument("--horizontal-pod-autoscaler-sync-period", default="15s",
                   help="how often each HorizontalPodAutoscaler is reconciled")
    _add_logging(c)

    sc = sub.add_parser("scheduler", help="run the scheduler against an API server")
    sc.add_argument("--kubeconfig", required=True)
    sc.add_argument("--leader-elect", default="true", choices=("true", "false"))
    _add_logging(sc)

    a = sub.add_parser("agent", help="run a node (or N simulated nodes) that joins a server")
    a.add_argument("--server", required=True, help="the API server URL (as in the kubeconfig the server wrote)")
    a.add_argument("--token", required=True, help="the server's join token")
    a.add_argument("--data-dir", type=pathlib.Path, default=None)
    a.add_argument("--node-name", default="", help="node name (default: the hostname)")
    a.add_argument("--simulated", type=int, default=0, help="register N simulated nodes instead of a real one")
    a.add_argument("--node-name-prefix", default="", help="simulated nodes are named <prefix><i>")
    a.add_argument("--node-capacity", default="cpu=8,memory=32Gi,pods=110",
                   help="capacity of each simulated node")
    a.add_argument("--node-labels", default="", help="extra labels k=v,k2=v2")
    a.add_argument("--kubelet-port", type=int, default=10250,
                   help="port of the kubelet's HTTPS server (logs, exec, attach, port-forward; default 10250)")
    a.add_argument("--registry-config", type=pathlib.Path, default=None,
                   help="registries.yaml: mirrors and credentials (default /etc/pybernetes/registries.yaml if present)")
    a.add_argument("--disable-default-registry-endpoint", action="store_true",
                   help="pull registries that have mirrors from their mirrors only")
    a.add_argument("--node-ip", default="", help="a real node's InternalIP (default: the default route's address)")
    a.add_argument("--oci-runtime", choices=("crun", "runc"), default="crun", help="OCI runtime of a real node")
    a.add_argument("--cluster-dns", default="10.43.0.10", help="the cluster DNS address pods resolve with")
    a.add_argument("--cluster-domain", default="cluster.local")
    a.add_argument("--cni-bridge", default="pyb0",
                   help="a real node's CNI bridge (holds the podCIDR's gateway; one per agent sharing a network "
                        "namespace)")
    a.add_argument("--disable-kube-proxy", action="store_true",
                   help="a real node runs no Service proxy or NetworkPolicy enforcement (nftables)")
    a.add_argument("--pod-log-dir", type=pathlib.Path, default=pathlib.Path("/var/log/pods"),
                   help="where a real node writes container logs (links go to the containers/ beside it)")
    a.add_argument("--cgroup-parent", default="/pybernetes",
                   help="a real node's pods' cgroups go below this (/pybernetes or below; one per agent on a "
                        "machine shared by several)")
    _add_logging(a)

    sh = sub.add_parser("shim", help="the node's container runtime daemon (the agent starts it)")
    sh.add_argument("--root", type=pathlib.Path, required=True, help="state directory (<agent data-dir>/runtime)")
    sh.add_argument("--socket", type=pathlib.Path, required=True, help="unix socket the agent talks to")
    sh.add_argument("--runtime", choices=("crun", "runc"), default="crun", help="OCI runtime binary")
    sh.add_argument("--stop", action="store_true", help="take the node's pods down and stop the running shim")
    _add_logging(sh)

    from pybernetes.kubelet.images.command import configure_parser as configure_images
    im = sub.add_parser("images", help="the node's image store: import, list, pull, rm")
    configure_images(im)
    _add_logging(im)
    return ap


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def load_or_create_token(data_dir: pathlib.Path, given: str | None) -> str:
    path = data_dir / "token"
    if given:
        return given
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_hex(24)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def parse_duration(s: str) -> float:
    """Go-style durations used by our flags: "300s", "5m", "1h30m", "40s", "1.5s"."""
    import re
    total = 0.0
    matched = False
    for num, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", s):
        matched = True
        total += float(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    if not matched:
        try:
            return float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid duration {s!r}") from None
    return total


def component_kubeconfig(data_dir: pathlib.Path, name: str, server_url: str, cn: str) -> pathlib.Path:
    """A kubeconfig with its own client certificate for a control-plane component (group system:masters)."""
    from pybernetes.apiserver import kubeconfig
    from pybernetes.apiserver.certs import issue_client
    path = data_dir / "cred" / f"{name}.kubeconfig"
    cert, key = issue_client(data_dir, cn=cn, org="system:masters")
    ca = (data_dir / "tls" / "server-ca.crt").read_bytes()
    kubeconfig.write(path, kubeconfig.render(server=server_url, ca_pem=ca, cert_pem=cert, key_pem=key))
    return path


def start_components(args: argparse.Namespace, data_dir: pathlib.Path, url: str, token: str):  # -> Supervisor
    from pybernetes.supervisor import Supervisor
    sup = Supervisor()
    logs = data_dir / "logs"
    level = ["--log-level", args.log_level]
    if not args.disable_controller_manager:
        kc = component_kubeconfig(data_dir, "controller-manager", url, "system:kube-controller-manager")
        sup.add("controller-manager", ["controller-manager", "--kubeconfig", str(kc), "--cluster-cidr",
                                       args.cluster_cidr, "--node-monitor-grace-period",
                                       args.node_monitor_grace_period, *level], logs)
    if not args.disable_scheduler:
        kc = component_kubeconfig(data_dir, "scheduler", url, "system:kube-scheduler")
        sup.add("scheduler", ["scheduler", "--kubeconfig", str(kc), *level], logs)
    if not args.disable_agent or args.simulated_nodes:
        agent = ["agent", "--server", url, "--token", token, "--data-dir", str(data_dir / "agent"), *level]
        if args.simulated_nodes:
            agent += ["--simulated", str(args.simulated_nodes)]
        else:
            agent += ["--cluster-dns", args.cluster_dns, "--cluster-domain", args.cluster_domain]
            if args.node_ip:
                agent += ["--node-ip", args.node_ip]
            if args.registry_config:
                agent += ["--registry-config", str(args.registry_config.resolve())]
            if args.disable_default_registry_endpoint:
                agent.append("--disable-default-registry-endpoint")
            if args.disable_kube_proxy:
                agent.append("--disable-kube-proxy")
        sup.add("agent", agent, logs)
    sup.start()
    return sup


async def run_server(args: argparse.Namespace) -> int:
    from pybernetes.apiserver import kubeconfig
    from pybernetes.apiserver.server import APIServer, APIServerOptions, StartupError
    from pybernetes.apiserver.state import ServerConfig

    data_dir: pathlib.Path = (args.data_dir or default_data_dir()).resolve()
    try:
        lo, hi = (int(x) for x in args.service_node_port_range.split("-"))
    except ValueError:
        print("pybernetes: --service-node-port-range must look like 30000-32767", file=sys.stderr)
        return 2
    token = load_or_create_token(data_dir, args.token)
    cfg = ServerConfig(service_cidr=args.service_cidr, cluster_cidr=args.cluster_cidr, node_port_range=(lo, hi),
                       cluster_dns=args.cluster_dns, cluster_domain=args.cluster_domain,
                       default_toleration_seconds=int(parse_duration(args.node_eviction_timeout)))
    server = APIServer(APIServerOptions(data_dir=data_dir, bind_address=args.bind_address, port=args.port,
                                        datastore_endpoint=args.datastore_endpoint, token=token,
                                        advertise_address=args.advertise_address, tls_sans=args.tls_san,
                                        authorization_mode=args.authorization_mode,
                                        config=cfg))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except StartupError as e:
        print(f"pybernetes: {e}", file=sys.stderr)
        await server.stop()
        return 1
    kc = server.admin_kubeconfig()
    kc_path = data_dir / "kubeconfig.yaml"
    kubeconfig.write(kc_path, kc)
    if args.write_kubeconfig:
        kubeconfig.write(args.write_kubeconfig.resolve(), kc)
        kc_path = args.write_kubeconfig.resolve()
    sup = start_components(args, data_dir, server.url, token)
    print(f"pybernetes server is ready: {server.url} (kubeconfig: {kc_path})", flush=True)
    await stop.wait()
    log.info("shutting down")
    await sup.stop()
    await server.stop()
    return 0


def raise_open_file_limit() -> None:
    """Raise the soft open-file limit to the hard one, as Go programs do at start: an API server with a thousand
    watchers, or an agent with many pods, needs more than the usual default of 1,024."""
    import resource
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    raise_open_file_limit()
    setup_logging(args.log_level)
    if args.command == "shim":              # before uvloop: the shim reaps children with its own SIGCHLD handler
        from pybernetes.kubelet.runtime.oci.shimapi import main as run_shim
        sys.exit(run_shim(args.root, args.socket, args.runtime, stop=args.stop))
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    if args.command == "server":
        sys.exit(asyncio.run(run_server(args)))
    if args.command == "controller-manager":
        sys.exit(asyncio.run(_run_until_signal(run_controller_manager_cmd(args))))
    if args.command == "scheduler":
        from pybernetes.scheduler.main import run_scheduler
        sys.exit(asyncio.run(_run_until_signal(run_scheduler(kubeconfig=args.kubeconfig,
                                                             leader_elect=args.leader_elect == "true"))))
    if args.command == "agent":
        from pybernetes.kubelet.main import run_agent
        sys.exit(asyncio.run(_run_until_signal(run_agent(args))))
    if args.command == "images":
        from pybernetes.kubelet.images.command import run as run_images
        sys.exit(run_images(args))
    sys.exit(2)


def run_controller_manager_cmd(args: argparse.Namespace):  # -> Coroutine
    from pybernetes.controllers.manager import run_controller_manager
    options = {"node_monitor_grace_period": parse_duration(args.node_monitor_grace_period),
               "cluster_cidr": args.cluster_cidr,
               "terminated_pod_gc_threshold": args.terminated_pod_gc_threshold,
               "node_cidr_mask_size": args.node_cidr_mask_size,
               "hpa_sync_period": parse_duration(args.horizontal_pod_autoscaler_sync_period)}
    names = [n for n in args.controllers.split(",") if n]
    return run_controller_manager(kubeconfig=args.kubeconfig, leader_elect=args.leader_elect == "true",
                                  controllers=names or None, options=options)


async def _run_until_signal(main) -> int:  # main: Coroutine[Any, Any, Any]
    """Run a component until it returns or SIGTERM/SIGINT arrives; either way exit cleanly."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        result = await task
        return int(result) if isinstance(result, int) else 0
    except asyncio.CancelledError:
        return 0


if __name__ == "__main__":
    main()
