"""Starting and stopping one API server: store → watch cache → registry → HTTPS listener → bootstrap.

Start-up is a sequence of named steps; a failure says which step failed (as k3s does). ``port=0`` binds a free
port, reported by :attr:`APIServer.port` once started.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import ssl
from dataclasses import dataclass, field

from aiohttp import web

from pybernetes.api.builtin import builtin_registry
from pybernetes.apiserver import bootstrap, endpoint_reconciler, kubeconfig
from pybernetes.apiserver.admission import AdmissionChain
from pybernetes.apiserver.app import make_app
from pybernetes.apiserver.authn import Authenticator
from pybernetes.apiserver.authz import AlwaysAllowAuthenticated
from pybernetes.apiserver.bootstrap_data import sync_pki
from pybernetes.apiserver.certs import PKI, ensure_pki
from pybernetes.apiserver.rbac import RBACAuthorizer
from pybernetes.apiserver.registry import GenericREST
from pybernetes.apiserver.sa_tokens import ServiceAccountAuthenticator, TokenSigner
from pybernetes.apiserver.state import ServerConfig, ServerState
from pybernetes.storage.interface import Store, open_store
from pybernetes.storage.watchcache import WatchCache

log = logging.getLogger(__name__)


COMPACTION_INTERVAL = 300.0


class StartupError(Exception):
    pass


@dataclass(slots=True)
class APIServerOptions:
    data_dir: pathlib.Path
    bind_address: str = "0.0.0.0"
    port: int = 6443
    datastore_endpoint: str = ""
    token: str | None = None
    advertise_address: str = ""
    tls_sans: list[str] = field(default_factory=list)
    authorization_mode: str = "RBAC"
    config: ServerConfig = field(default_factory=ServerConfig)


class APIServer:
    def __init__(self, opts: APIServerOptions) -> None:
        self.opts = opts
        self.pki: PKI | None = None
        self.store: Store | None = None
        self.cache: WatchCache | None = None
        self.state: ServerState | None = None
        self.runner: web.AppRunner | None = None
        self.port = opts.port
        self._tasks: list[asyncio.Task[None]] = []
        self._rest: GenericREST | None = None

    @property
    def url(self) -> str:
        host = self.opts.bind_address
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"https://{host}:{self.port}"

    async def start(self) -> None:
        o = self.opts
        step = "open the datastore"
        try:
            o.data_dir.mkdir(parents=True, exist_ok=True)
            endpoint = o.datastore_endpoint or f"sqlite://{o.data_dir / 'db' / 'state.db'}"
            self.store = await open_store(endpoint)
            step = "generate certificates"
            if o.token:
                await sync_pki(self.store, o.data_dir, o.token)
            self.pki = ensure_pki(o.data_dir, extra_sans=o.tls_sans, service_ip=_first_service_ip(o.config))
            step = "fill the watch cache"
            self.cache = WatchCache(self.store)
            await self.cache.start()
            step = "build the API"
            from pybernetes.apiserver import rest
            rest.install()
            authn = Authenticator(static_token=o.token)
            cfg = o.config
            authorizer = RBACAuthorizer(self.cache) if o.authorization_mode == "RBAC" else \
                AlwaysAllowAuthenticated()
            state = ServerState(config=cfg, store=self.store, cache=self.cache, resources=builtin_registry(),
                                authorizer=authorizer, admission=AdmissionChain())
            state.extra["authenticator"] = authn
            state.extra["pki"] = self.pki
            signer = TokenSigner(self.pki.sa_key.read_bytes())
            state.extra["sa_signer"] = signer
            authn.token_authenticators.append(ServiceAccountAuthenticator(state, signer))
            from pybernetes.apiserver.admit import default_plugins
            state.admission.plugins.extend(default_plugins())
            self.state = state
            app, dispatcher = make_app(state, authn)
            step = f"listen on {o.bind_address}:{o.port}"
            self.runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
            await self.runner.setup()
            site = web.TCPSite(self.runner, o.bind_address, o.port, ssl_context=self._ssl_context(),
                               backlog=1024, reuse_address=True)
            await site.start()
            server = site._server
            if server is not None and server.sockets:  # type: ignore[attr-defined]
                self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            cfg.port = self.port
            cfg.advertise_address = o.advertise_address or _advertise(o.bind_address)
            step = "bootstrap system objects"
            rest = self._rest = GenericREST(state)
            await bootstrap.run(rest, service_ip=_first_service_ip(cfg), endpoint_port=self.port)
            await endpoint_reconciler.reconcile_once(rest, cfg.advertise_address, self.port)
            self._tasks.append(asyncio.create_task(endpoint_reconciler.run(rest, cfg.advertise_address, self.port),
                                                   name="endpoint-reconciler"))
            from pybernetes.apiserver import crds
            await crds.start(state, dispatcher)
            self._tasks.append(asyncio.create_task(self._compact_periodically(), name="compaction"))
            from pybernetes.apiserver.gcpolicy import GCPolicy
            self._tasks.append(asyncio.create_task(GCPolicy().run(), name="gc-policy"))
            dispatcher.ready = True
        except StartupError:
            raise
        except Exception as e:
            log.exception("apiserver start-up failed", extra={"step": step})
            raise StartupError(f"failed to {step}: {e}") from e

    def _ssl_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.pki.serving_cert, self.pki.serving_key)
        ctx.load_verify_locations(self.pki.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def admin_kubeconfig(self, server: str | None = None) -> str:
        assert self.pki is not None
        return kubeconfig.render(server=server or self.url, ca_pem=self.pki.server_ca.read_bytes(),
                                 cert_pem=self.pki.admin_cert.read_bytes(), key_pem=self.pki.admin_key.read_bytes())

    async def _compact_periodically(self, interval: float = COMPACTION_INTERVAL) -> None:
        """As kube-apiserver: every interval, compact the store to the revision seen one interval ago, so watches
        can resume from anything recent while history does not grow forever."""
        assert self.store is not None
        previous = 0
        while True:
            await asyncio.sleep(interval)
            try:
                current = await self.store.current_revision()
                if previous:
                    await self.store.compact(previous)
                previous = current
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("compaction failed")

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._rest is not None and self.state is not None:
            try:       # leave the kubernetes Endpoints now rather than after the lease TTL
                await asyncio.wait_for(endpoint_reconciler.remove(self._rest, self.state.config.advertise_address,
                                                                  self.port), 3.0)
            except Exception:
                log.warning("could not remove this server from the kubernetes Endpoints")
        if self.runner is not None:
            await self.runner.cleanup()
        if self.cache is not None:
            await self.cache.close()
        if self.store is not None:
            await self.store.close()


def _first_service_ip(cfg: ServerConfig) -> str:
    import ipaddress
    net = ipaddress.ip_network(cfg.service_cidr, strict=False)
    return str(net.network_address + 1)


def _advertise(bind: str) -> str:
    """The address published in the ``kubernetes`` Endpoints. Endpoints may not be loopback addresses (as
    upstream validates), so a server bound to loopback or to every address publishes its primary address."""
    if bind not in ("0.0.0.0", "::", "") and not bind.startswith("127.") and bind != "::1":
        return bind
    import socket
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))     # no packet is sent: this only picks the default route's address
            return str(s.getsockname()[0])
    except OSError:
        return "192.0.2.1"          # TEST-NET-1: no route at all; the Endpoints must still be valid
