"""The resource metrics API (``metrics.k8s.io/v1beta1``, what ``kubectl top`` and the HPA read) and the endpoint
node agents report usage to.

Upstream serves this group from metrics-server, an aggregated API that scrapes every kubelet. Here each agent
pushes one usage summary per period (:mod:`pybernetes.api.usage_summary`) to ``PUT /v1-pybernetes/metrics/
<agent-id>``, which this server stores under ``/registry/_metrics/agents/<agent-id>``: the watch cache of every
API server then holds every agent's latest summary, so any of them can answer. NodeMetrics and PodMetrics are
computed from those summaries on each read, never stored:

- only ``get`` and ``list`` are served (as metrics-server), with label selectors matched against the Node's or
  Pod's labels and field selectors on ``metadata.name``/``metadata.namespace``;
- an object exists only while its Node or Pod does (a pod's usage must come from the node it is bound to) and its
  agent's summary is fresh: a summary older than two of its agent's periods (the agent stopped) is ignored;
- objects carry the Node's or Pod's labels, ``timestamp`` (when sampled) and ``window`` (the rate's interval),
  with CPU in nanocores and memory in BinarySI bytes as metrics-server formats them.

Writing summaries is for ``system:masters`` and ``system:nodes`` only, and a node identity
(``system:node:<name>``) may only write the summary named after it, in the spirit of upstream's NodeRestriction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from pybernetes.api import errors, tables, usage_summary
from pybernetes.api.meta import format_rfc3339
from pybernetes.api.quantity import parse_quantity
from pybernetes.api.resources import READ_ONLY, Resource
from pybernetes.api.schema import schema
from pybernetes.api.tables.printer import NAME, Printer, column
from pybernetes.api.usage_summary import Sample, cpu_quantity, memory_quantity
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import Attributes
from pybernetes.apiserver.authz_messages import forbidden_message
from pybernetes.apiserver.negotiation import choose
from pybernetes.apiserver.options import ListOptions
from pybernetes.apiserver.requestinfo import RequestInfo
from pybernetes.apiserver.respond import body_response, list_response, object_response
from pybernetes.apiserver.selection import build_matcher
from pybernetes.apiserver.state import ServerState
from pybernetes.storage.interface import KeyExists, KeyNotFound, Unavailable
from pybernetes.storage.watchcache import ResourceCache

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler

log = logging.getLogger(__name__)
Obj = dict[str, Any]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
SUMMARY_PATH = "/v1-pybernetes/metrics/"
STORAGE = "_metrics/agents"
KEY_PREFIX = f"/registry/{STORAGE}/"
STALE_PERIODS = 2                   # a summary older than this many of its periods: the agent is gone
SUMMARY_HISTORY = 4                 # watch-cache events kept for summaries: nobody watches them
WRITERS = ("system:masters", "system:nodes")


def metrics_resources() -> tuple[Resource, Resource]:
    """NodeMetrics (``nodes``) and PodMetrics (``pods``): read-only, served in discovery and OpenAPI."""
    kinds = schema().kinds

    def r(kind: str, plural: str, namespaced: bool) -> Resource:
        return Resource(group=GROUP, version=VERSION, kind=kind, plural=plural, singular=kind.lower(),
                        namespaced=namespaced, verbs=READ_ONLY, storage=f"{GROUP}/{plural}",
                        storage_version=API_VERSION, message=kinds.get(f"{API_VERSION}/{kind}"),
                        list_kind=f"{kind}List")
    return r("NodeMetrics", "nodes", False), r("PodMetrics", "pods", True)


# ---------------------------------------------------------------------------------------------------- tables
def _total(usages: list[Obj], name: str) -> str:
    total = parse_quantity(0)
    for u in usages:
        if name in u:
            total = total + parse_quantity(u[name])
    return str(total)


def _cells(usages: Callable[[Obj], list[Obj]]) -> Callable[[Obj, datetime], list[Any]]:
    def cells(obj: Obj, now: datetime) -> list[Any]:
        us = usages(obj)
        return [(obj.get("metadata") or {}).get("name", ""), _total(us, "cpu"), _total(us, "memory"),
                obj.get("window", "")]
    return cells


_USAGE_COLUMNS = (
    {**NAME, "description": "Name of the resource"},
    column("cpu", "string", "", format="quantity"),
    column("memory", "string", "", format="quantity"),
    column("Window", "string", "", format="duration"),
)
# metrics-server's tables: name, the usage of each resource (summed over a pod's containers), the window.
PRINTERS = {
    (GROUP, "NodeMetrics"): Printer(_USAGE_COLUMNS, _cells(lambda o: [o.get("usage") or {}])),
    (GROUP, "PodMetrics"): Printer(_USAGE_COLUMNS, _cells(
        lambda o: [c.get("usage") or {} for c in o.get("containers") or ()])),
}


# ---------------------------------------------------------------------------------------------------- the view
class MetricsView:
    """Node and pod samples of every stored summary, re-indexed lazily: a summary is parsed on the first read
    after it changed (once per agent per period at most), and readers in between only look things up."""

    def __init__(self, summaries: ResourceCache, *, wall: Callable[[], float] = time.time) -> None:
        self.summaries = summaries
        self.wall = wall
        self._indexed: dict[str, Obj] = {}                                 # summary key → the object indexed
        self._of_key: dict[str, tuple[list[str], list[tuple[str, str]]]] = {}
        self.nodes: dict[str, tuple[str, Sample]] = {}                     # node → (summary key, sample)
        self.pods: dict[tuple[str, str], tuple[str, Sample]] = {}          # (ns, pod) → (summary key, sample)

    def refresh(self) -> None:
        objs = self.summaries.objects
        if len(objs) == len(self._indexed) and all(objs.get(k) is o for k, o in self._indexed.items()):
            return
        for key in [k for k, o in self._indexed.items() if objs.get(k) is not o]:
            self._drop(key)
        for key, obj in objs.items():
            if key not in self._indexed:
                self._add(key, obj)

    def _drop(self, key: str) -> None:
        del self._indexed[key]
        node_names, pod_keys = self._of_key.pop(key, ([], []))
        for n in node_names:
            if self.nodes.get(n, ("",))[0] == key:
                del self.nodes[n]
        for p in pod_keys:
            if self.pods.get(p, ("",))[0] == key:
                del self.pods[p]

    def _add(self, key: str, obj: Obj) -> None:
        self._indexed[key] = obj
        try:
            nodes, pods = usage_summary.index(obj)
        except (KeyError, IndexError, TypeError, ValueError):
            log.warning("unreadable usage summary ignored", extra={"key": key})
            self._of_key[key] = ([], [])
            return
        self._of_key[key] = (list(nodes), list(pods))
        for n, s in nodes.items():
            self.nodes[n] = (key, s)
        for p, s in pods.items():
            self.pods[p] = (key, s)

    def fresh(self, key: str) -> bool:
        obj = self._indexed.get(key)
        if obj is None:
            return False
        try:
            return self.wall() - float(obj["receivedAt"]) <= STALE_PERIODS * float(obj["period"])
        except (KeyError, TypeError, ValueError):
            return False

    def node(self, name: str) -> Sample | None:
        got = self.nodes.get(name)
        return got[1] if got is not None and self.fresh(got[0]) else None

    def pod(self, namespace: str, name: str) -> Sample | None:
        got = self.pods.get((namespace, name))
        return got[1] if got is not None and self.fresh(got[0]) else None


def node_metrics(node: Obj, s: Sample, created: str) -> Obj:
    meta = node.get("metadata") or {}
    m: Obj = {"name": meta.get("name", ""), "creationTimestamp": created}
    if meta.get("labels"):
        m["labels"] = meta["labels"]
    _, cpu, memory = s.usage[0]
    return {"metadata": m, "timestamp": s.timestamp, "window": s.window_text(),
            "usage": {"cpu": cpu_quantity(cpu), "memory": memory_quantity(memory)}}


def pod_metrics(pod: Obj, s: Sample, created: str) -> Obj:
    meta = pod.get("metadata") or {}
    m: Obj = {"name": meta.get("name", ""), "namespace": meta.get("namespace", ""), "creationTimestamp": created}
    if meta.get("labels"):
        m["labels"] = meta["labels"]
    return {"metadata": m, "timestamp": s.timestamp, "window": s.window_text(),
            "containers": [{"name": n, "usage": {"cpu": cpu_quantity(cpu), "memory": memory_quantity(memory)}}
                           for n, cpu, memory in s.usage]}


def _typed(obj: Obj, kind: str) -> Obj:
    return {"kind": kind, "apiVersion": API_VERSION, **obj}


# ---------------------------------------------------------------------------------------------------- handlers
class MetricsAPI:
    """Serves both halves: the summaries agents write and the metrics.k8s.io objects computed from them."""

    def __init__(self, state: ServerState, resources: ResourceHandler, *,
                 wall: Callable[[], float] = time.time) -> None:
        self.state = state
        self.resources = resources
        summaries = state.cache.resource(STORAGE)
        # Every write of a summary is a watch-cache event; nobody watches summaries, so keep almost no history
        # (10,000 pods a summary, every 15 s, would otherwise pin gigabytes in the resume window).
        summaries.history = type(summaries.history)(summaries.history, maxlen=SUMMARY_HISTORY)
        self.view = MetricsView(summaries, wall=wall)

    # ------------------------------------------------------------------ metrics.k8s.io
    async def handle(self, request: web.Request, info: RequestInfo, user: UserInfo) -> web.StreamResponse:
        res = self.state.resources.get(info.group, info.version, info.resource)
        if res is None or res.custom or res.storage_version != API_VERSION:
            return await self.resources.handle(request, info, user)     # not ours (a CRD in this group, say)
        await self.resources.authorize(user, info)
        if info.subresource or info.verb not in res.verbs:
            raise _method_not_allowed(res)
        if res.namespaced and info.name and not info.namespace:
            raise errors.resource_not_found()
        out = choose(request.headers.get("Accept"), allow_as=("Table",))
        self.view.refresh()
        created = format_rfc3339(datetime.fromtimestamp(self.view.wall(), UTC))
        if info.verb == "get":
            return object_response(out, res, self._get(res, info.namespace, info.name, created))
        opts = ListOptions.parse(request.query)
        match = build_matcher(res, label_selector=opts.label_selector, field_selector=opts.field_selector)
        items = self._list(res, info.namespace, match, created)
        lst = {"kind": res.list_kind, "apiVersion": API_VERSION, "metadata": {}, "items": items}
        return list_response(out, res, lst)

    def _get(self, res: Resource, namespace: str, name: str, created: str) -> Obj:
        cache = self.state.cache
        if res.kind == "NodeMetrics":
            node = cache.resource("core/nodes").objects.get(f"/registry/core/nodes/{name}")
            if node is None:
                raise errors.NotFound("nodes", "", name)
            sample = self.view.node(name)
            if sample is None:
                raise errors.NotFound("nodemetrics", GROUP, name)
            return _typed(node_metrics(node, sample, created), res.kind)
        pod = cache.resource("core/pods").objects.get(f"/registry/core/pods/{namespace}/{name}")
        if pod is None:
            raise errors.NotFound("pods", "", name)
        sample = self._pod_sample(pod)
        if sample is None:
            raise errors.NotFound("podmetrics", GROUP, f"{namespace}/{name}")
        return _typed(pod_metrics(pod, sample, created), res.kind)

    def _pod_sample(self, pod: Obj) -> Sample | None:
        meta = pod.get("metadata") or {}
        sample = self.view.pod(meta.get("namespace", ""), meta.get("name", ""))
        if sample is None or sample.node != (pod.get("spec") or {}).get("nodeName"):
            return None                                 # a pod of the same name elsewhere, or not yet bound
        return sample

    def _list(self, res: Resource, namespace: str, match: Callable[[Obj], bool] | None, created: str) -> list[Obj]:
        cache = self.state.cache
        out: list[Obj] = []
        if res.kind == "NodeMetrics":
            nodes = cache.resource("core/nodes")
            for node in nodes.items("/registry/core/nodes/"):
                sample = self.view.node(node["metadata"]["name"])
                if sample is not None and (match is None or match(node)):
                    out.append(node_metrics(node, sample, created))
            return out
        prefix = f"/registry/core/pods/{namespace}/" if namespace else "/registry/core/pods/"
        for pod in cache.resource("core/pods").items(prefix):
            sample = self._pod_sample(pod)
            if sample is not None and (match is None or match(pod)):
                out.append(pod_metrics(pod, sample, created))
        return out

    # ------------------------------------------------------------------ /v1-pybernetes/metrics/<agent-id>
    async def serve_summary(self, request: web.Request, path: str, user: UserInfo) -> web.StreamResponse:
        agent = path[len(SUMMARY_PATH):]
        if not agent or "/" in agent:
            raise errors.resource_not_found()
        self._authorize_summary(user, request.method.lower(), path, agent)
        if not usage_summary.AGENT_ID.fullmatch(agent):
            raise errors.BadRequest(f"invalid agent id {agent!r}: must be a lowercase RFC 1123 subdomain")
        key = KEY_PREFIX + agent
        if request.method == "PUT":
            await self._put(key, agent, await self.resources.read_body(request))
            return body_response(_SUCCESS)
        if request.method in ("GET", "HEAD"):
            obj = self.state.cache.resource(STORAGE).objects.get(key)
            if obj is None:
                raise errors.NotFound("usagesummaries", "pybernetes.io", agent)
            return body_response(orjson.dumps(obj))
        if request.method == "DELETE":
            try:
                await self.state.store.delete(key)
            except KeyNotFound:
                raise errors.NotFound("usagesummaries", "pybernetes.io", agent) from None
            return body_response(_SUCCESS)
        raise errors.APIError("the server does not allow this method on the requested resource", code=405,
                              reason="MethodNotAllowed", details={})

    @staticmethod
    def _authorize_summary(user: UserInfo, verb: str, path: str, agent: str) -> None:
        if "system:masters" in user.groups:
            return
        if "system:nodes" in user.groups:
            if user.name == f"system:node:{agent}":
                return
            why = "a node may only write the usage summary named after it"
        else:
            why = "usage summaries are written by node agents"
        attrs = Attributes(user=user, verb=verb, resource_request=False, path=path)
        raise errors.APIError(forbidden_message(attrs, why), code=403, reason="Forbidden", details={})

    async def _put(self, key: str, agent: str, body: bytes) -> None:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise errors.BadRequest(f"the usage summary is not valid JSON: {e}") from None
        why = usage_summary.check(obj, agent)
        if why is not None:
            raise errors.BadRequest(f"invalid usage summary: {why}")
        obj["receivedAt"] = round(self.view.wall(), 3)
        data = orjson.dumps(obj)
        store = self.state.store
        try:
            try:
                await store.update(key, data, expect_mod_revision=0)
            except KeyNotFound:
                try:
                    await store.create(key, data)
                except KeyExists:                        # another API server created it meanwhile
                    await store.update(key, data, expect_mod_revision=0)
        except Unavailable as e:
            raise errors.ServiceUnavailable(f"the usage summary could not be stored: {e}") from None


def _method_not_allowed(res: Resource) -> errors.APIError:
    return errors.APIError("the server does not allow this method on the requested resource", code=405,
                           reason="MethodNotAllowed", details={"group": res.group, "kind": res.plural})


_SUCCESS = orjson.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 200})


def install(state: ServerState, resources: ResourceHandler) -> MetricsAPI:
    """Serve metrics.k8s.io from this server: the resources in discovery and OpenAPI, their tables, the API."""
    for r in metrics_resources():
        if state.resources.get(r.group, r.version, r.plural) is None:
            state.resources.add(r)
    tables.PRINTERS.update(PRINTERS)
    return MetricsAPI(state, resources)
