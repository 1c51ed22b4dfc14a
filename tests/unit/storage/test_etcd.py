"""EtcdStore against real etcd processes (Debian's etcd-server) on loopback: the shared Store conformance suite,
plus what only a networked store must get right (endpoints, failover across a 3-member cluster, member restarts,
stalled watch streams, fragmented watch responses, watches that end without leaking connections or server watchers).

etcd runs from a temporary data dir on free loopback ports and is stopped by PID. Without the etcd binary the tests
skip, except in CI (``CI`` set), where they fail: tools/install-deps.sh installs it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.storage.conformance import WAIT, StoreConformance, take

from pybernetes.storage import etcd as etcd_store
from pybernetes.storage.etcd import EtcdStore, parse_endpoints, range_end
from pybernetes.storage.interface import KV, Compacted, Event, StoreError, Unavailable


def _etcd_binary() -> str:
    path = shutil.which("etcd")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("the etcd binary is missing in CI: tools/install-deps.sh must install etcd-server")
    pytest.skip("the etcd binary is not installed (apt-get install etcd-server)")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _post(port: int, path: str, body: dict[str, object], timeout: float = 2.0) -> dict[str, object]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        out: dict[str, object] = json.loads(resp.read())
        return out


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Member:
    """One etcd process of a loopback cluster."""

    def __init__(self, name: str, data_dir: Path, client_port: int, peer_port: int) -> None:
        self.name, self.data_dir = name, data_dir
        self.client_port, self.peer_port = client_port, peer_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, binary: str, initial_cluster: str, token: str) -> None:
        log = open(self.data_dir.with_suffix(".log"), "ab")
        try:
            self.proc = subprocess.Popen([
                binary, "--name", self.name, "--data-dir", str(self.data_dir),
                "--listen-client-urls", f"http://{self.address}", "--advertise-client-urls", f"http://{self.address}",
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
                "--initial-cluster", initial_cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", token,
            ], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/health", timeout=0.5) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def member_id(self) -> str:
        return str(_post(self.client_port, "/v3/maintenance/status", {})["header"]["member_id"])  # type: ignore[index]

    def leader_id(self) -> str:
        return str(_post(self.client_port, "/v3/maintenance/status", {}).get("leader", "0"))   # 0: none

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://{self.address}/metrics", timeout=2) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        raise AssertionError(f"no metric {name}")

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.proc is not None and self.paused:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL if it lingers."""
        if self.proc is None:
            return
        self.resume()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Cluster:
    """``size`` etcd members on free loopback ports, each with its own data dir under ``root``."""

    def __init__(self, root: Path, size: int) -> None:
        self.binary = _etcd_binary()
        ports = _free_ports(2 * size)
        self.members = [Member(f"m{i}", root / f"m{i}", ports[2 * i], ports[2 * i + 1]) for i in range(size)]
        self.initial = ",".join(f"{m.name}=http://127.0.0.1:{m.peer_port}" for m in self.members)
        self.token = f"pyb-{os.getpid()}-{ports[0]}"

    def start(self) -> Cluster:
        for m in self.members:
            m.start(self.binary, self.initial, self.token)
        self.wait_healthy(self.members)
        return self

    def restart(self, m: Member) -> None:
        m.start(self.binary, self.initial, self.token)
        self.wait_healthy([m])

    def wait_healthy(self, members: list[Member], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(members)
        while waiting:
            for m in list(waiting):
                assert m.proc is not None
                if m.proc.poll() is not None:
                    raise AssertionError(f"etcd {m.name} exited: {m.data_dir.with_suffix('.log').read_text()[-2000:]}")
                if m.healthy():
                    waiting.remove(m)
            if waiting:
                if time.monotonic() > deadline:
                    raise AssertionError(f"etcd members {[m.name for m in waiting]} not healthy in {timeout}s")
                time.sleep(0.02)

    def leader(self) -> Member:
        ids = {m.member_id(): m for m in self.members if m.proc is not None}
        return ids[next(iter(ids.values())).leader_id()]

    def url(self, members: list[Member]) -> str:
        return "etcd://" + ",".join(m.address for m in members)

    def stop(self) -> None:
        for m in self.members:
            m.stop()


@contextlib.contextmanager
def running(root: Path, size: int) -> Iterator[Cluster]:
    cluster = Cluster(root, size)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def shared_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Member]:
    """One etcd for the conformance suite; each test starts from an empty keyspace (revisions keep growing)."""
    with running(tmp_path_factory.mktemp("etcd"), 1) as cluster:
        yield cluster.members[0]


@pytest.fixture
def single(tmp_path: Path) -> Iterator[Cluster]:
    """A private one-member cluster, for tests that stop or restart it."""
    with running(tmp_path, 1) as cluster:
        yield cluster


def _wipe(member: Member) -> None:
    _post(member.client_port, "/v3/kv/deleterange", {"key": "AA==", "range_end": "AA=="})


@pytest.fixture
async def store(shared_etcd: Member) -> AsyncIterator[EtcdStore]:
    _wipe(shared_etcd)
    s = await EtcdStore.open(f"etcd://{shared_etcd.address}")
    yield s
    await s.close()


class TestEtcdConformance(StoreConformance):
    @pytest.fixture
    async def store(self, shared_etcd: Member) -> AsyncIterator[EtcdStore]:
        _wipe(shared_etcd)
        s = await EtcdStore.open(f"etcd://{shared_etcd.address}")
        yield s
        await s.close()


# ---------------------------------------------------------------------- pure helpers

@pytest.mark.parametrize(("url", "endpoints"), [
    ("etcd://127.0.0.1:2379", [("127.0.0.1", 2379)]),
    ("etcd://a:1,b:2,c:3", [("a", 1), ("b", 2), ("c", 3)]),
    ("etcd://a:1, http://b:2", [("a", 1), ("b", 2)]),
    ("http://h:4001/", [("h", 4001)]),
    ("etcd://h", [("h", 2379)]),
    ("etcd://[::1]:2379,[::1]", [("::1", 2379), ("::1", 2379)]),
])
def test_parse_endpoints(url: str, endpoints: list[tuple[str, int]]) -> None:
    assert parse_endpoints(url) == endpoints


@pytest.mark.parametrize("url", ["https://h:2379", "etcds://h:2379", "etcd://h:x", "etcd://:2379", "etcd://a:1,"])
def test_parse_endpoints_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        parse_endpoints(url)


@pytest.mark.parametrize(("prefix", "end"), [
    (b"/registry/pods/", b"/registry/pods0"),
    (b"a", b"b"),
    (b"a\xff", b"b"),
    (b"a\xfe", b"a\xff"),
    (b"\xff\xff", b"\x00"),
    (b"", b"\x00"),
])
def test_range_end(prefix: bytes, end: bytes) -> None:
    assert range_end(prefix) == end


# ---------------------------------------------------------------------- one member

async def test_revision_starts_at_one_and_keys_are_utf8(store: EtcdStore, shared_etcd: Member) -> None:
    base = await store.current_revision()
    assert base >= 1
    kv = await store.create("/t/ünï/\U0001f600", b"v")
    assert (await store.list("/t/ünï/"))[1] == [kv]
    raw = _post(shared_etcd.client_port, "/v3/kv/range", {"key": _b64("/t/ünï/\U0001f600")})
    assert raw["kvs"][0]["mod_revision"] == str(kv.mod_revision)  # type: ignore[index]


async def test_request_too_large_is_a_store_error_not_unavailable(store: EtcdStore) -> None:
    with pytest.raises(StoreError) as err:
        await store.create("/t/big", b"x" * 1_600_000)               # etcd's --max-request-bytes is 1.5 MiB
    assert not isinstance(err.value, Unavailable) and "too large" in str(err.value)
    assert await store.get("/t/big") is None


async def test_unavailable_when_no_endpoint_answers() -> None:
    dead = _free_ports(2)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="no endpoint answered"):
        await EtcdStore.open(f"etcd://127.0.0.1:{dead[0]},127.0.0.1:{dead[1]}", request_timeout=0.5)
    assert time.monotonic() - started < 3


async def test_a_dead_endpoint_is_skipped(shared_etcd: Member) -> None:
    _wipe(shared_etcd)
    dead = _free_ports(1)[0]
    s = await EtcdStore.open(f"etcd://127.0.0.1:{dead},{shared_etcd.address}")
    try:
        kv = await s.create("/t/a", b"1")
        assert await s.get("/t/a") == kv
        async with contextlib.aclosing(s.watch("/t/", from_revision=kv.mod_revision - 1)) as events:
            assert [ev.kv for ev in await take(events, 1)] == [kv]
    finally:
        await s.close()


async def test_values_of_several_mebibytes_list_and_watch_in_fragments(store: EtcdStore,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay bigger than etcd's max request size arrives as several fragments, each a line spread over many
    HTTP chunks; a list that big arrives chunked."""
    fragments: list[bool] = []
    message = etcd_store._WatchStream.message

    async def spy(self: etcd_store._WatchStream) -> dict[str, Any] | None:
        msg = await message(self)
        if msg and msg["result"].get("events"):
            fragments.append(bool(msg["result"].get("fragment")))
        return msg

    monkeypatch.setattr(etcd_store._WatchStream, "message", spy)
    base = await store.current_revision()
    written = [await store.create(f"/t/{i:02d}", bytes([65 + i]) * 700_000) for i in range(6)]
    assert (await store.list("/t/"))[1] == written
    async with contextlib.aclosing(store.watch("/t/", from_revision=base)) as events:
        assert [ev.kv for ev in await take(events, 6)] == written
    assert len(fragments) > 1 and fragments[-1] is False and all(fragments[:-1])


async def test_requests_beyond_max_connections_wait_for_one(shared_etcd: Member) -> None:
    _wipe(shared_etcd)
    s = await EtcdStore.open(f"etcd://{shared_etcd.address}", max_connections=4)
    try:
        written = await asyncio.gather(*(s.create(f"/t/{i:03d}", b"x") for i in range(200)))
        got = await asyncio.gather(*(s.get(kv.key) for kv in written))
        assert got == written and s.connection_count <= 4
    finally:
        await s.close()


async def test_a_frozen_member_makes_writes_unknown_and_reads_unavailable(single: Cluster) -> None:
    member = single.members[0]
    s = await EtcdStore.open(single.url([member]), request_timeout=0.5)
    try:
        await s.create("/t/a", b"1")
        member.pause()
        with pytest.raises(Unavailable, match="may or may not have been applied"):
            await s.create("/t/b", b"2")
        with pytest.raises(Unavailable, match="no endpoint answered"):
            await s.get("/t/a")
        member.resume()
        assert (await s.get("/t/a")) is not None
    finally:
        member.resume()
        await s.close()


async def test_events_of_one_multi_key_transaction_share_a_revision(store: EtcdStore,
                                                                    shared_etcd: Member) -> None:
    base = await store.current_revision()
    _post(shared_etcd.client_port, "/v3/kv/txn", {"success": [
        {"request_put": {"key": _b64("/t/x"), "value": _b64("1")}},
        {"request_put": {"key": _b64("/t/y"), "value": _b64("2")}},
    ]})
    rev = base + 1
    async with contextlib.aclosing(store.watch("/t/", from_revision=base)) as events:
        assert [ev.kv for ev in await take(events, 2)] == [KV("/t/x", b"1", rev, rev), KV("/t/y", b"2", rev, rev)]
    async with contextlib.aclosing(store.watch("/t/", from_revision=rev)) as events:   # exclusive: neither again
        z = await store.create("/t/z", b"3")
        assert [ev.kv for ev in await take(events, 1)] == [z]


async def test_compacted_revision_found_when_another_client_compacted(store: EtcdStore,
                                                                      shared_etcd: Member) -> None:
    for i in range(20):
        await store.create(f"/t/{i}", b"x")
    target = await store.current_revision() - 7
    _post(shared_etcd.client_port, "/v3/kv/compaction", {"revision": target, "physical": True})
    assert await store.compacted_revision() == target
    with pytest.raises(Compacted) as err:
        await store.get("/t/1", revision=target - 1)
    assert (err.value.requested, err.value.compacted) == (target - 1, target)


async def test_watch_stopped_by_its_consumer_leaves_nothing_behind(store: EtcdStore, shared_etcd: Member) -> None:
    tasks = asyncio.all_tasks()
    base = await store.current_revision()
    events = store.watch("/t/", from_revision=base)
    kv = await store.create("/t/a", b"1")
    assert [ev.kv for ev in await take(events, 1)] == [kv]
    assert store.watch_count == 1 and shared_etcd.metric("etcd_debugging_mvcc_watcher_total") == 1
    idle = store.connection_count - 1
    await events.aclose()  # type: ignore[attr-defined]
    assert store.watch_count == 0 and store.connection_count == idle
    assert asyncio.all_tasks() == tasks
    deadline = time.monotonic() + WAIT
    while shared_etcd.metric("etcd_debugging_mvcc_watcher_total") != 0:     # the server saw the stream end
        assert time.monotonic() < deadline, "etcd still holds the watcher"
        await asyncio.sleep(0.02)


async def test_close_ends_watches_and_calls(shared_etcd: Member) -> None:
    _wipe(shared_etcd)
    s = await EtcdStore.open(f"etcd://{shared_etcd.address}")
    rev = await s.current_revision()
    watches = [s.watch("/t/", from_revision=rev) for _ in range(3)]

    async def first(events: AsyncIterator[Event]) -> Event:
        return await anext(events)

    pending = [asyncio.create_task(first(w)) for w in watches]
    await asyncio.sleep(0)
    await s.close()
    async with asyncio.timeout(WAIT):
        for task in pending:
            with pytest.raises(StopAsyncIteration):
                await task
    assert s.connection_count == 0 and s.watch_count == 0
    with pytest.raises(StoreError, match="closed"):
        await s.get("/t/a")
    with pytest.raises(StoreError, match="closed"):
        s.watch("/t/", from_revision=0)


async def test_watch_survives_a_member_restart_without_gap_or_duplicate(single: Cluster) -> None:
    member = single.members[0]
    s = await EtcdStore.open(single.url([member]), request_timeout=20)
    try:
        base = await s.current_revision()
        _post(member.client_port, "/v3/kv/txn", {"success": [
            {"request_put": {"key": _b64("/t/x"), "value": _b64("1")}},
            {"request_put": {"key": _b64("/t/y"), "value": _b64("2")}},
        ]})
        async with contextlib.aclosing(s.watch("/t/", from_revision=base)) as events:
            first = await take(events, 2)
            assert [ev.kv.key for ev in first] == ["/t/x", "/t/y"]
            await asyncio.to_thread(member.stop)
            await asyncio.to_thread(single.restart, member)
            after = await s.create("/t/z", b"3")                  # the store reconnects by itself
            assert await take(events, 1) == [Event("PUT", after, None)]
    finally:
        await s.close()


async def test_watch_raises_unavailable_when_etcd_stays_down(single: Cluster) -> None:
    member = single.members[0]
    s = await EtcdStore.open(single.url([member]), request_timeout=1.0, keepalive_time=0.2, keepalive_timeout=0.2)
    try:
        events = s.watch("/t/", from_revision=await s.current_revision())
        kv = await s.create("/t/a", b"1")
        assert [ev.kv for ev in await take(events, 1)] == [kv]
        await asyncio.to_thread(member.stop)
        with pytest.raises(Unavailable):
            await take(events, 1)
        with pytest.raises(Unavailable):
            await s.get("/t/a")
        assert s.watch_count == 0
    finally:
        await s.close()


# ---------------------------------------------------------------------- three members

@pytest.mark.parametrize("victim", ["follower", "leader"])
async def test_cluster_member_stops_and_the_store_carries_on(tmp_path: Path, victim: str) -> None:
    """The member the store talks to is stopped: writes fail over (riding out the election when it was the
    leader) and the open watch resumes on another member from its last revision, with no gap and no duplicate."""
    with running(tmp_path, 3) as cluster:
        leader = cluster.leader()
        followers = [m for m in cluster.members if m is not leader]
        first = leader if victim == "leader" else followers[0]
        order = [first] + [m for m in cluster.members if m is not first]
        s = await EtcdStore.open(cluster.url(order), request_timeout=20)
        try:
            base = await s.current_revision()
            events = s.watch("/t/", from_revision=base)
            before = [await s.create(f"/t/a{i}", b"1") for i in range(3)]
            assert [ev.kv for ev in await take(events, 3)] == before
            await asyncio.to_thread(first.stop)
            after = [await s.create(f"/t/b{i}", b"2") for i in range(3)]
            updated = await s.update("/t/a0", b"3", expect_mod_revision=before[0].mod_revision)
            assert [ev.kv for ev in await take(events, 4)] == [*after, updated]
            assert (await s.list("/t/"))[1] == [updated, *before[1:], *after]
            await events.aclose()  # type: ignore[attr-defined]
        finally:
            await s.close()


async def test_cluster_stalled_watch_stream_resumes_on_another_member(tmp_path: Path) -> None:
    """A frozen member (SIGSTOP: its sockets stay open, nothing moves) is found by the keepalive probe."""
    with running(tmp_path, 3) as cluster:
        leader = cluster.leader()
        frozen, other = [m for m in cluster.members if m is not leader]
        watcher = await EtcdStore.open(cluster.url([frozen, other, leader]), keepalive_time=0.3,
                                       keepalive_timeout=0.3)
        writer = await EtcdStore.open(cluster.url([other, leader]))
        try:
            base = await writer.current_revision()
            events = watcher.watch("/t/", from_revision=base)
            a = await writer.create("/t/a", b"1")
            assert [ev.kv for ev in await take(events, 1)] == [a]
            frozen.pause()
            b = await writer.create("/t/b", b"2")
            c = await writer.update("/t/a", b"3", expect_mod_revision=a.mod_revision)
            assert await take(events, 2) == [Event("PUT", b, None), Event("PUT", c, a)]
            await events.aclose()  # type: ignore[attr-defined]
        finally:
            frozen.resume()
            await watcher.close()
            await writer.close()


async def test_cluster_without_quorum_answers_no_leader_at_once(tmp_path: Path) -> None:
    """A member cut off from its quorum is alive but useless: ``hasleader`` makes it say so instead of hanging
    reads and keeping watches open that will never see an event."""
    with running(tmp_path, 3) as cluster:
        leader = cluster.leader()
        for m in cluster.members:
            if m is not leader:
                await asyncio.to_thread(m.stop)
        deadline = time.monotonic() + WAIT
        while leader.leader_id() != "0":                     # check-quorum: it steps down after an election timeout
            assert time.monotonic() < deadline, "the lone member still claims to lead"
            await asyncio.sleep(0.05)
        s = EtcdStore(endpoints=parse_endpoints(cluster.url([leader])), request_timeout=0.5, dial_timeout=0.5,
                      keepalive_time=5.0, keepalive_timeout=5.0, max_connections=4)
        try:
            with pytest.raises(Unavailable, match="no leader"):
                await s.get("/t/a")
            with pytest.raises(Unavailable):
                await take(s.watch("/t/", from_revision=0), 1)
        finally:
            await s.close()
