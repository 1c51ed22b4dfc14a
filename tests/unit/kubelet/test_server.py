"""The kubelet's streaming server in-process over TLS: client-certificate authentication and system:masters-only
authorization, container logs, exec/attach over websocket (v5, v4, v1, base64) and SPDY, port-forward over SPDY,
websocket and the SPDY-in-websocket tunnel — against the host-process runtime double (tests/kubelet_double.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import ssl
import struct
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from tests.kubelet_double import HostRuntime, PodTable, running_status

from pybernetes.apiserver.certs import ensure_pki, issue_client
from pybernetes.kubelet import server as ks
from pybernetes.kubelet.runtime.interface import ContainerState
from pybernetes.streaming.portforward import WebSocketChannel
from pybernetes.streaming.spdysession import SpdySession, StreamChannel

Obj = dict[str, Any]


def pod(name: str, *containers: str, uid: str = "uid-1") -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid},
            "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]}}


class Kubelet:
    def __init__(self, tmp: pathlib.Path) -> None:
        self.pki = ensure_pki(tmp / "pki")
        self.runtime = HostRuntime(tmp / "rt")
        self.pods = PodTable()
        self.server = ks.KubeletServer(runtime=self.runtime, pods=self.pods, data_dir=tmp / "agent",
                                       client_ca=self.pki.client_ca.read_bytes(), port=0, bind_address="127.0.0.1")
        self.tmp = tmp

    def ssl(self, *, cn: str = "system:apiserver", org: str | None = "system:masters",
            cert: bool = True) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert:
            crt, key = issue_client(self.tmp / "pki", cn=cn, org=org)
            (self.tmp / f"{cn}.crt").write_bytes(crt)
            (self.tmp / f"{cn}.key").write_bytes(key)
            ctx.load_cert_chain(self.tmp / f"{cn}.crt", self.tmp / f"{cn}.key")
        return ctx

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.server.port}{path}"

    def add(self, p: Obj, ids: dict[str, str], *, last: dict[str, str] | None = None) -> None:
        sandbox = "sb-" + p["metadata"]["name"]
        for name, cid in ids.items():
            self.runtime.add_container(cid, name, sandbox, attempt=1 if last and name in last else 0)
        for name, cid in (last or {}).items():
            self.runtime.add_container(cid, name, sandbox, state=ContainerState.EXITED)
        self.pods.put(p, running_status(p, ids, last=last), sandbox)


@pytest.fixture()
async def kubelet(tmp_path: pathlib.Path) -> AsyncIterator[Kubelet]:
    k = Kubelet(tmp_path)
    await k.server.start()
    k.add(pod("web", "app", "side"), {"app": "c-app", "side": "c-side"}, last={"app": "c-old"})
    try:
        yield k
    finally:
        await k.runtime.stop()
        await k.server.stop()


@contextlib.asynccontextmanager
async def session(k: Kubelet, **kw: Any) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=k.ssl(**kw))) as s:
        yield s


async def get(k: Kubelet, path: str, **kw: Any) -> tuple[int, str]:
    async with session(k, **kw) as s, s.get(k.url(path)) as r:
        return r.status, await r.text()


# ------------------------------------------------------------------ authentication and authorization
@pytest.mark.parametrize("creds,status,body", [
    ({"cert": False}, 401, "Unauthorized"),
    ({"cn": "jane", "org": "developers"}, 403,
     "Forbidden (user=jane, verb=get, resource=nodes, subresource(s)=[proxy])\n"),
    ({}, 200, "ok"),
])
async def test_only_masters_with_a_client_certificate_get_in(kubelet: Kubelet, creds: dict[str, Any], status: int,
                                                             body: str) -> None:
    assert await get(kubelet, "/healthz", **creds) == (status, body)


async def test_a_certificate_from_another_ca_is_not_a_user(kubelet: Kubelet, tmp_path: pathlib.Path) -> None:
    other = ensure_pki(tmp_path / "other")
    crt, key = issue_client(tmp_path / "other", cn="system:admin", org="system:masters")
    (tmp_path / "o.crt").write_bytes(crt)
    (tmp_path / "o.key").write_bytes(key)
    ctx = kubelet.ssl(cert=False)
    ctx.load_cert_chain(tmp_path / "o.crt", tmp_path / "o.key")
    assert other.client_ca.read_bytes() != kubelet.pki.client_ca.read_bytes()
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):
            async with s.get(kubelet.url("/healthz"), ssl=ctx) as r:
                await r.read()


async def test_unknown_paths(kubelet: Kubelet) -> None:
    assert await get(kubelet, "/pods") == (404, "404 page not found\n")


# ------------------------------------------------------------------ logs
async def test_logs_follow_upstream_options(kubelet: Kubelet) -> None:
    rt = kubelet.runtime
    for i in range(3):
        rt.log("c-app", "stdout", f"line {i}".encode(), time_ns=1_700_000_000_000_000_000 + i)
    rt.log("c-old", "stderr", b"before the restart")
    assert await get(kubelet, "/containerLogs/ns/web/app") == (200, "line 0\nline 1\nline 2\n")
    assert await get(kubelet, "/containerLogs/ns/web/app?tailLines=1&timestamps=true") == (
        200, "2023-11-14T22:13:20.000000002Z line 2\n")
    assert await get(kubelet, "/containerLogs/ns/web/app?tail=all&limitBytes=3") == (200, "lin")
    assert await get(kubelet, "/containerLogs/ns/web/app?previous=true") == (200, "before the restart\n")
    assert await get(kubelet, "/containerLogs/ns/web/side") == (200, "")


@pytest.mark.parametrize("path,status,body", [
    ("/containerLogs/ns/nope/app", 404, 'pod "nope" does not exist'),
    ("/containerLogs/ns/web/nope", 404, 'container "nope" not found in pod "web"'),
    ("/containerLogs/ns/web/side?previous=true", 400, 'previous terminated container "side" in pod "web" not found'),
    ("/containerLogs/ns/web/app?tailLines=x", 400, '{"message": "Unable to decode query."}'),
    ("/containerLogs/ns/web/app?tailLines=-1", 422, '{"message": "Invalid request."}'),
])
async def test_log_errors_are_the_kubelets(kubelet: Kubelet, path: str, status: int, body: str) -> None:
    assert await get(kubelet, path) == (status, body)


async def test_following_ends_when_the_container_stops(kubelet: Kubelet) -> None:
    rt = kubelet.runtime
    rt.log("c-app", "stdout", b"first")
    async with session(kubelet) as s, s.get(kubelet.url("/containerLogs/ns/web/app?follow=true")) as r:
        assert await r.content.readline() == b"first\n"
        rt.log("c-app", "stdout", b"second")
        assert await asyncio.wait_for(r.content.readline(), 5) == b"second\n"
        rt.containers["c-app"].state = ContainerState.EXITED
        assert await asyncio.wait_for(r.content.read(), 5) == b""


@pytest.mark.parametrize("status,message", [
    ({"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]},
     'container "app" in pod "p" is waiting to start: ContainerCreating'),
    ({"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ErrImagePull"}}}]},
     'container "app" in pod "p" is waiting to start: image can\'t be pulled'),
    ({"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]},
     'container "app" in pod "p" is waiting to start: trying and failing to pull image'),
    ({}, 'container "app" in pod "p" is not available'),
    ({"containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 1}}}]},
     'container "app" in pod "p" is terminated'),
    ({"containerStatuses": [{"name": "app", "state": {}}]},
     'container "app" in pod "p" is waiting to start - no logs yet'),
])
def test_containers_without_logs(status: Obj, message: str) -> None:
    with pytest.raises(ValueError) as e:
        ks.log_container_id("p", status, "app", previous=False)
    assert str(e.value) == message


@pytest.mark.parametrize("status,previous,cid", [
    ({"containerStatuses": [{"name": "app", "containerID": "x://run", "state": {"running": {}}}]}, False, "x://run"),
    ({"initContainerStatuses": [{"name": "app", "state": {"terminated": {"containerID": "x://done"}}}]}, False,
     "x://done"),
    ({"containerStatuses": [{"name": "app", "state": {"terminated": {}},
                             "lastState": {"terminated": {"containerID": "x://last"}}}]}, False, "x://last"),
    ({"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                             "lastState": {"terminated": {"containerID": "x://crashed"}}}]}, False, "x://crashed"),
    ({"containerStatuses": [{"name": "app", "containerID": "x://run", "state": {"running": {}},
                             "lastState": {"terminated": {"containerID": "x://prev"}}}]}, True, "x://prev"),
])
def test_which_container_logs_are_served(status: Obj, previous: bool, cid: str) -> None:
    assert ks.log_container_id("p", status, "app", previous=previous) == cid
    assert ks.runtime_id(cid) == cid.split("://")[1]


# ------------------------------------------------------------------ exec and attach over websockets
async def ws_exec(k: Kubelet, query: str, protocols: tuple[str, ...], *, stdin: list[bytes | str] = (),
                  close_stdin: bool = False) -> tuple[str | None, list[tuple[int, bytes]], int | None]:
    """(negotiated protocol, messages as (channel, data), close code)."""
    async with session(k) as s, s.ws_connect(k.url(f"/exec/ns/web/app?{query}"), protocols=protocols) as ws:
        for data in stdin:
            await (ws.send_bytes(data) if isinstance(data, bytes) else ws.send_str(data))
        if close_stdin:
            await ws.send_bytes(b"\xff\x00")
        msgs = []
        async for m in ws:
            if m.type == aiohttp.WSMsgType.BINARY:
                msgs.append((m.data[0], m.data[1:]))
            elif m.type == aiohttp.WSMsgType.TEXT:
                msgs.append((int(m.data[0]), m.data[1:].encode()))
        return ws.protocol, msgs, ws.close_code


def joined(msgs: list[tuple[int, bytes]], channel: int) -> bytes:
    return b"".join(d for c, d in msgs if c == channel)


async def test_exec_v5_streams_output_then_the_status_then_closes_normally(kubelet: Kubelet) -> None:
    query = urlencode([("command", "sh"), ("command", "-c"), ("command", "echo out; echo err >&2; exit 3"),
                       ("output", "1"), ("error", "1")])
    proto, msgs, code = await ws_exec(kubelet, query, ("v5.channel.k8s.io",))
    assert proto == "v5.channel.k8s.io" and code == 1000
    assert msgs[0] == (1, b"")                                  # "connected" on the lowest written channel
    assert joined(msgs, 1) == b"out\n" and joined(msgs, 2) == b"err\n"
    assert msgs[-1][0] == 3
    assert json.loads(msgs[-1][1]) == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command [sh -c echo out; echo err "
                   ">&2; exit 3], exit code 3",
        "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}


async def test_exec_v5_stdin_ends_with_the_close_signal(kubelet: Kubelet) -> None:
    _, msgs, code = await ws_exec(kubelet, "command=tr&command=a-z&command=A-Z&input=1&output=1",
                                  ("v5.channel.k8s.io",), stdin=[b"\x00abc", "\x00def\n"], close_stdin=True)
    assert joined(msgs, 1) == b"ABCDEF\n" and code == 1000
    assert msgs[-1] == (3, b'{"metadata":{},"status":"Success"}')


async def test_exec_v4_and_the_first_offered_protocol_wins(kubelet: Kubelet) -> None:
    proto, msgs, _ = await ws_exec(kubelet, "command=true&output=1", ("v4.channel.k8s.io", "v5.channel.k8s.io"))
    assert proto == "v4.channel.k8s.io"
    assert msgs[-1] == (3, b'{"metadata":{},"status":"Success"}')


async def test_exec_v1_reports_failure_as_text_and_success_as_nothing(kubelet: Kubelet) -> None:
    _, msgs, _ = await ws_exec(kubelet, "command=false&output=1", ("channel.k8s.io",))
    assert msgs[-1] == (3, b"command terminated with non-zero exit code: error executing command [false], exit "
                           b"code 1")
    _, msgs, _ = await ws_exec(kubelet, "command=true&output=1", ())
    assert all(c != 3 for c, _ in msgs)


async def test_exec_base64_and_a_client_leaving_early(kubelet: Kubelet) -> None:
    url = kubelet.url("/exec/ns/web/app?command=cat&input=1&output=1")
    async with session(kubelet) as s, s.ws_connect(url, protocols=("base64.channel.k8s.io",)) as ws:
        assert ws.protocol == "base64.channel.k8s.io"
        assert await ws.receive_str() == "1"                    # "connected", base64 of nothing
        await ws.send_str("0aGk=")                              # stdin "hi"
        assert await asyncio.wait_for(ws.receive_str(), 5) == "1aGk="
    # v1 has no close signal: cat only ends because the client left, and the server then kills it.
    for _ in range(100):
        if not kubelet.server.sessions:
            break
        await asyncio.sleep(0.01)
    assert not kubelet.server.sessions


async def test_exec_failures(kubelet: Kubelet) -> None:
    _, msgs, _ = await ws_exec(kubelet, "command=/no/such/binary&output=1", ("v5.channel.k8s.io",))
    status = json.loads(msgs[-1][1])
    assert status["reason"] == "InternalError" and status["code"] == 500
    assert status["message"].startswith("Internal error occurred: error executing command in container: exec: ")
    assert await get(kubelet, "/exec/ns/web/app?command=ls") == (400, "you must specify at least 1 of stdin, "
                                                                      "stdout, stderr")
    assert await get(kubelet, "/exec/ns/nope/app?command=ls&output=1") == (404, "pod does not exist")
    assert await get(kubelet, "/exec/ns/web/gone?command=ls&output=1") == (500, 'container not found ("gone")')
    assert await get(kubelet, "/exec/ns/web/app?command=ls&output=1") == (400, "Upgrade request required")
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        await ws_exec(kubelet, "command=ls&output=1", ("v9.channel.k8s.io",))
    assert e.value.status == 403


async def test_exec_with_a_tty_gets_resizes(kubelet: Kubelet) -> None:
    async with session(kubelet) as s, s.ws_connect(kubelet.url("/exec/ns/web/app?command=sh&input=1&output=1&tty=1"),
                                                   protocols=("v5.channel.k8s.io",)) as ws:
        await ws.send_bytes(b'\x04{"Width":91,"Height":17}')
        out = b""
        while b"#" not in out:                                  # the shell's prompt: it runs on its terminal
            m = await asyncio.wait_for(ws.receive_bytes(), 5)
            out += m[1:]
        await ws.send_bytes(b"\x00stty size; exit 4\n")
        async for m in ws:
            if m.type == aiohttp.WSMsgType.BINARY:
                if m.data[0] == 1:
                    out += m.data[1:]
                elif m.data[0] == 3:
                    status = json.loads(m.data[1:])
        assert b"17 91" in out
        assert status["details"]["causes"][0]["message"] == "4"
        assert ws.close_code == 1000


async def test_attach_joins_the_main_process(kubelet: Kubelet) -> None:
    await kubelet.runtime.start_main("c-app", "while read l; do echo got $l; done")
    async with session(kubelet) as s, s.ws_connect(kubelet.url("/attach/ns/web/app?input=1&output=1"),
                                                   protocols=("v5.channel.k8s.io",)) as ws:
        await ws.send_bytes(b"\x00hello\n")
        data = b""
        while b"got hello\n" not in data:
            m = await asyncio.wait_for(ws.receive(), 5)
            data += m.data[1:]
    assert b"got hello" in kubelet.runtime.containers["c-app"].log_path.read_bytes()


# ------------------------------------------------------------------ SPDY
async def spdy_upgrade(k: Kubelet, path: str, protocols: list[str]) -> tuple[int, dict[str, str], SpdySession,
                                                                             asyncio.Task[None]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", k.server.port, ssl=k.ssl())
    head = [f"POST {path} HTTP/1.1", "Host: kubelet", "Connection: Upgrade", "Upgrade: SPDY/3.1",
            "Content-Length: 0"] + [f"X-Stream-Protocol-Version: {p}" for p in protocols]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    raw = (await reader.readuntil(b"\r\n\r\n")).decode()
    status = int(raw.split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in raw.split("\r\n")[1:]) if k}
    sess = SpdySession(StreamChannel(reader, writer), server=False)
    return status, headers, sess, asyncio.ensure_future(sess.run())


async def test_exec_over_spdy(kubelet: Kubelet) -> None:
    query = urlencode([("command", "sh"), ("command", "-c"), ("command", "cat; echo e >&2; exit 2"),
                       ("input", "1"), ("output", "1"), ("error", "1")])
    status, headers, sess, run = await spdy_upgrade(
        kubelet, f"/exec/ns/web/app?{query}",
        ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"])
    assert status == 101
    assert headers["upgrade"] == "SPDY/3.1" and headers["x-stream-protocol-version"] == "v4.channel.k8s.io"
    err = await sess.open_stream({"streamtype": ["error"]})
    stdin = await sess.open_stream({"streamtype": ["stdin"]})
    stdout = await sess.open_stream({"streamtype": ["stdout"]})
    stderr = await sess.open_stream({"streamtype": ["stderr"]})
    await stdin.write(b"via spdy\n")
    await stdin.close()
    assert await stdout.read_all() == b"via spdy\n"
    assert await stderr.read_all() == b"e\n"
    status_obj = json.loads(await err.read_all())
    assert status_obj["details"]["causes"] == [{"reason": "ExitCode", "message": "2"}]
    await asyncio.wait_for(sess.peer_goaway.wait(), 5)       # the server is done and waits for us to close
    await sess.close()
    run.cancel()


async def test_spdy_protocol_negotiation_failure(kubelet: Kubelet) -> None:
    status, _headers, sess, run = await spdy_upgrade(kubelet, "/exec/ns/web/app?command=ls&output=1", ["v9"])
    assert status == 403
    run.cancel()
    await sess.close()


async def test_spdy_v2_has_no_resize_stream_and_text_errors(kubelet: Kubelet) -> None:
    _status, headers, sess, run = await spdy_upgrade(kubelet, "/exec/ns/web/app?command=false&output=1&tty=1",
                                                    ["v2.channel.k8s.io"])
    assert headers["x-stream-protocol-version"] == "v2.channel.k8s.io"
    err = await sess.open_stream({"streamtype": ["error"]})
    out = await sess.open_stream({"streamtype": ["stdout"]})
    await asyncio.wait_for(out.read_all(), 5)
    assert (await err.read_all()).startswith(b"command terminated with non-zero exit code")
    await sess.close()
    run.cancel()


# ------------------------------------------------------------------ port-forward
@pytest.fixture()
async def echo_port(kubelet: Kubelet) -> AsyncIterator[int]:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while data := await r.read(65536):
            w.write(data.upper())
            await w.drain()
        w.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    kubelet.runtime.port_map[80] = srv.sockets[0].getsockname()[1]
    try:
        yield 80
    finally:
        srv.close()


async def forward_over(sess: SpdySession, request_id: str, port: int, payload: bytes) -> tuple[bytes, bytes]:
    headers = {"streamtype": ["error"], "port": [str(port)], "requestid": [request_id]}
    err = await sess.open_stream(headers)
    await err.close()
    data = await sess.open_stream({**headers, "streamtype": ["data"]})
    await data.write(payload)
    await data.close()
    return await data.read_all(), await err.read_all()


async def test_port_forward_over_spdy(kubelet: Kubelet, echo_port: int) -> None:
    status, headers, sess, run = await spdy_upgrade(kubelet, "/portForward/ns/web", ["portforward.k8s.io"])
    assert status == 101 and headers["x-stream-protocol-version"] == "portforward.k8s.io"
    results = await asyncio.gather(forward_over(sess, "0", 80, b"one"), forward_over(sess, "1", 80, b"two"))
    assert results == [(b"ONE", b""), (b"TWO", b"")]
    data, err = await forward_over(sess, "2", 81, b"nobody")
    assert data == b""
    assert err.decode().startswith("error forwarding port 81 to pod sb-web, uid uid-1: failed to connect")
    with pytest.raises(Exception, match="refused"):
        await sess.open_stream({"streamtype": ["data"]})            # no port header: rejected
    await sess.close()
    run.cancel()


async def test_port_forward_tunnelled_in_a_websocket(kubelet: Kubelet, echo_port: int) -> None:
    async with session(kubelet) as s, s.ws_connect(kubelet.url("/portForward/ns/web"),
                                                   protocols=("SPDY/3.1+portforward.k8s.io",)) as ws:
        assert ws.protocol == "SPDY/3.1+portforward.k8s.io"
        sess = SpdySession(WebSocketChannel(ws), server=False)  # type: ignore[arg-type]
        run = asyncio.ensure_future(sess.run())
        assert await forward_over(sess, "0", 80, b"tunnelled") == (b"TUNNELLED", b"")
        run.cancel()
    assert kubelet.server.served["portforward/tunnel/portforward.k8s.io"] == 1


async def test_port_forward_over_a_websocket(kubelet: Kubelet, echo_port: int) -> None:
    async with session(kubelet) as s, s.ws_connect(kubelet.url("/portForward/ns/web?ports=80,81"),
                                                   protocols=("v5.channel.k8s.io", "v4.channel.k8s.io")) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        first = [await ws.receive_bytes() for _ in range(4)]
        assert sorted(first) == sorted([b"\x00" + struct.pack("<H", 80), b"\x01" + struct.pack("<H", 80),
                                        b"\x02" + struct.pack("<H", 81), b"\x03" + struct.pack("<H", 81)])
        await ws.send_bytes(b"\x00ping")
        got: dict[int, bytes] = {}
        while got.get(0) != b"PING" or 3 not in got:
            m = await asyncio.wait_for(ws.receive_bytes(), 5)
            got[m[0]] = got.get(m[0], b"") + m[1:]
        assert got[3].startswith(b"error forwarding port 81 to pod sb-web")


async def test_port_forward_errors(kubelet: Kubelet) -> None:
    async with session(kubelet) as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            async with s.ws_connect(kubelet.url("/portForward/ns/web"), protocols=("v4.channel.k8s.io",)):
                pass
        assert e.value.status == 400
        async with s.get(kubelet.url("/portForward/ns/web?ports=x"), headers={
                "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as r:
            assert (r.status, await r.text()) == (400, 'unable to parse "x" as a port: invalid syntax')
    assert await get(kubelet, "/portForward/ns/nope") == (404, "pod does not exist")


# ------------------------------------------------------------------ the pod index
def test_worker_pods_find_pods_and_their_freshest_status() -> None:
    class Rec:
        def __init__(self, uid: str, p: Obj | None, sandbox: str) -> None:
            self.uid, self.pod, self.sandbox_id = uid, p, sandbox

    class Workers:
        records = {"u1": Rec("u1", {**pod("a", "c"), "status": {"phase": "Pending"}}, "sb1"),
                   "u2": Rec("u2", None, "")}

    class Status:
        def get(self, uid: str) -> Obj | None:
            return {"phase": "Running"} if uid == "u1" else None

    index = ks.WorkerPods(Workers(), Status())
    entry = index.find("ns", "a")
    assert entry is not None and entry.status == {"phase": "Running"} and entry.sandbox_id == "sb1"
    assert index.find("ns", "b") is None and index.find("other", "a") is None
