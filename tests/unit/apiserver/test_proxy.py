"""pods/log|exec|attach|portforward through the API server's HTTP chain to an in-process kubelet server: the
container and node checks with upstream's messages, the log stream, upgrades spliced both ways (websocket and
SPDY), kubelet errors relayed or turned into Statuses, and the client-CA endpoint."""

from __future__ import annotations

import asyncio
import errno
import json
import pathlib
import struct
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.kubelet_double import HostRuntime, PodTable, running_status

from pybernetes.api.builtin import builtin_registry
from pybernetes.apiserver import proxy
from pybernetes.apiserver import rest as rest_hooks
from pybernetes.apiserver.admission import AdmissionChain
from pybernetes.apiserver.app import make_app
from pybernetes.apiserver.authn import Authenticator, UserInfo
from pybernetes.apiserver.authz import AlwaysAllowAuthenticated
from pybernetes.apiserver.certs import ensure_pki
from pybernetes.apiserver.state import ServerConfig, ServerState
from pybernetes.kubelet.server import KubeletServer
from pybernetes.storage.interface import open_store
from pybernetes.storage.watchcache import WatchCache
from pybernetes.streaming.spdysession import SpdySession, StreamChannel

Obj = dict[str, Any]
TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# ------------------------------------------------------------------ pure helpers
def pod(name: str, *containers: str, init: tuple[str, ...] = (), node: str = "n1") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"nodeName": node, "containers": [{"name": c, "image": "busybox"} for c in containers],
                     "initContainers": [{"name": c, "image": "busybox"} for c in init]}}


@pytest.mark.parametrize("container,p,expected", [
    ("", pod("p", "only"), "only"),
    ("b", pod("p", "a", "b"), "b"),
    ("setup", pod("p", "a", init=("setup",)), "setup"),
])
def test_containers_chosen(container: str, p: Obj, expected: str) -> None:
    assert proxy.validate_container(container, p) == expected


@pytest.mark.parametrize("container,p,message", [
    ("", pod("p", "a", "b", init=("i",)), "a container name must be specified for pod p, choose one of: [i a b]"),
    ("", pod("p"), "a container name must be specified for pod p"),
    ("x", pod("p", "a"), "container x is not valid for pod p"),
])
def test_containers_refused(container: str, p: Obj, message: str) -> None:
    with pytest.raises(proxy.BadRequest) as e:
        proxy.validate_container(container, p)
    assert e.value.message == message


@pytest.mark.parametrize("status,expected", [
    ({"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.1"}],
      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}}}, ("10.0.0.1", 10251)),
    ({"addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}, {"type": "Hostname", "address": "n1"}]},
     ("1.2.3.4", 10250)),
    ({"addresses": [{"type": "Hostname", "address": "n1"}], "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}},
     ("n1", 10250)),
])
def test_node_address(status: Obj, expected: tuple[str, int]) -> None:
    assert proxy.node_address({"metadata": {"name": "n1"}, "status": status}) == expected


def test_a_node_without_addresses() -> None:
    with pytest.raises(proxy.APIError, match="node n1 has no addresses"):
        proxy.node_address({"metadata": {"name": "n1"}, "status": {}})


@pytest.mark.parametrize("code,body,status", [
    (400, 'container "c" in pod "p" is waiting to start: ContainerCreating',
     {"message": 'container "c" in pod "p" is waiting to start: ContainerCreating', "reason": "BadRequest",
      "code": 400}),
    (500, "boom", {"message": "Internal error occurred: boom", "reason": "InternalError",
                   "details": {"causes": [{"message": "boom"}]}, "code": 500}),
    (404, 'pod "p" does not exist', {"message": "the server could not find the requested resource ( pods/log p)",
                                     "reason": "NotFound", "details": {"name": "p", "kind": "pods/log"},
                                     "code": 404}),
    (418, "teapot", {"message": "the server responded with the status code 418 but did not return more "
                                "information ( pods/log p)", "details": {"name": "p", "kind": "pods/log"},
                     "code": 418}),
])
def test_kubelet_errors_become_statuses(code: int, body: str, status: Obj) -> None:
    st = proxy.response_error(code, body, "pods/log", "p").to_status()
    assert {k: v for k, v in st.items() if k not in ("kind", "apiVersion", "metadata", "status")} == status


def test_exec_query_is_the_kubelets() -> None:
    q = {"container": "c", "stdin": "true", "stdout": "true", "stderr": "false", "tty": "true"}
    assert proxy.exec_query(q, ["sh", "-c", "a b"], attach=False) == (
        "c", "command=sh&command=-c&command=a+b&input=1&output=1&tty=1")
    assert proxy.exec_query(q, ["ignored"], attach=True) == ("c", "input=1&output=1&tty=1")


def test_port_forward_query() -> None:
    assert proxy.port_forward_query(["80,443", "8080"]) == "port=80%2C443%2C8080"
    assert proxy.port_forward_query([]) == ""
    with pytest.raises(proxy.BadRequest, match="cannot convert to"):
        proxy.port_forward_query(["http"])


def test_parse_head() -> None:
    status, reason, headers = proxy.parse_head(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n"
                                               b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
    assert (status, reason) == (101, "Switching Protocols")
    assert headers == {"upgrade": "SPDY/3.1", "x-stream-protocol-version": "v4.channel.k8s.io"}
    with pytest.raises(ValueError):
        proxy.parse_head(b"SSH-2.0\r\n\r\n")


@pytest.mark.parametrize("err,text", [
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "dial tcp 10.0.0.1:10250: connect: connection refused"),
    (TimeoutError(), "dial tcp 10.0.0.1:10250: i/o timeout"),
    (OSError(errno.EHOSTUNREACH, "unreachable"), "dial tcp 10.0.0.1:10250: connect: no route to host"),
])
def test_dial_errors_read_like_go(err: BaseException, text: str) -> None:
    assert proxy.dial_error("10.0.0.1", 10250, err) == text


# ------------------------------------------------------------------ through the HTTP chain
class Cluster:
    def __init__(self, client: TestClient, state: ServerState, kubelet: KubeletServer, rt: HostRuntime,
                 table: PodTable) -> None:
        self.client, self.state, self.kubelet, self.rt, self.table = client, state, kubelet, rt, table

    async def req(self, method: str, path: str, body: Any = None, token: str = TOKEN) -> tuple[int, Any]:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with self.client.request(method, path, data=data, headers=headers) as r:
            raw = await r.read()
            try:
                return r.status, orjson.loads(raw)
            except orjson.JSONDecodeError:
                return r.status, raw.decode()

    async def create(self, path: str, obj: Obj) -> Obj:
        code, body = await self.req("POST", path, obj)
        assert code == 201, body
        return body

    async def pod(self, p: Obj, ids: dict[str, str]) -> None:
        created = await self.create("/api/v1/namespaces/ns/pods", p)
        name = p["metadata"]["name"]
        for c, cid in ids.items():
            self.rt.add_container(cid, c, "sb-" + name)
        self.table.put(created, running_status(created, ids), "sb-" + name)


@pytest.fixture()
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    store = await open_store(f"sqlite://{tmp_path / 'state.db'}")
    cache = WatchCache(store)
    await cache.start()
    rest_hooks.install()
    state = ServerState(config=ServerConfig(), store=store, cache=cache, resources=builtin_registry(),
                        authorizer=AlwaysAllowAuthenticated(), admission=AdmissionChain())
    pki = ensure_pki(tmp_path)
    state.extra["pki"] = pki
    authn = Authenticator(static_token=TOKEN)
    authn.token_authenticators.append(lambda t: UserInfo("jane", groups=("system:authenticated",))
                                      if t == "jane" else None)
    app, dispatcher = make_app(state, authn)
    dispatcher.ready = True
    client = TestClient(TestServer(app))
    await client.start_server()
    rt, table = HostRuntime(tmp_path / "rt"), PodTable()
    kubelet = KubeletServer(runtime=rt, pods=table, data_dir=tmp_path / "agent",
                            client_ca=pki.client_ca.read_bytes(), port=0, bind_address="127.0.0.1")
    await kubelet.start()
    c = Cluster(client, state, kubelet, rt, table)
    await c.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    await c.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}}}})
    await c.pod(pod("web", "app"), {"app": "c-app"})
    try:
        yield c
    finally:
        await rt.stop()
        await kubelet.stop()
        await client.close()
        await cache.close()
        await store.close()


async def test_the_client_ca_is_for_masters(cluster: Cluster) -> None:
    code, body = await cluster.req("GET", "/v1-pybernetes/client-ca.crt")
    assert code == 200 and body.startswith("-----BEGIN CERTIFICATE-----")
    code, body = await cluster.req("GET", "/v1-pybernetes/client-ca.crt", token="jane")
    assert code == 403 and body["reason"] == "Forbidden"


async def test_the_kubelet_client_certificate_is_issued_once(cluster: Cluster) -> None:
    tls = cluster.state.extra["pki"].dir
    crt = (tls / "client-kube-apiserver.crt").read_bytes()
    assert proxy.ensure_client_cert(tls)[0].read_bytes() == crt
    from cryptography import x509
    subject = x509.load_pem_x509_certificate(crt).subject.rfc4514_string()
    assert "CN=system:apiserver" in subject and "O=system:masters" in subject


async def test_logs_stream_through(cluster: Cluster) -> None:
    for i in range(3):
        cluster.rt.log("c-app", "stdout", f"line {i}".encode())
    assert await cluster.req("GET", "/api/v1/namespaces/ns/pods/web/log") == (200, "line 0\nline 1\nline 2\n")
    assert await cluster.req("GET", "/api/v1/namespaces/ns/pods/web/log?container=app&tailLines=1") == (
        200, "line 2\n")


async def test_following_logs_ends_when_the_kubelet_ends(cluster: Cluster) -> None:
    from pybernetes.kubelet.runtime.interface import ContainerState
    async with cluster.client.get("/api/v1/namespaces/ns/pods/web/log?follow=true", headers=AUTH) as r:
        cluster.rt.log("c-app", "stdout", b"live")
        assert await asyncio.wait_for(r.content.readline(), 5) == b"live\n"
        cluster.rt.containers["c-app"].state = ContainerState.EXITED
        assert await asyncio.wait_for(r.content.read(), 5) == b""


@pytest.mark.parametrize("path,code,reason,message", [
    ("/api/v1/namespaces/ns/pods/nope/log", 404, "NotFound", 'pods "nope" not found'),
    ("/api/v1/namespaces/ns/pods/web/log?container=x", 400, "BadRequest", "container x is not valid for pod web"),
    ("/api/v1/namespaces/ns/pods/web/log?tailLines=-2", 422, "Invalid",
     'PodLogOptions "web" is invalid: tailLines: Invalid value: -2: must be greater than or equal to 0'),
    ("/api/v1/namespaces/ns/pods/web/log?sinceSeconds=x", 400, "BadRequest",
     'strconv.ParseInt: parsing "x": invalid syntax'),
])
async def test_log_errors(cluster: Cluster, path: str, code: int, reason: str, message: str) -> None:
    got_code, body = await cluster.req("GET", path)
    assert (got_code, body["reason"], body["message"]) == (code, reason, message)


async def test_a_kubelet_refusal_is_relayed_as_a_status(cluster: Cluster) -> None:
    entry = cluster.table.find("ns", "web")
    assert entry is not None
    cluster.table.put(entry.pod, {"containerStatuses": [{"name": "app", "state": {"waiting": {
        "reason": "ContainerCreating"}}}]}, entry.sandbox_id)
    code, body = await cluster.req("GET", "/api/v1/namespaces/ns/pods/web/log")
    assert (code, body["reason"], body["message"]) == (
        400, "BadRequest", 'container "app" in pod "web" is waiting to start: ContainerCreating')


async def test_unscheduled_pods_have_empty_logs_but_cannot_exec(cluster: Cluster) -> None:
    await cluster.create("/api/v1/namespaces/ns/pods", pod("pending", "app", node=""))
    assert await cluster.req("GET", "/api/v1/namespaces/ns/pods/pending/log") == (200, "")
    code, body = await cluster.req("POST", "/api/v1/namespaces/ns/pods/pending/exec?command=ls&stdout=true")
    assert (code, body["message"]) == (400, "pod pending does not have a host assigned")


async def test_missing_nodes_and_unreachable_kubelets(cluster: Cluster) -> None:
    await cluster.create("/api/v1/namespaces/ns/pods", pod("lost", "app", node="gone"))
    code, body = await cluster.req("GET", "/api/v1/namespaces/ns/pods/lost/log")
    assert (code, body["message"]) == (404, 'nodes "gone" not found')
    await cluster.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "dead"},
                                           "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                                                      "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}}}})
    await cluster.create("/api/v1/namespaces/ns/pods", pod("orphan", "app", node="dead"))
    code, body = await cluster.req("GET", "/api/v1/namespaces/ns/pods/orphan/log")
    assert code == 500 and "reason" not in body
    assert body["message"] == ('Get "https://127.0.0.1:1/containerLogs/ns/orphan/app": dial tcp 127.0.0.1:1: '
                               "connect: connection refused")
    code, body = await cluster.req("POST", "/api/v1/namespaces/ns/pods/orphan/exec?command=ls&stdout=true")
    assert (code, body["message"]) == (500, "error dialing backend: dial tcp 127.0.0.1:1: connect: connection refused")


async def test_exec_over_a_websocket_is_spliced_to_the_kubelet(cluster: Cluster) -> None:
    query = urlencode([("command", "sh"), ("command", "-c"), ("command", "echo hi; exit 2"), ("stdout", "true")])
    async with cluster.client.ws_connect(f"/api/v1/namespaces/ns/pods/web/exec?{query}", headers=AUTH,
                                         protocols=("v5.channel.k8s.io",)) as ws:
        assert ws.protocol == "v5.channel.k8s.io"
        msgs = [m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
        assert ws.close_code == 1000
    assert b"".join(m[1:] for m in msgs if m[0] == 1) == b"hi\n"
    assert json.loads(msgs[-1][1:])["details"]["causes"][0]["message"] == "2"
    assert cluster.rt.execs[-1] == ("c-app", ["sh", "-c", "echo hi; exit 2"], False)


async def test_exec_over_spdy_is_spliced_to_the_kubelet(cluster: Cluster) -> None:
    assert cluster.client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", cluster.client.port)
    writer.write(b"POST /api/v1/namespaces/ns/pods/web/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\n"
                 b"Host: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\nConnection: Upgrade\r\n"
                 b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ") and b"X-Stream-Protocol-Version: v4.channel.k8s.io" in head
    sess = SpdySession(StreamChannel(reader, writer), server=False)
    run = asyncio.ensure_future(sess.run())
    err = await sess.open_stream({"streamtype": ["error"]})
    stdin = await sess.open_stream({"streamtype": ["stdin"]})
    stdout = await sess.open_stream({"streamtype": ["stdout"]})
    await stdin.write(b"through the API server\n")
    await stdin.close()
    assert await stdout.read_all() == b"through the API server\n"
    assert await err.read_all() == b'{"metadata":{},"status":"Success"}'
    await sess.close()
    run.cancel()


async def test_a_kubelet_that_does_not_upgrade_is_relayed(cluster: Cluster) -> None:
    code, body = await cluster.req("POST", "/api/v1/namespaces/ns/pods/web/exec?command=ls&stdout=true")
    assert (code, body) == (400, "Upgrade request required")
    cluster.rt.containers["c-app"].state = __import__(
        "pybernetes.kubelet.runtime.interface", fromlist=["ContainerState"]).ContainerState.EXITED
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        async with cluster.client.ws_connect("/api/v1/namespaces/ns/pods/web/exec?command=ls&stdout=true",
                                             headers=AUTH, protocols=("v5.channel.k8s.io",)):
            pass
    assert e.value.status == 500


async def test_port_forward_through_the_api_server(cluster: Cluster) -> None:
    async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write((await r.read(100)).upper())
        await w.drain()
        w.close()

    srv = await asyncio.start_server(echo, "127.0.0.1", 0)
    cluster.rt.port_map[8080] = srv.sockets[0].getsockname()[1]
    try:
        async with cluster.client.ws_connect("/api/v1/namespaces/ns/pods/web/portforward?ports=8080", headers=AUTH,
                                             protocols=("v4.channel.k8s.io",)) as ws:
            assert sorted([await ws.receive_bytes(), await ws.receive_bytes()]) == [
                b"\x00" + struct.pack("<H", 8080), b"\x01" + struct.pack("<H", 8080)]
            await ws.send_bytes(b"\x00abc")
            assert await asyncio.wait_for(ws.receive_bytes(), 5) == b"\x00ABC"
    finally:
        srv.close()


async def test_only_get_and_post_connect(cluster: Cluster) -> None:
    code, body = await cluster.req("PUT", "/api/v1/namespaces/ns/pods/web/exec?command=ls", {})
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body = await cluster.req("POST", "/api/v1/namespaces/ns/pods/web/log")
    assert (code, body["reason"]) == (405, "MethodNotAllowed")


def test_the_forwarded_head_keeps_the_upgrade_and_drops_credentials() -> None:
    from aiohttp.test_utils import make_mocked_request
    from multidict import CIMultiDict
    headers = CIMultiDict([("Authorization", "Bearer secret"), ("Impersonate-User", "bob"), ("Connection", "Upgrade"),
                           ("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
                           ("X-Stream-Protocol-Version", "v3.channel.k8s.io"), ("Host", "api:6443"),
                           ("X-Forwarded-For", "10.0.0.9")])
    req = make_mocked_request("POST", "/api/v1/namespaces/ns/pods/p/exec", headers=headers)
    head = proxy.forwarded_head(req, "10.0.0.1", 10250, "/exec/ns/p/c?output=1").decode()
    lines = head.split("\r\n")
    assert lines[0] == "POST /exec/ns/p/c?output=1 HTTP/1.1" and lines[1] == "Host: 10.0.0.1:10250"
    assert "Connection: Upgrade" in lines and "Upgrade: SPDY/3.1" in lines
    assert lines.count("X-Stream-Protocol-Version: v4.channel.k8s.io") == 1
    assert "X-Stream-Protocol-Version: v3.channel.k8s.io" in lines
    assert not any(line.lower().startswith(("authorization", "impersonate-")) for line in lines)
    assert "Content-Length: 0" in lines and head.endswith("\r\n\r\n")
    assert any(line.startswith("X-Forwarded-For: 10.0.0.9") for line in lines)
