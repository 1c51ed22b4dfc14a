"""The kubelet server's serving certificate (kept, remade for new names) and fetching the cluster's client CA
(with the join token; a refusal is not retried)."""

from __future__ import annotations

import pathlib

import pytest
from aiohttp import web

from pybernetes.apiserver.certs import ensure_pki
from pybernetes.kubelet import serving


def test_the_serving_certificate_is_kept_and_remade_for_new_names(tmp_path: pathlib.Path) -> None:
    from cryptography import x509
    crt, key = serving.ensure_serving_cert(tmp_path, names=["node-a"], ips=["10.0.0.5"])
    first = crt.read_bytes()
    assert serving.ensure_serving_cert(tmp_path, names=["node-a"], ips=["10.0.0.5"])[0].read_bytes() == first
    cert = x509.load_pem_x509_certificate(first)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "node-a" in san.get_values_for_type(x509.DNSName)
    assert {str(i) for i in san.get_values_for_type(x509.IPAddress)} >= {"10.0.0.5", "127.0.0.1"}
    assert key.stat().st_mode & 0o777 == 0o600
    serving.ensure_serving_cert(tmp_path, names=["node-b"])
    assert crt.read_bytes() != first


async def test_fetch_client_ca(tmp_path: pathlib.Path) -> None:
    pki = ensure_pki(tmp_path)
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Bearer good":
            return web.Response(status=403, text="forbidden")
        return web.Response(body=pki.client_ca.read_bytes())

    app = web.Application()
    app.router.add_get(serving.CLIENT_CA_PATH, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        assert await serving.fetch_client_ca(url, token="good", server_ca=None) == pki.client_ca.read_bytes()
        with pytest.raises(RuntimeError, match="403"):
            await serving.fetch_client_ca(url, token="bad", server_ca=None, attempts=5)
        assert seen == ["Bearer good", "Bearer bad"]          # a refusal is not retried
    finally:
        await runner.cleanup()
