"""The DNS server's Prometheus metrics on the ``metrics`` port (9153) of its ``kube-dns`` endpoint, named as
CoreDNS names them (``coredns_dns_requests_total``, ``coredns_dns_responses_total``, ``coredns_cache_*``,
``coredns_forward_*``) so dashboards written for CoreDNS read them; ``/health`` answers ``OK`` while serving."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from pybernetes.dns.forward import Forwarder

PORT = 9153
CONTENT_TYPE = "text/plain; version=0.0.4"
RCODES = ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP")


def render(counts: Mapping[str, int], forwarder: Forwarder) -> str:
    """The exposition text for a server's ``counts`` and its forwarder."""
    lines = ["# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.",
             "# TYPE coredns_dns_requests_total counter"]
    lines += [f'coredns_dns_requests_total{{proto="{p}"}} {counts.get(p, 0)}' for p in ("udp", "tcp")]
    lines += ["# HELP coredns_dns_responses_total Counter of response status codes.",
              "# TYPE coredns_dns_responses_total counter"]
    lines += [f'coredns_dns_responses_total{{rcode="{r}"}} {counts.get(r, 0)}' for r in RCODES]
    lines += ["# HELP coredns_forward_requests_total Counter of requests made per upstream.",
              "# TYPE coredns_forward_requests_total counter",
              f"coredns_forward_requests_total {counts.get('forwarded', 0)}",
              "# HELP coredns_forward_failures_total Requests no upstream answered.",
              "# TYPE coredns_forward_failures_total counter",
              f"coredns_forward_failures_total {forwarder.failures}",
              "# HELP coredns_cache_hits_total The count of cache hits.",
              "# TYPE coredns_cache_hits_total counter",
              f"coredns_cache_hits_total {forwarder.hits}",
              "# HELP coredns_cache_misses_total The count of cache misses.",
              "# TYPE coredns_cache_misses_total counter",
              f"coredns_cache_misses_total {forwarder.misses}"]
    return "\n".join(lines) + "\n"


async def start(counts: Mapping[str, int], forwarder: Forwarder, *, host: str, port: int = PORT) -> web.AppRunner:
    """Serve ``/metrics`` and ``/health`` on ``host:port``; stop with the returned runner's ``cleanup()``."""
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=render(counts, forwarder), content_type="text/plain",
                            headers={"X-Content-Type": CONTENT_TYPE})

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
