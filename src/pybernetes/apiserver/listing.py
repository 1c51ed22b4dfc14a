"""Listing: consistent lists served from the watch cache, with pagination.

A first page comes from the watch cache at a revision at least as new as the store's (consistent read); its
continue token carries that revision, and continuation pages are read from the store at exactly that revision, so
every page belongs to one snapshot (upstream's etcd-backed continuation). ``resourceVersionMatch=Exact`` also
reads the store at the given revision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pybernetes.api import errors
from pybernetes.api.resources import Resource
from pybernetes.apiserver.options import ListOptions, decode_continue, encode_continue, parse_rv
from pybernetes.storage import interface as st

if TYPE_CHECKING:
    from pybernetes.apiserver.registry import GenericREST

Obj = dict[str, Any]


def ns_of(obj: Obj) -> str:
    return obj.get("metadata", {}).get("namespace", "")


async def list_objects(rest: GenericREST, res: Resource, ns: str, opts: ListOptions,
                       match: Callable[[Obj], bool] | None = None, *,
                       encoded: list[bytes] | None = None) -> Obj:
    """A consistent list, served from the watch cache; continuation pages are read from the store at the
    first page's revision so that pages are one snapshot.

    ``encoded``, when given, receives each item's JSON when the watch cache holds it (one per item, in order;
    left empty otherwise), so that the response joins bytes instead of encoding every item again."""
    prefix = res.key_prefix(ns)
    cache = rest.state.cache
    items: list[Obj]
    cached_json: list[bytes] | None = None
    if opts.continue_token:
        cont = decode_continue(opts.continue_token, prefix)
        rev = cont.rv
        items, more, last = await _list_store(rest, res, prefix, rev, cont.start, opts.limit, match)
    elif opts.resource_version_match == "Exact" and opts.resource_version not in ("", "0"):
        rev = parse_rv(opts.resource_version)
        items, more, last = await _list_store(rest, res, prefix, rev, "", opts.limit, match)
    else:
        if opts.resource_version == "":
            rev = await cache.sync()
        elif opts.resource_version == "0":
            rev = cache.revision
        else:
            want = parse_rv(opts.resource_version)
            try:
                await cache.wait_for(want, timeout=3.0)
            except TimeoutError:
                raise errors.Timeout(f"Too large resource version: {want}, current: {cache.revision}",
                                     details={"causes": [{"reason": "ResourceVersionTooLarge",
                                                          "message": "Too large resource version"}],
                                              "retryAfterSeconds": 1}) from None
            rev = cache.revision
        rc = cache.resource(res.storage)
        objs = rc.objects
        keys = rc.keys(prefix)
        if match is not None:
            keys = [k for k in keys if match(objs[k])]
        more = 0
        last = ""
        if opts.limit and len(keys) > opts.limit and opts.resource_version != "0":
            more = len(keys) - opts.limit
            keys = keys[:opts.limit]
        items = [objs[k] for k in keys]
        if more:
            last = res.key(ns_of(items[-1]), items[-1]["metadata"]["name"])
        if encoded is not None and res.api_version == res.storage_version:
            cached_json = [rc.json_of(k) for k in keys]
    lst: Obj = {"kind": res.list_kind or res.kind + "List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(rev)}}
    if more:
        lst["metadata"]["continue"] = encode_continue(rev, last, prefix)
        if match is None:
            lst["metadata"]["remainingItemCount"] = more
    if res.api_version != res.storage_version:
        items = [rest.from_storage(res, o) for o in items]
    lst["items"] = items
    if cached_json is not None and encoded is not None:
        encoded.extend(cached_json)
    return lst

async def _list_store(rest: GenericREST, res: Resource, prefix: str, rev: int, start: str, limit: int,
                      match: Callable[[Obj], bool] | None) -> tuple[list[Obj], int, str]:
    out: list[Obj] = []
    cursor = start
    while True:
        try:
            _, kvs = await rest.state.store.list(prefix, revision=rev, start_after=cursor,
                                                 limit=(limit + 1) if limit else 0)
        except st.Compacted:
            raise errors.Expired("The provided continue parameter is too old to display a consistent list "
                                 "result. You can start a new list without the continue parameter, or use "
                                 "the continue token in this response to retrieve the remainder of the results."
                                 ) from None
        except st.FutureRevision:
            raise errors.Timeout(f"Too large resource version: {rev}") from None
        for kv in kvs:
            obj = rest.decode(kv)
            if match is None or match(obj):
                out.append(obj)
                if limit and len(out) > limit:
                    more_key = res.key(ns_of(out[limit - 1]), out[limit - 1]["metadata"]["name"])
                    return out[:limit], 1, more_key
        if not limit or len(kvs) <= limit:
            return out, 0, ""
        cursor = kvs[-1].key
