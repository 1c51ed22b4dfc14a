"""A profile's plugins, wired per extension point and run in order (upstream ``framework/runtime/framework.go``).

A :class:`Profile` names plugins (with score weights and args) in one list, like upstream's ``multiPoint``: each
plugin is registered at every extension point it implements, in list order. :class:`Framework` instantiates them
through the registry (``name → factory(args, handle)``) and runs each point with upstream's rules:

- PreFilter: Skip drops the plugin's Filter for this cycle; UnschedulableAndUnresolvable stops at once;
  Unschedulable lets the others run (preemption may still help); results narrowing the node set intersect.
- Filter: stops at the first plugin that rejects the node; its name goes on the Status.
- Score: each plugin scores every feasible node (or the whole list at once via ``score_nodes``), normalizes,
  is checked to be within [0, 100], and is multiplied by its weight; the totals are summed per node.
- Reserve/Permit/Bind: as upstream, including Permit's Wait with a timeout.

Plugin exceptions become Error statuses: a broken plugin fails the pod's cycle, never the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import add
from typing import Any

from pybernetes.client.clock import REAL, Clock
from pybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    ClusterEvent,
    Code,
    CycleState,
    Listers,
    NodeToStatus,
    NominatingMode,
    PluginFactory,
    PostFilterResult,
    PreFilterResult,
    Recorder,
    StaticListers,
    Status,
    as_error,
    unresolvable,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PluginSpec:
    name: str
    weight: int = 1
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Profile:
    """A scheduler profile: ``scheduler_name`` pods ask for, and its plugins in order. ``disabled`` maps an
    extension point ("filter", "score", ...) to plugin names not run there. ``percentage_of_nodes_to_score``
    0 means upstream's adaptive rule."""
    scheduler_name: str
    plugins: tuple[PluginSpec, ...]
    disabled: Mapping[str, frozenset[str]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int = 0


class Handle:
    """What plugins get from the framework: the node snapshot, the API client, events, listers, the nominator,
    the clock, a random source and ``spawn`` for fire-and-forget API calls owned by the scheduler."""

    def __init__(self, *, snapshot: Any, client: Any = None, recorder: Recorder | None = None,
                 listers: Listers | None = None, nominator: Any = None, clock: Clock = REAL,
                 rng: random.Random | None = None,
                 spawn: Callable[[Coroutine[Any, Any, Any]], Any] | None = None) -> None:
        self.snapshot = snapshot
        self.client = client
        self.recorder = recorder
        self.listers: Listers = listers if listers is not None else StaticListers()
        self.nominator = nominator
        self.clock = clock
        self.rng = rng or random.Random()
        self._spawn = spawn
        self.framework: Framework | None = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._spawn is not None:
            return self._spawn(coro)
        return asyncio.get_running_loop().create_task(coro)


class WaitingPod:
    """A pod held by Permit plugins; bound when every waiting plugin allows it, dropped on reject/timeout."""

    def __init__(self, pod: Obj, pending: dict[str, float], clock: Clock) -> None:
        self.pod = pod
        self.pending = set(pending)
        self._timeouts = pending
        self._fut: asyncio.Future[Status | None] = asyncio.get_running_loop().create_future()
        self._clock = clock

    def allow(self, plugin: str) -> None:
        self.pending.discard(plugin)
        if not self.pending and not self._fut.done():
            self._fut.set_result(None)

    def reject(self, plugin: str, msg: str) -> None:
        if not self._fut.done():
            self._fut.set_result(Status(Code.UNSCHEDULABLE, (msg,), plugin))

    async def wait(self) -> Status | None:
        async def timeout(plugin: str, after: float) -> None:
            await self._clock.sleep(after)
            self.reject(plugin, f"rejected due to timeout after waiting {after:g}s at plugin {plugin}")
        timers = [asyncio.ensure_future(timeout(p, t)) for p, t in self._timeouts.items()]
        try:
            return await self._fut
        finally:
            for t in timers:
                t.cancel()


def _implements(pl: Any, method: str) -> bool:
    return callable(getattr(pl, method, None))


class Framework:
    """The plugins of one profile, per extension point."""

    def __init__(self, profile: Profile, *, registry: Mapping[str, PluginFactory], handle: Handle) -> None:
        self.profile = profile
        self.scheduler_name = profile.scheduler_name
        self.handle = handle
        handle.framework = self
        self.plugins: list[Any] = []
        self.weights: dict[str, int] = {}
        for spec in profile.plugins:
            factory = registry.get(spec.name)
            if factory is None:
                raise ValueError(f"plugin {spec.name!r} does not exist")
            self.plugins.append(factory(dict(spec.args), handle))
            self.weights[spec.name] = spec.weight

        def at(point: str, method: str) -> list[Any]:
            off = profile.disabled.get(point, frozenset())
            return [p for p in self.plugins if _implements(p, method) and p.name not in off]

        self.pre_enqueue_plugins = at("preEnqueue", "pre_enqueue")
        self.pre_filter_plugins = at("preFilter", "pre_filter")
        self.filter_plugins = at("filter", "filter")
        self.pre_filter_extensions = [p for p in self.pre_filter_plugins if _implements(p, "add_pod")]
        self.post_filter_plugins = at("postFilter", "post_filter")
        self.pre_score_plugins = at("preScore", "pre_score")
        self.score_plugins = [(p, self.weights.get(p.name, 1) or 1) for p in at("score", "score")]
        self.reserve_plugins = at("reserve", "reserve")
        self.permit_plugins = at("permit", "permit")
        self.pre_bind_plugins = at("preBind", "pre_bind")
        self.bind_plugins = at("bind", "bind")
        self.post_bind_plugins = at("postBind", "post_bind")
        self.waiting_pods: dict[str, WaitingPod] = {}
        self._filters_cache: dict[frozenset[str], list[tuple[str, Callable[..., Status | None]]]] = {}

    # -------------------------------------------------------------------------------------------- queueing
    def events_to_register(self) -> dict[str, tuple[ClusterEvent, ...]]:
        """Plugin name → the cluster events that may make a pod it rejected schedulable (plugins that
        declare nothing are left out, meaning "any event")."""
        out: dict[str, tuple[ClusterEvent, ...]] = {}
        for p in self.plugins:
            regs = getattr(p, "requeue_on", None)
            if regs is not None:
                out[p.name] = tuple(regs)
        return out

    def run_pre_enqueue(self, pod: Obj) -> Status | None:
        for p in self.pre_enqueue_plugins:
            st: Status | None = p.pre_enqueue(pod)
            if st is not None and not st.is_success():
                return st.with_plugin(p.name)
        return None

    # -------------------------------------------------------------------------------------------- filtering
    def run_pre_filter(self, state: CycleState,
                       pod: Obj) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        """Returns (node-set result, status, plugins that narrowed or rejected)."""
        result: PreFilterResult | None = None
        with_nodes: list[str] = []
        skip: set[str] = set()
        returned: Status | None = None
        for p in self.pre_filter_plugins:
            try:
                r, st = p.pre_filter(state, pod)
            except Exception as e:
                log.exception("prefilter plugin failed", extra={"plugin": p.name})
                return None, as_error(f"running PreFilter plugin \"{p.name}\": {e}", plugin=p.name), set()
            if st is not None and st.code != Code.SUCCESS:
                if st.code == Code.SKIP:
                    skip.add(p.name)
                    continue
                st = st.with_plugin(p.name)
                if st.code == Code.UNRESOLVABLE:
                    return None, st, set()
                if st.code == Code.UNSCHEDULABLE:
                    returned = st
                    continue
                return None, as_error(f"running PreFilter plugin \"{p.name}\": {st.message()}", plugin=p.name), set()
            if r is not None and not r.all_nodes():
                with_nodes.append(p.name)
                result = r.merge(result)
                if result.node_names is not None and not result.node_names:
                    names = sorted(set(with_nodes))
                    msg = (f"node(s) didn't satisfy plugin {names[0]}" if len(names) == 1
                           else f"node(s) didn't satisfy plugin(s) [{' '.join(names)}] simultaneously")
                    return result, unresolvable(msg), set(names)
        state.skip_filter = frozenset(skip)
        return result, returned, set(with_nodes)

    def active_filters(self, state: CycleState) -> list[tuple[str, Callable[..., Status | None]]]:
        """(name, bound filter) of the plugins to run this cycle (PreFilter Skips removed)."""
        key = state.skip_filter
        fs = self._filters_cache.get(key)
        if fs is None:
            fs = self._filters_cache[key] = [(p.name, p.filter) for p in self.filter_plugins if p.name not in key]
        return fs

    def cycle_filters(self, state: CycleState, pod: Obj) -> list[tuple[str, Callable[[Any], Status | None]]]:
        """(name, ``f(node)``) for this cycle's filters. A plugin may offer ``prepare_filter(state, pod)``
        returning a closure equivalent to ``filter(state, pod, ·)`` with the per-pod data already unpacked —
        the node loop is the hottest code in the scheduler; others are bound with ``partial``."""
        out = []
        for name, f in self.active_filters(state):
            pl = getattr(f, "__self__", None)
            prep = getattr(pl, "prepare_filter", None)
            out.append((name, prep(state, pod) if prep is not None else partial(f, state, pod)))
        return out

    def cycle_predicate(self, state: CycleState, pod: Obj) -> Callable[[Any], bool] | None:
        """When exactly one filter runs this cycle and it offers ``prepare_predicate(state, pod)`` — a boolean
        that is True exactly when its filter returns success — that predicate (the algorithm then lets the C
        ``filter`` builtin walk the nodes); else None."""
        fs = self.active_filters(state)
        if len(fs) != 1:
            return None
        prep = getattr(getattr(fs[0][1], "__self__", None), "prepare_predicate", None)
        return prep(state, pod) if prep is not None else None

    def run_filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        for name, f in self.active_filters(state):
            try:
                st = f(state, pod, node)
            except Exception as e:
                log.exception("filter plugin failed", extra={"plugin": name})
                return as_error(f"running \"{name}\" filter plugin: {e}", plugin=name)
            if st is not None and st.code != Code.SUCCESS:
                if st.code == Code.ERROR:
                    return as_error(f"running \"{name}\" filter plugin: {st.message()}", plugin=name)
                return st if st.plugin == name else st.with_plugin(name)
        return None

    def run_filter_with_nominated(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        """Filter ``node`` as if the nominated pods of equal or higher priority were already on it, and also
        without them (both must pass), as upstream: a nominated pod must not be displaced by this one, and pod
        affinity must not rely on a pod that is only nominated."""
        nominator = self.handle.nominator
        if not nominator:
            return self.run_filter(state, pod, node)
        added, state2, node2 = self._add_nominated(state, pod, node)
        st = self.run_filter(state2, pod, node2)
        if added and (st is None or st.is_success()):
            st = self.run_filter(state, pod, node)
        return st

    def _add_nominated(self, state: CycleState, pod: Obj, node: Any) -> tuple[bool, CycleState, Any]:
        nominated = self.handle.nominator.nominated_pods_for_node(node.name)
        if not nominated:
            return False, state, node
        pi = state.pod_info
        prio = pi.priority if pi is not None else int((pod.get("spec") or {}).get("priority") or 0)
        uid = pi.uid if pi is not None else (pod.get("metadata") or {}).get("uid")
        adding = [npi for npi in nominated if npi.priority >= prio and npi.uid != uid]
        if not adding:
            return False, state, node
        out_node, out_state = node.clone(), state.clone()
        for npi in adding:
            out_node.add_pod(npi)
            self.run_pre_filter_extension_add_pod(out_state, pod, npi, out_node)
        return True, out_state, out_node

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: Obj, pi: Any, node: Any) -> Status | None:
        for p in self.pre_filter_extensions:
            if p.name in state.skip_filter:
                continue
            st = p.add_pod(state, pod, pi, node)
            if st is not None and not st.is_success():
                return as_error(f"running AddPod on PreFilter plugin \"{p.name}\": {st.message()}", plugin=p.name)
        return None

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: Obj, pi: Any,
                                            node: Any) -> Status | None:
        for p in self.pre_filter_extensions:
            if p.name in state.skip_filter:
                continue
            st = p.remove_pod(state, pod, pi, node)
            if st is not None and not st.is_success():
                return as_error(f"running RemovePod on PreFilter plugin \"{p.name}\": {st.message()}", plugin=p.name)
        return None

    def run_post_filter(self, state: CycleState, pod: Obj,
                        node_to_status: NodeToStatus) -> tuple[PostFilterResult | None, Status]:
        result: PostFilterResult | None = None
        reasons: list[str] = []
        rejector = ""
        for p in self.post_filter_plugins:
            try:
                r, st = p.post_filter(state, pod, node_to_status)
            except Exception as e:
                log.exception("postfilter plugin failed", extra={"plugin": p.name})
                return None, as_error(e, plugin=p.name)
            if st is None or st.is_success():
                return r, (st or Status()).with_plugin(p.name)
            if st.code == Code.UNRESOLVABLE:
                return r, st.with_plugin(p.name)
            if not st.is_rejected():
                return None, Status(Code.ERROR, st.reasons, p.name)
            if r is not None and r.nominating.mode != NominatingMode.NOOP:
                result = r
            reasons.extend(st.reasons)
            rejector = rejector or p.name
        return result, Status(Code.UNSCHEDULABLE, tuple(reasons), rejector)

    # -------------------------------------------------------------------------------------------- scoring
    def run_pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> Status | None:
        skip: set[str] = set()
        for p in self.pre_score_plugins:
            try:
                st = p.pre_score(state, pod, nodes)
            except Exception as e:
                log.exception("prescore plugin failed", extra={"plugin": p.name})
                return as_error(f"running PreScore plugin \"{p.name}\": {e}", plugin=p.name)
            if st is not None and st.code != Code.SUCCESS:
                if st.code == Code.SKIP:
                    skip.add(p.name)
                    continue
                return as_error(f"running PreScore plugin \"{p.name}\": {st.message()}", plugin=p.name)
        state.skip_score = frozenset(skip)
        return None

    def run_score(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> list[int] | Status:
        """Weighted total score per node (same order as ``nodes``), or an Error status."""
        totals: list[int] | None = None
        for p, weight in self.score_plugins:
            if p.name in state.skip_score:
                continue
            try:
                batch = getattr(p, "score_nodes", None)
                scores = batch(state, pod, nodes) if batch is not None else [p.score(state, pod, n) for n in nodes]
                norm = getattr(p, "normalize_score", None)
                if norm is not None:
                    norm(state, pod, scores)
            except Exception as e:
                log.exception("score plugin failed", extra={"plugin": p.name})
                return as_error(f"running Score plugins: plugin \"{p.name}\": {e}", plugin=p.name)
            if scores and (max(scores) > MAX_NODE_SCORE or min(scores) < MIN_NODE_SCORE):
                bad = next(s for s in scores if s > MAX_NODE_SCORE or s < MIN_NODE_SCORE)
                return as_error(f"applying score defaultWeights on Score plugins: plugin \"{p.name}\" returns an "
                                f"invalid score {bad}, it should in the range of [{MIN_NODE_SCORE}, "
                                f"{MAX_NODE_SCORE}] after normalizing", plugin=p.name)
            if len(scores) != len(nodes):
                return as_error(f"plugin \"{p.name}\" scored {len(scores)} of {len(nodes)} nodes", plugin=p.name)
            weighted = scores if weight == 1 else [s * weight for s in scores]
            totals = list(weighted) if totals is None else list(map(add, totals, weighted))
        return totals if totals is not None else [0] * len(nodes)

    # -------------------------------------------------------------------------------------------- binding cycle
    def run_reserve(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        for p in self.reserve_plugins:
            try:
                st: Status | None = p.reserve(state, pod, node_name)
            except Exception as e:
                return as_error(f"running Reserve plugin \"{p.name}\": {e}", plugin=p.name)
            if st is not None and not st.is_success():
                if st.is_rejected():
                    return st.with_plugin(p.name)
                return as_error(f"running Reserve plugin \"{p.name}\": {st.message()}", plugin=p.name)
        return None

    def run_unreserve(self, state: CycleState, pod: Obj, node_name: str) -> None:
        for p in reversed(self.reserve_plugins):
            try:
                p.unreserve(state, pod, node_name)
            except Exception:
                log.exception("unreserve failed", extra={"plugin": p.name})

    def run_permit(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        waits: dict[str, float] = {}
        for p in self.permit_plugins:
            st: Status | None
            try:
                st, timeout = p.permit(state, pod, node_name)
            except Exception as e:
                return as_error(f"running Permit plugin \"{p.name}\": {e}", plugin=p.name)
            if st is None or st.is_success():
                continue
            if st.is_rejected():
                return st.with_plugin(p.name)
            if st.code == Code.WAIT:
                waits[p.name] = min(timeout, 15 * 60.0)
                continue
            return as_error(f"running Permit plugin \"{p.name}\": {st.message()}", plugin=p.name)
        if waits:
            uid = (pod.get("metadata") or {}).get("uid", "")
            self.waiting_pods[uid] = WaitingPod(pod, waits, self.handle.clock)
            return Status(Code.WAIT, ("one or more plugins asked to wait and no plugin rejected pod",))
        return None

    async def wait_on_permit(self, pod: Obj) -> Status | None:
        uid = (pod.get("metadata") or {}).get("uid", "")
        wp = self.waiting_pods.get(uid)
        if wp is None:
            return None
        try:
            return await wp.wait()
        finally:
            self.waiting_pods.pop(uid, None)

    def reject_waiting_pod(self, uid: str) -> bool:
        wp = self.waiting_pods.get(uid)
        if wp is None:
            return False
        wp.reject("", "removed")
        return True

    async def run_pre_bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        for p in self.pre_bind_plugins:
            st: Status | None = await p.pre_bind(state, pod, node_name)
            if st is not None and not st.is_success() and not st.is_skip():
                if st.is_rejected():
                    return st.with_plugin(p.name)
                return as_error(f"running PreBind plugin \"{p.name}\": {st.message()}", plugin=p.name)
        return None

    async def run_bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        if not self.bind_plugins:
            return Status(Code.SKIP)
        for p in self.bind_plugins:
            st: Status | None = await p.bind(state, pod, node_name)
            if st is not None and st.is_skip():
                continue
            if st is not None and not st.is_success():
                if st.is_rejected():
                    return st.with_plugin(p.name)
                return as_error(f"running Bind plugin \"{p.name}\": {st.message()}", plugin=p.name)
            return None
        return Status(Code.SKIP)

    def run_post_bind(self, state: CycleState, pod: Obj, node_name: str) -> None:
        for p in self.post_bind_plugins:
            try:
                p.post_bind(state, pod, node_name)
            except Exception:
                log.exception("postbind failed", extra={"plugin": p.name})
