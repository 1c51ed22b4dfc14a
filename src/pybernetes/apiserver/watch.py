"""Watch: a chunked stream of ``{"type": ..., "object": ...}`` lines served from the watch cache.

Semantics as upstream (CLIENTS.md "get, Tables, watch"): no resourceVersion (or "0") → synthetic ADDED events
for the current objects, then live ones; a resourceVersion → every later event; too old → one ERROR event
carrying a 410 Expired Status, then the end of the stream. ``timeoutSeconds`` ends the stream; bookmarks carry
only ``metadata.resourceVersion``. Each event is encoded once per wire shape and shared by all its watchers.
"""

from __future__ import annotations

import asyncio
import random
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from pybernetes.api.errors import APIError, Expired, Timeout
from pybernetes.api.resources import Resource
from pybernetes.apiserver.negotiation import Output, choose
from pybernetes.apiserver.options import ListOptions, parse_rv
from pybernetes.apiserver.requestinfo import RequestInfo
from pybernetes.storage.watchcache import CachedEvent, TooOld, Watcher

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler

Obj = dict[str, Any]
MIN_REQUEST_TIMEOUT = 1800          # upstream --min-request-timeout: a watch lasts 30–60 min without timeoutSeconds
BOOKMARK_INTERVAL = 60.0
PUSH_LIMIT = 256 * 1024             # unsent bytes on a connection above which live events wait for the handler


def encode_event(ev: CachedEvent, shape: tuple[Any, ...], res: Resource, out: Output,
                 convert: Any, *, first: bool = False) -> bytes:
    """Bytes of one watch event for a wire shape; Table events carry column definitions only on a stream's
    first event, as upstream's watch does, so the first event's bytes are keyed separately."""
    key = (*shape, first) if out.as_kind == "Table" else shape
    data = ev.encoded.get(key)
    if data is None and not out.as_kind and res.api_version == res.storage_version:
        # The object's own JSON, shared with LISTs: byte for byte what encoding the event dict would give.
        data = ev.encoded[key] = b'{"type":"%b","object":%b}\n' % (ev.type.encode(), ev.object_json())
    if data is None:
        obj = ev.obj
        if res.api_version != res.storage_version:
            obj = convert(res, obj)
        if out.as_kind == "Table":
            from pybernetes.api.tables import to_table
            rv = obj["metadata"].get("resourceVersion")
            obj = to_table(res, [obj], include_object=shape[3] or "Metadata",
                           api_version=f"meta.k8s.io/{out.as_version}", no_headers=not first)
            obj["metadata"] = {"resourceVersion": rv}
        elif out.as_kind == "PartialObjectMetadata":
            obj = {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{out.as_version}",
                   "metadata": obj["metadata"]}
        data = ev.encoded[key] = orjson.dumps({"type": ev.type, "object": obj}) + b"\n"
    return data


def bookmark(res: Resource, rv: int, *, initial_end: bool = False) -> bytes:
    meta: Obj = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
    return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


def _push(request: web.Request, res: Resource, out: Output, shape: tuple[Any, ...], convert: Any, sent: list[bool],
          watcher: Watcher, ev: CachedEvent) -> bool:
    """A watcher's sink: write one live event to its connection as one HTTP chunk, now, on the loop.

    With a thousand watchers, waking a handler task per watcher and event cost ~35 µs a delivery; this costs
    what the write costs. False (the caller queues the event for the handler, which awaits the drain) while the
    connection holds more than PUSH_LIMIT unsent bytes; a closed connection ends the watch."""
    transport = request.transport
    if transport is None or transport.is_closing():
        watcher.close()
        return True
    if transport.get_write_buffer_size() > PUSH_LIMIT:
        return False
    data = encode_event(ev, shape, res, out, convert, first=not sent[0])
    sent[0] = True
    transport.write(b"%x\r\n%b\r\n" % (len(data), data))
    return True


def error_event(err: APIError) -> bytes:
    return orjson.dumps({"type": "ERROR", "object": err.to_status()}) + b"\n"


async def serve_watch(handler: ResourceHandler, request: web.Request, res: Resource,
                      info: RequestInfo) -> web.StreamResponse:
    state = handler.state
    opts = ListOptions.parse(request.query)
    out = choose(request.headers.get("Accept"), allow_as=("Table", "PartialObjectMetadata"))
    match = handler.matcher(res, opts, name=info.name)
    prefix = res.key(info.namespace, info.name) if info.name else res.key_prefix(info.namespace)
    if info.name:
        prefix_exact = prefix
        base = match

        def match(o: Obj) -> bool:
            return o["metadata"].get("name") == info.name and (base is None or base(o))
        prefix = prefix_exact
    cache = state.cache
    rv = opts.resource_version
    initial_end = False
    if rv in ("", "0"):
        if rv == "":
            await cache.sync()
        from_rv = None
        if opts.send_initial_events is False:
            from_rv = cache.revision
        initial_end = bool(opts.send_initial_events and opts.allow_bookmarks)
    else:
        from_rv = parse_rv(rv)
        if opts.send_initial_events:
            await cache.wait_for(from_rv, timeout=3.0)
            from_rv, initial_end = None, opts.allow_bookmarks
        elif from_rv > cache.revision:
            try:
                await cache.wait_for(from_rv, timeout=3.0)
            except TimeoutError:
                raise Timeout(f"Too large resource version: {from_rv}, current: {cache.revision}",
                              details={"causes": [{"reason": "ResourceVersionTooLarge",
                                                   "message": "Too large resource version"}],
                                       "retryAfterSeconds": 1}) from None
    resp = web.StreamResponse(status=200)
    resp.content_type = out.content_type
    resp.headers["Cache-Control"] = "no-cache, private"
    resp.enable_chunked_encoding()
    try:
        watcher = cache.watch(res.storage, prefix, from_rv=from_rv, filt=match)
    except TooOld as e:
        await resp.prepare(request)
        await resp.write(error_event(Expired(f"too old resource version: {e.requested} ({e.oldest})")))
        await resp.write_eof()
        return resp
    await resp.prepare(request)
    timeout = opts.timeout_seconds
    if timeout is None or timeout <= 0:
        timeout = MIN_REQUEST_TIMEOUT * (1 + random.random())
    deadline = time.monotonic() + timeout
    shape = (out.as_kind, out.as_version, res.api_version, request.query.get("includeObject", ""))
    convert = handler.rest.from_storage
    last_bookmark = time.monotonic()
    try:
        await resp.write(b"")
        first = True
        sent = [False]                  # any event sent yet (Table column definitions go on the first only)
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                break
            wait = min(remaining, BOOKMARK_INTERVAL) if opts.allow_bookmarks else remaining
            if first and initial_end:
                wait = 0.0
            batch = await watcher.next_batch(timeout=wait)
            if batch is None:
                break
            if batch:
                chunks = []
                for ev in batch:
                    chunks.append(encode_event(ev, shape, res, out, convert, first=not sent[0]))
                    sent[0] = True
                await resp.write(b"".join(chunks))
            if first and initial_end:
                await resp.write(bookmark(res, cache.revision, initial_end=True))
                last_bookmark = time.monotonic()
            if first:                   # initial events are out: live ones may now go straight to the client
                watcher.sink = partial(_push, request, res, out, shape, convert, sent, watcher)
            first = False
            if opts.allow_bookmarks and time.monotonic() - last_bookmark >= BOOKMARK_INTERVAL:
                await resp.write(bookmark(res, cache.revision))
                last_bookmark = time.monotonic()
        if watcher.error:
            # The client fell too far behind: tell it to re-list, as upstream does for a slow watcher.
            await resp.write(error_event(Expired("watch closed: the client is too slow; re-list and watch again")))
    except (ConnectionResetError, asyncio.CancelledError):
        watcher.close()
        raise
    finally:
        watcher.close()
    try:
        await resp.write_eof()
    except ConnectionResetError:
        pass
    return resp
