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
    _add_logging(s)
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


async def run_server(args: argparse.Namespace) -> int:
    from pybernetes.apiserver import kubeconfig
    from pybernetes.apiserver.server import APIServer, APIServerOptions, StartupError
    from pybernetes.apiserver.state import ServerConfig

    data_dir: pathlib.Path = (args.data_dir or default_data_dir()).resolve()
    if args.datastore_endpoint.startswith("etcd://"):
        print("pybernetes: --datastore-endpoint etcd://… is not yet supported; use SQLite (the default)",
              file=sys.stderr)
        return 2
    try:
        lo, hi = (int(x) for x in args.service_node_port_range.split("-"))
    except ValueError:
        print("pybernetes: --service-node-port-range must look like 30000-32767", file=sys.stderr)
        return 2
    token = load_or_create_token(data_dir, args.token)
    cfg = ServerConfig(service_cidr=args.service_cidr, cluster_cidr=args.cluster_cidr, node_port_range=(lo, hi),
                       cluster_dns=args.cluster_dns, cluster_domain=args.cluster_domain)
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
    print(f"pybernetes server is ready: {server.url} (kubeconfig: {kc_path})", flush=True)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    if args.command == "server":
        sys.exit(asyncio.run(run_server(args)))
    sys.exit(2)


if __name__ == "__main__":
    main()
