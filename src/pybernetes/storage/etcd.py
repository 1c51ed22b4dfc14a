"""The etcd v3 store: the Store protocol over etcd's JSON gateway (``/v3/...``), for control planes with several
API servers. ``await EtcdStore.open("etcd://h1:2379,h2:2379,h3:2379")``.

Mapping (the same transactions as kube-apiserver's etcd3 store; 64-bit integers are JSON strings, zero values are
omitted, keys and values are base64):

- create: ``txn(if create_revision(k) == 0 then put)``; the else branch is empty: KeyExists, no revision used.
- update(expect=N): ``txn(if mod_revision(k) == N then put, range(k, keys_only) else range(k))``: the keys-only
  range after the put reads the create revision back without echoing the value; the else range tells KeyNotFound
  from RevisionMismatch(current). update(expect=0) compares ``create_revision(k) > 0``: a missing key is
  KeyNotFound, never a silent create.
- delete(expect=N): the same compare, then ``delete_range(k, prev_kv)``; delete(expect=0) is a bare delete_range.
  The result is the last value at the delete's revision (the response header's revision).
- list: ``range(prefix or after start_after + "\\0", range_end(prefix), revision, limit)``; count: ``count_only``.
- watch: ``/v3/watch`` streams newline-delimited JSON in a chunked HTTP body. It starts AT ``from_revision`` (not
  after it) and drops what it already saw, so etcd's own "start revision < compacted revision" check is exactly the
  interface's "from_revision < compacted revision" rule; ``compact_revision`` in a response becomes Compacted.
- compacted_revision: etcd 3.4 does not report it, so it is found by reads at old revisions (a binary search that
  starts from what this store already knows; one or two reads in the usual case).

Transport: a small HTTP/1.1 keep-alive client on asyncio streams (its wire side, with the gateway's JSON forms, in
:mod:`pybernetes.storage.etcd_transport`; the pool and failover here), not aiohttp's ClientSession. Both drive etcd
to the same rate, but aiohttp spends ~230 µs of this process's CPU per request against ~80 µs here (measured: 16
writers, 1 KiB creates), and this process is the API server. etcd's gRPC port through ``aetcd``/grpcio reached
1.3-1.8x the create rate at ~2x the client CPU (~180 µs), with threads and a C extension; the API server's CPU is
the scarcer resource, so the gateway it is (a gRPC transport could sit behind the same class if etcd became the
bottleneck).

Failover: every request carries the ``hasleader`` metadata (``Grpc-Metadata-Hasleader: true``), so a member that
lost its quorum answers "no leader" at once instead of hanging. A request that never reached a member (connection
refused, dial timeout, "no leader") is tried on the next endpoint, round after round with backoff, until
``request_timeout``; that rides out leader elections and restarts. A request that may have reached a member but got
no answer is retried elsewhere only if it is a read; a write whose outcome is unknown raises Unavailable (the client
retries, as with kube-apiserver). Watches resume from their last revision on the next endpoint when the stream ends,
errors, or stalls: after ``keepalive_time`` of silence the member is probed with a read carrying ``hasleader``, and
a member that does not answer within ``keepalive_timeout`` is left. If no endpoint takes the watch within
``request_timeout``, the iterator raises Unavailable and the API server's watch cache re-lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from pybernetes.storage.etcd_transport import (
    _READ_LIMIT,
    _STREAM_ERRORS,
    DEFAULT_PORT,
    _b64,
    _Broken,
    _Conn,
    _EtcdError,
    _event,
    _kv,
    _kv_of,
    _NotSent,
    _read_head,
    _read_response,
    _reply,
    _WatchStream,
    parse_endpoints,
    range_end,
)
from pybernetes.storage.interface import (
    KV,
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    Store,
    StoreError,
    Unavailable,
)

__all__ = ["DEFAULT_PORT", "EtcdStore", "parse_endpoints", "range_end"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_FIRST_BACKOFF = 0.05                # seconds between rounds over every endpoint, doubling ...
_MAX_BACKOFF = 1.0                   # ... up to this
_ALL = 1 << 62                       # "skip every event at this revision" (a watch's exclusive start)
_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"

_RANGE, _TXN, _DELETE_RANGE = b"/v3/kv/range", b"/v3/kv/txn", b"/v3/kv/deleterange"
_COMPACTION, _WATCH = b"/v3/kv/compaction", b"/v3/watch"

# Request bodies: base64 needs no JSON escaping, so %-formatting bytes is safe and cheaper than building dicts.
_CREATE = (b'{"compare":[{"key":"%s","target":"CREATE","result":"EQUAL","create_revision":0}],'
           b'"success":[{"request_put":{"key":"%s","value":"%s"}}]}')
_UPDATE_IF = (b'{"compare":[{"key":"%s","target":"MOD","result":"EQUAL","mod_revision":%d}],'
              b'"success":[{"request_put":{"key":"%s","value":"%s"}},{"request_range":{"key":"%s","keys_only":true}}],'
              b'"failure":[{"request_range":{"key":"%s"}}]}')
_UPDATE_ANY = (b'{"compare":[{"key":"%s","target":"CREATE","result":"GREATER","create_revision":0}],'
               b'"success":[{"request_put":{"key":"%s","value":"%s"}},{"request_range":{"key":"%s","keys_only":true}}]}')
_DELETE_IF = (b'{"compare":[{"key":"%s","target":"MOD","result":"EQUAL","mod_revision":%d}],'
              b'"success":[{"request_delete_range":{"key":"%s","prev_kv":true}}],'
              b'"failure":[{"request_range":{"key":"%s"}}]}')
_DELETE = b'{"key":"%s","prev_kv":true}'
_GET = b'{"key":"%s","revision":%d}'
_LIST = b'{"key":"%s","range_end":"%s","revision":%d,"limit":%d}'
_COUNT = b'{"key":"%s","range_end":"%s","count_only":true}'
_REVISION = b'{"key":"AA==","count_only":true}'                     # key "\0": nothing, but a linearizable header
_READABLE_AT = b'{"key":"AA==","count_only":true,"revision":%d}'
_ALIVE = b'{"key":"%s","count_only":true,"serializable":true}'      # answered locally; hasleader still checked
_COMPACT = b'{"revision":%d,"physical":true}'
_WATCH_CREATE = (b'{"create_request":{"key":"%s","range_end":"%s","start_revision":%d,'
                 b'"prev_kv":true,"fragment":true}}')


class EtcdStore:
    """A :class:`~pybernetes.storage.interface.Store` on an etcd v3 cluster. Open with ``await EtcdStore.open(url)``.

    Bound to the event loop that opened it. Calls after :meth:`close` raise :class:`StoreError`.
    """

    def __init__(self, *, endpoints: list[tuple[str, int]], request_timeout: float, dial_timeout: float,
                 keepalive_time: float, keepalive_timeout: float, max_connections: int) -> None:
        if not endpoints:
            raise ValueError("no etcd endpoint")
        self.endpoints = endpoints
        self._request_timeout = request_timeout
        self._dial_timeout = dial_timeout
        self._keepalive_time = keepalive_time
        self._keepalive_timeout = keepalive_timeout
        self._heads = [b"POST %%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                       b"Grpc-Metadata-Hasleader: true\r\nContent-Length: %%d\r\n\r\n" % self._name(ep).encode()
                       for ep in range(len(endpoints))]
        self._idle: list[list[_Conn]] = [[] for _ in endpoints]
        self._slots = [asyncio.Semaphore(max_connections) for _ in endpoints]   # requests in flight per endpoint
        self._conns: set[_Conn] = set()        # every open connection, so close() can end them all
        self._watches = 0
        self._preferred = 0                    # the endpoint requests go to first
        self._compacted = 0                    # known lower bound of the compacted revision
        self._closed = False

    # ---------------------------------------------------------------- opening and closing

    @classmethod
    async def open(cls, endpoints: str, *, request_timeout: float = 10.0, dial_timeout: float = 2.0,
                   keepalive_time: float = 5.0, keepalive_timeout: float = 2.0,
                   max_connections: int = 64) -> EtcdStore:
        """Connect to ``etcd://h1:p1[,h2:p2...]`` and check that a member with a leader answers.

        ``request_timeout`` bounds each call, failover and backoff included (Unavailable after it; waiting for a
        free connection under overload may add as much again); ``dial_timeout`` bounds one TCP connect; a watch
        silent for ``keepalive_time`` probes its member, which must answer within ``keepalive_timeout``. At most
        ``max_connections`` requests are in flight per endpoint (each on its own keep-alive connection: HTTP/1.1
        has no multiplexing); more wait for one. Watches have connections of their own.
        """
        store = cls(endpoints=parse_endpoints(endpoints), request_timeout=request_timeout,
                    dial_timeout=dial_timeout, keepalive_time=keepalive_time,
                    keepalive_timeout=keepalive_timeout, max_connections=max_connections)
        try:
            await store.current_revision()
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Close every connection: calls in flight fail with StoreError, watch iterators end (after what they hold)."""
        if self._closed:
            return
        self._closed = True
        conns = list(self._conns)
        self._conns.clear()
        for idle in self._idle:
            idle.clear()
        for conn in conns:
            conn.writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await asyncio.gather(*(c.writer.wait_closed() for c in conns), return_exceptions=True)

    @property
    def watch_count(self) -> int:
        """Open watch iterators (for metrics and leak tests)."""
        return self._watches

    @property
    def connection_count(self) -> int:
        """Open connections, idle, busy and watching (for leak tests)."""
        return len(self._conns)

    # ---------------------------------------------------------------- HTTP

    def _name(self, ep: int) -> str:
        host, port = self.endpoints[ep]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def _connect(self, ep: int, timeout: float) -> _Conn:
        host, port = self.endpoints[ep]
        try:
            async with asyncio.timeout(min(timeout, self._dial_timeout)):
                reader, writer = await asyncio.open_connection(host, port, limit=_READ_LIMIT)
        except (OSError, TimeoutError) as err:
            raise _NotSent(f"{host}:{port}: {err!r}") from None
        conn = _Conn(ep, reader, writer)
        if self._closed:
            writer.close()
            raise StoreError("store is closed")
        self._conns.add(conn)
        return conn

    def _discard(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        conn.writer.close()

    def _checkout(self, ep: int) -> _Conn | None:
        idle = self._idle[ep]
        while idle:
            conn = idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            self._discard(conn)
        return None

    async def _exchange(self, ep: int, path: bytes, body: bytes, timeout: float) -> tuple[int, bytes]:
        """One request and its response on a keep-alive connection to endpoint ``ep``, within ``timeout`` (and as
        long again at most to wait for one of its ``max_connections``)."""
        slots = self._slots[ep]
        if slots.locked():
            try:
                async with asyncio.timeout(timeout):
                    await slots.acquire()
            except TimeoutError:
                raise _NotSent(f"{self._name(ep)}: all connections busy for {timeout:g}s") from None
        else:
            await slots.acquire()                      # free: returns at once
        conn, sent = None, False
        try:
            async with asyncio.timeout(timeout):
                conn = self._checkout(ep) or await self._connect(ep, timeout)
                conn.writer.write(self._heads[ep] % (path, len(body)) + body)
                sent = True
                status, data, keep = await _read_response(conn.reader)
            if keep and not self._closed:
                self._idle[ep].append(conn)
            else:
                self._discard(conn)
        except _STREAM_ERRORS as err:
            if conn is not None:
                self._discard(conn)
            if self._closed:
                raise StoreError("store is closed") from None
            raise (_Broken if sent else _NotSent)(f"{self._name(ep)}: {err!r}") from None
        except BaseException:
            if conn is not None:
                self._discard(conn)
            raise
        finally:
            slots.release()
        return status, data

    async def _call(self, path: bytes, body: bytes, *, idempotent: bool,
                    timeout: float | None = None) -> dict[str, Any]:
        """Send to the preferred endpoint; fail over as the module docstring says. etcd's refusals: _EtcdError."""
        if self._closed:
            raise StoreError("store is closed")
        timeout = timeout or self._request_timeout
        failed = self._preferred
        try:
            return _reply(*await self._exchange(failed, path, body, timeout))
        except (_NotSent, _Broken) as err:
            if isinstance(err, _Broken) and not idempotent:
                self._preferred = (failed + 1) % len(self.endpoints)
                raise Unavailable(f"etcd {err}; the write may or may not have been applied") from None
            errors = [str(err)]

        async def attempt(ep: int, left: float) -> dict[str, Any]:
            return _reply(*await self._exchange(ep, path, body, left))

        ep, result = await self._on_any(attempt, first=failed + 1, timeout=timeout, idempotent=idempotent,
                                        errors=errors)
        if ep != self._preferred:
            log.warning("etcd: failed over to another endpoint",
                        extra={"endpoint": self._name(ep), "failed": self._name(failed), "error": errors[0]})
            self._preferred = ep
        return result

    async def _on_any(self, attempt: Callable[[int, float], Awaitable[T]], *, first: int, timeout: float,
                      idempotent: bool, errors: list[str]) -> tuple[int, T]:
        """``attempt(endpoint, seconds left)`` on endpoint ``first``, then on the next ones, round after round with a
        growing pause, for ``timeout`` seconds. _NotSent moves on; so does _Broken, unless the attempt was a write."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        n, delay = len(self.endpoints), _FIRST_BACKOFF
        for tried in itertools.count(1):
            left = deadline - loop.time()
            if left <= 0:
                break
            if self._closed:
                raise StoreError("store is closed")
            ep = (first + tried - 1) % n
            try:
                return ep, await attempt(ep, left)
            except _NotSent as err:
                errors.append(str(err))
            except _Broken as err:
                if not idempotent:
                    raise Unavailable(f"etcd {err}; the write may or may not have been applied") from None
                errors.append(str(err))
            if tried % n == 0:
                await asyncio.sleep(max(0.0, min(delay, deadline - loop.time())))
                delay = min(delay * 2, _MAX_BACKOFF)
        raise Unavailable(f"etcd: no endpoint answered within {timeout:g}s: " + "; ".join(errors[-n:]))

    # ---------------------------------------------------------------- writes

    async def create(self, key: str, value: bytes) -> KV:
        k, v = _b64(key.encode()), _b64(value)
        resp = await self._call(_TXN, _CREATE % (k, k, v), idempotent=False)
        if not resp.get("succeeded"):
            raise KeyExists(key)
        rev = int(resp["header"]["revision"])
        return KV(key, bytes(value), rev, rev)

    async def update(self, key: str, value: bytes, *, expect_mod_revision: int) -> KV:
        k, v = _b64(key.encode()), _b64(value)
        if expect_mod_revision:
            body = _UPDATE_IF % (k, expect_mod_revision, k, v, k, k)
        else:
            body = _UPDATE_ANY % (k, k, v, k)
        resp = await self._call(_TXN, body, idempotent=False)
        if not resp.get("succeeded"):
            raise self._mismatch(key, resp)
        created = int(resp["responses"][1]["response_range"]["kvs"][0]["create_revision"])
        return KV(key, bytes(value), created, int(resp["header"]["revision"]))

    async def delete(self, key: str, *, expect_mod_revision: int = 0) -> KV:
        k = _b64(key.encode())
        if expect_mod_revision:
            resp = await self._call(_TXN, _DELETE_IF % (k, expect_mod_revision, k, k), idempotent=False)
            if not resp.get("succeeded"):
                raise self._mismatch(key, resp)
            resp = resp["responses"][0]["response_delete_range"]
            rev = int(resp["header"]["revision"])
        else:
            resp = await self._call(_DELETE_RANGE, _DELETE % k, idempotent=False)
            rev = int(resp["header"]["revision"])
        prev = resp.get("prev_kvs")
        if not prev:
            raise KeyNotFound(key)
        last = _kv_of(key, prev[0])
        return KV(key, last.value, last.create_revision, rev)

    @staticmethod
    def _mismatch(key: str, resp: dict[str, Any]) -> StoreError:
        """The failure branch of a compare-and-swap: its range says whether the key is gone or just changed."""
        responses = resp.get("responses")
        kvs = responses[0]["response_range"].get("kvs") if responses else None
        return RevisionMismatch(_kv_of(key, kvs[0])) if kvs else KeyNotFound(key)

    async def compact(self, revision: int) -> None:
        """Drop history before ``revision`` (physically: reads below it fail once this returns). Compacting to a
        revision already compacted is a no-op; above the current revision is FutureRevision."""
        if revision <= self._compacted:
            return
        try:
            await self._call(_COMPACTION, _COMPACT % revision, idempotent=True,
                             timeout=max(60.0, self._request_timeout))
        except _EtcdError as err:
            if _FUTURE in err.message:
                raise FutureRevision(f"required revision {revision} is a future revision") from None
            if _COMPACTED not in err.message:
                raise
        self._compacted = max(self._compacted, revision)

    # ---------------------------------------------------------------- reads

    async def _range(self, body: bytes, revision: int) -> dict[str, Any]:
        try:
            return await self._call(_RANGE, body, idempotent=True)
        except _EtcdError as err:
            if _COMPACTED in err.message:
                raise Compacted(revision, await self._find_compacted(revision + 1)) from None
            if _FUTURE in err.message:
                raise FutureRevision(f"required revision {revision} is a future revision") from None
            raise

    async def get(self, key: str, *, revision: int = 0) -> KV | None:
        if revision < 0:
            raise ValueError("revision must not be negative")
        kvs = (await self._range(_GET % (_b64(key.encode()), revision), revision)).get("kvs")
        return _kv_of(key, kvs[0]) if kvs else None

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> tuple[int, list[KV]]:
        """Keys starting with ``prefix`` in key order, after ``start_after``, at most ``limit`` (0: all), as of
        ``revision`` (0: now). Returns the listing's revision, for continuation pages."""
        if revision < 0 or limit < 0:
            raise ValueError("revision and limit must not be negative")
        raw = prefix.encode()
        start = start_after.encode() + b"\x00" if start_after >= prefix else raw or b"\x00"
        resp = await self._range(_LIST % (_b64(start), _b64(range_end(raw)), revision, limit), revision)
        return revision or int(resp["header"]["revision"]), [_kv(d) for d in resp.get("kvs", ())]

    async def count(self, prefix: str) -> int:
        raw = prefix.encode()
        resp = await self._call(_RANGE, _COUNT % (_b64(raw or b"\x00"), _b64(range_end(raw))), idempotent=True)
        return int(resp.get("count", 0))

    async def current_revision(self) -> int:
        return int((await self._call(_RANGE, _REVISION, idempotent=True))["header"]["revision"])

    async def compacted_revision(self) -> int:
        return await self._find_compacted(self._compacted)

    async def _readable_at(self, revision: int) -> bool:
        try:
            await self._call(_RANGE, _READABLE_AT % revision, idempotent=True)
        except _EtcdError as err:
            if _COMPACTED in err.message:
                return False
            raise
        return True

    async def _find_compacted(self, lower: int) -> int:
        """The compacted revision, known to be >= ``lower``: the oldest revision etcd still reads at.

        Binary search by reads of an absent key at old revisions; starts at the best bound known, so a store that
        did the compaction itself (or saw it) needs one read. Compaction at revision 1 is indistinguishable from
        none (nothing lies below 1) and reports as this store knows it.
        """
        lo = max(lower, self._compacted, 1)
        if not await self._readable_at(lo):
            hi = await self.current_revision()
            lo += 1
            while lo < hi:
                mid = (lo + hi) // 2
                if await self._readable_at(mid):
                    hi = mid
                else:
                    lo = mid + 1
        if lo > 1:
            self._compacted = max(self._compacted, lo)
        return self._compacted

    # ---------------------------------------------------------------- watch

    def watch(self, prefix: str, *, from_revision: int) -> AsyncIterator[Event]:
        """Every event on keys starting with ``prefix`` with revision > ``from_revision``, in order, then live ones.

        Compacted if ``from_revision`` is below the compacted revision (also when a resumed stream finds its
        revision compacted); Unavailable if no endpoint takes the watch within ``request_timeout``. Ends when the
        store closes.
        """
        if self._closed:
            raise StoreError("store is closed")
        if from_revision < 0:
            raise ValueError("revision must not be negative")
        return self._watch(prefix, from_revision)

    async def _watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        raw = prefix.encode()
        k, end = _b64(raw or b"\x00"), _b64(range_end(raw))
        last, at_last = from_revision, _ALL       # events yielded at revision `last` (all of them, at the start)
        ep = self._preferred
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        self._watches += 1
        try:
            while not self._closed:
                stream = await self._open_watch(_WATCH_CREATE % (k, end, max(last, 1)), ep, failing_since)
                if stream is None:
                    return
                ep, skip = stream.conn.ep, at_last
                try:
                    while (msg := await self._next_message(stream, k)) is not None:
                        result = msg.get("result")
                        if result is None:                         # {"error": ...}: the stream is over
                            log.warning("etcd watch stream failed", extra={"endpoint": self._name(ep),
                                                                           "error": msg.get("error")})
                            break
                        if "compact_revision" in result:
                            raise Compacted(last, int(result["compact_revision"]))
                        if result.get("created"):
                            failing_since = None
                        if result.get("canceled"):
                            break
                        for raw_ev in result.get("events", ()):
                            rev = int(raw_ev["kv"]["mod_revision"])
                            if rev > last:
                                last, at_last, skip = rev, 1, 0
                            elif rev < last or skip:               # seen before the stream was resumed
                                skip -= rev == last
                                continue
                            else:
                                at_last += 1
                            yield _event(raw_ev)
                finally:
                    self._discard(stream.conn)
                if self._closed:
                    return
                failing_since = failing_since or loop.time()
                ep = (ep + 1) % len(self.endpoints)
        finally:
            self._watches -= 1

    async def _next_message(self, stream: _WatchStream, key: bytes) -> dict[str, Any] | None:
        """The stream's next message; None when it ended, broke, or stalled (its member is unresponsive)."""
        while True:
            try:
                async with asyncio.timeout(self._keepalive_time):
                    return await stream.message()
            except TimeoutError:
                if not await self._alive(stream.conn.ep, key):
                    log.warning("etcd watch stream stalled; resuming elsewhere",
                                extra={"endpoint": self._name(stream.conn.ep)})
                    return None
            except _STREAM_ERRORS:                         # orjson.JSONDecodeError is a ValueError
                return None

    async def _alive(self, ep: int, key: bytes) -> bool:
        if self._closed:
            return False
        try:
            status, _ = await self._exchange(ep, _RANGE, _ALIVE % key, self._keepalive_timeout)
        except (_NotSent, _Broken):
            return False
        return status == 200

    async def _open_watch(self, body: bytes, ep: int, failing_since: float | None) -> _WatchStream | None:
        """A watch stream from endpoint ``ep`` or the next ones; None if the store closed meanwhile."""
        loop = asyncio.get_running_loop()
        left = (failing_since or loop.time()) + self._request_timeout - loop.time()
        try:
            _, stream = await self._on_any(partial(self._start_watch, body), first=ep, timeout=left,
                                           idempotent=True, errors=[])
        except StoreError:
            if self._closed:
                return None
            raise
        return stream

    async def _start_watch(self, body: bytes, ep: int, left: float) -> _WatchStream:
        conn = await self._connect(ep, left)
        try:
            async with asyncio.timeout(min(left, self._request_timeout)):
                conn.writer.write(self._heads[ep] % (_WATCH, len(body)) + body)
                status, head = await _read_head(conn.reader)
                if status == 200 and b"\r\ntransfer-encoding: chunked" in head:
                    return _WatchStream(conn)
                _reply(status, await conn.reader.read())                   # raises the reason
                raise _Broken(f"{self._name(ep)}: HTTP {status} without a stream")
        except _STREAM_ERRORS as err:
            self._discard(conn)
            raise _Broken(f"{self._name(ep)}: {err!r}") from None
        except BaseException:
            self._discard(conn)
            raise


def _conforms(store: EtcdStore) -> Store:
    """Static check (mypy) that EtcdStore implements the Store protocol."""
    return store
