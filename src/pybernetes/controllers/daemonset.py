"""The DaemonSet controller (upstream ``pkg/controller/daemon``): one pod on every node that should run it.

``reconcile(key)`` records the template in a ControllerRevision (``<ds>-<hash>``, the hash also labels the pods as
``controller-revision-hash``), then — once its earlier creations and deletions have been observed (expectations)
— walks the nodes: a node that should run the pod and has none gets one (pinned by node affinity, bound by the
scheduler); extra pods, pods on nodes that no longer qualify and failed pods (with a per-node back-off against
fighting a kubelet that rejects them) are deleted. RollingUpdate then replaces old pods within maxUnavailable or
maxSurge (:func:`~pybernetes.controllers.daemonset_util.rolling_update_plan`); OnDelete leaves that to the user.
Old revisions beyond revisionHistoryLimit are deleted unless a pod still uses them, and the status is written on
every sync (observedGeneration only when the spec was acted on).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from pybernetes.api.meta import (
    controller_ref,
    is_being_deleted,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    split_key,
    uid_of,
)
from pybernetes.api.selectors import LabelSelector
from pybernetes.client.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from pybernetes.client.rest import APIStatusError, is_already_exists, is_conflict, is_not_found
from pybernetes.controllers import daemonset_util as du
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.controller_ref import (
    CONTROLLER_UID_INDEX,
    NAMESPACE_INDEX,
    ORPHANS_INDEX,
    OwnerLookup,
    RefManager,
    add_indexes,
    error_message,
    has_status_cause,
    namespace_index,
    new_controller_ref,
    recheck_owner,
)
from pybernetes.controllers.expectations import Expectations
from pybernetes.controllers.hashing import compute_hash
from pybernetes.controllers.history import REVISION_LABEL, History, raw, revision_of, template_patch
from pybernetes.controllers.pods import pod_from_template, slow_start_batch

log = logging.getLogger(__name__)
Obj = dict[str, Any]
API_VERSION, KIND = "apps/v1", "DaemonSet"
BURST_REPLICAS = 250
FAILED_BACKOFF_INITIAL, FAILED_BACKOFF_MAX = 1.0, 900.0
STATUS_RETRIES = 1


class FailedPodsBackoff:
    """Per DaemonSet and node: how long to wait before deleting another failed daemon pod (``failedPodsBackoff``,
    ``flowcontrol.Backoff`` from 1 s doubling to 15 min, checked with ``IsInBackOffSinceUpdate``)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, float]] = {}          # key → (back-off, last update)

    def in_backoff(self, key: str, now: float) -> float:
        """Seconds still to wait (0 when a deletion may go ahead)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        delay, updated = entry
        return max(0.0, delay - (now - updated))

    def next(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * FAILED_BACKOFF_MAX:
            self._entries[key] = (FAILED_BACKOFF_INITIAL, now)
        else:
            self._entries[key] = (min(entry[0] * 2, FAILED_BACKOFF_MAX), now)


class DaemonSetController(Controller):
    name: ClassVar[str] = "daemonset"
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = Expectations(clock=ctx.clock)
        self.burst = int(ctx.options.get("burst_replicas", BURST_REPLICAS))
        self.failed_backoff = FailedPodsBackoff()
        self.dss = ctx.informers.informer(DAEMONSETS)
        self.pods = ctx.informers.informer(PODS)
        self.nodes = ctx.informers.informer(NODES)
        self.revisions = ctx.informers.informer(CONTROLLERREVISIONS)
        self.dss.add_index(NAMESPACE_INDEX, namespace_index)
        add_indexes(self.pods)
        self.history = History(self.client, self.revisions)
        self.lookup = OwnerLookup(self.dss, KIND)
        self.dss.add_handler(self._enqueue_ds, lambda old, cur: self._enqueue_ds(cur), self._delete_ds)
        self.pods.add_handler(self._add_pod, self._update_pod, self._delete_pod)
        self.nodes.add_handler(self._add_node, self._update_node)

    # ---------------------------------------------------------------- lookups
    def selector_of(self, ds: Obj) -> LabelSelector | None:
        return self.lookup.selector_of(ds)

    def resolve(self, namespace: str, ref: Obj) -> Obj | None:
        return self.lookup.resolve(namespace, ref)

    def dss_selecting(self, pod: Obj) -> list[Obj]:
        return self.lookup.selecting(pod)

    # ---------------------------------------------------------------- handlers
    def _enqueue_ds(self, ds: Obj) -> None:
        self.enqueue(key_of(ds))

    def _delete_ds(self, ds: Obj) -> None:
        self.expectations.forget(key_of(ds))
        self.lookup.forget(ds)
        self.enqueue(key_of(ds))

    def _add_pod(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self._delete_pod(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            if (ds := self.resolve(namespace_of(pod), ref)) is not None:
                self.expectations.creation_observed(key_of(ds))
                self._enqueue_ds(ds)
            return
        for ds in self.dss_selecting(pod):
            self._enqueue_ds(ds)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if is_being_deleted(cur):
            self._delete_pod(cur)
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        if cur_ref != old_ref and old_ref is not None:
            if (ds := self.resolve(namespace_of(old), old_ref)) is not None:
                self._enqueue_ds(ds)
        if cur_ref is not None:
            if (ds := self.resolve(namespace_of(cur), cur_ref)) is not None:
                self._enqueue_ds(ds)
            return
        if labels_of(old) != labels_of(cur) or cur_ref != old_ref:
            for ds in self.dss_selecting(cur):
                self._enqueue_ds(ds)

    def _delete_pod(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is not None and (ds := self.resolve(namespace_of(pod), ref)) is not None:
            self.expectations.deletion_observed(key_of(ds), key_of(pod))
            self._enqueue_ds(ds)

    def _add_node(self, node: Obj) -> None:
        for ds in self.dss.list():
            if du.should_run(node, ds)[0]:
                self._enqueue_ds(ds)

    def _update_node(self, old: Obj, cur: Obj) -> None:
        """Only labels, taints and spec matter to placement; heartbeats and status changes are ignored."""
        if labels_of(old) == labels_of(cur) and (old.get("spec") or {}) == (cur.get("spec") or {}):
            return
        for ds in self.dss.list():
            if du.should_run(old, ds) != du.should_run(cur, ds):
                self._enqueue_ds(ds)

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, key: str) -> float | None:
        ds = self.dss.get(key)
        if ds is None:
            self.expectations.forget(key)
            return None
        selector = self.selector_of(ds)
        if selector is None:
            log.warning("invalid selector", extra={"controller": self.name, "key": key})
            return None
        if selector.empty:
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return None
        if is_being_deleted(ds):
            return None
        nodes = self.nodes.list()
        current, old = await self.construct_history(ds, selector)
        hash_ = labels_of(current).get(REVISION_LABEL, "")
        requeue: list[float] = []
        if not self.expectations.satisfied(key):
            return await self.update_status(ds, nodes, hash_, selector, observed=False)
        node_pods = await self.node_pods(ds, selector)
        await self.manage(ds, nodes, node_pods, hash_, requeue)
        if self.expectations.satisfied(key) and \
                ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") == "RollingUpdate":
            node_pods = await self.node_pods(ds, selector)
            delete, create = du.rolling_update_plan(ds, nodes, node_pods, hash_, self.clock.now())
            await self.sync_nodes(ds, delete, create, hash_)
        await self.cleanup_history(ds, old, selector)
        after = await self.update_status(ds, nodes, hash_, selector, observed=True)
        if after is not None:
            requeue.append(after)
        return min(requeue) if requeue else None

    async def node_pods(self, ds: Obj, selector: LabelSelector, *, include_deleted_terminal: bool = False
                        ) -> dict[str, list[Obj]]:
        """``getNodesToDaemonPods``: the claimed pods by the node they run on or are pinned to."""
        ns, _ = split_key(key_of(ds))
        manager = RefManager(self.client, owner=ds, selector=selector, res=PODS,
                             owner_ref=new_controller_ref(ds, api_version=API_VERSION, kind=KIND),
                             can_adopt=recheck_owner(self.client, DAEMONSETS, ds, KIND))
        pods = await manager.claim([*self.pods.by_index(CONTROLLER_UID_INDEX, uid_of(ds)),
                                    *self.pods.by_index(ORPHANS_INDEX, ns)])
        out: dict[str, list[Obj]] = {}
        for p in pods:
            terminal = (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            if not include_deleted_terminal and terminal and is_being_deleted(p):
                continue
            node = du.target_node(p)
            if node is not None:
                out.setdefault(node, []).append(p)
        return out

    async def manage(self, ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]], hash_: str,
                     requeue: list[float]) -> None:
        """Create pods where missing, delete those in excess or misplaced (and pending pods of vanished nodes)."""
        now = self.clock.now()
        now_ts = now.timestamp()
        create: list[str] = []
        delete: list[Obj] = []

        def failed_pod(node_name: str) -> Any:
            def may_delete(pod: Obj) -> bool:
                key = f"{namespace_of(ds)}/{name_of(ds)}/{node_name}"
                wait = self.failed_backoff.in_backoff(key, now_ts)
                if wait > 0:
                    requeue.append(wait)
                    return False
                self.failed_backoff.next(key, now_ts)
                self.recorder.event(ds, "Warning", "FailedDaemonPod",
                                    f"Found failed daemon pod {namespace_of(pod)}/{name_of(pod)} on node "
                                    f"{node_name}, will try to kill it")
                return True
            return may_delete

        for node in nodes:
            node_name = name_of(node)
            wanted, extra = du.pods_on_node(node, node_pods.get(node_name), ds, hash_, now,
                                            failed_pod=failed_pod(node_name))
            if wanted:
                create.append(node_name)
            delete += extra
        known = {name_of(n) for n in nodes}
        delete += [p for node_name, pods in node_pods.items() if node_name not in known for p in pods
                   if not (p.get("spec") or {}).get("nodeName")]
        await self.sync_nodes(ds, delete, create, hash_)

    async def sync_nodes(self, ds: Obj, delete: list[Obj], create: list[str], hash_: str) -> None:
        """``syncNodes``: expectations first, then slow-start creations and parallel deletions (burst-limited)."""
        key = key_of(ds)
        create, delete = create[:self.burst], delete[:self.burst]
        self.expectations.expect_deletions(key, [key_of(p) for p in delete])
        if create:
            self.expectations.lower(key, add=-len(create))           # expect these creations too
        template = du.pod_template(ds, hash_)
        ref = new_controller_ref(ds, api_version=API_VERSION, kind=KIND)
        pending = list(create)
        errors: list[BaseException] = []

        async def create_one() -> None:
            node_name = pending.pop(0)
            body = pod_from_template(template, ds, ref)
            body["spec"] = dict(body["spec"])
            du.pin_to_node(body["spec"], node_name)
            try:
                pod = await self.client.create(PODS, body, namespace_of(ds))
            except APIStatusError as e:
                if has_status_cause(e, "NamespaceTerminating"):
                    return
                self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {error_message(e)}")
                raise
            self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {name_of(pod)}")

        if create:
            created, err = await slow_start_batch(len(create), 1, create_one)
            if created < len(create):
                self.expectations.lower(key, add=len(create) - created)
            if err is not None:
                errors.append(err)

        async def delete_one(pod: Obj) -> None:
            try:
                await self.client.delete(PODS, name_of(pod), namespace_of(pod))
            except APIStatusError as e:
                self.expectations.deletion_observed(key, key_of(pod))
                if is_not_found(e):
                    return
                self.recorder.event(ds, "Warning", "FailedDelete", f"Error deleting: {error_message(e)}")
                raise
            self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        results = await asyncio.gather(*(delete_one(p) for p in delete), return_exceptions=True)
        errors += [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    # ---------------------------------------------------------------- history
    async def construct_history(self, ds: Obj, selector: LabelSelector) -> tuple[Obj, list[Obj]]:
        """``constructHistory``: the revision of the current template (created, or renumbered to be the newest;
        duplicates merged) and the older ones."""
        ns, _ = split_key(key_of(ds))
        manager = RefManager(self.client, owner=ds, selector=selector, res=CONTROLLERREVISIONS,
                             owner_ref=new_controller_ref(ds, api_version=API_VERSION, kind=KIND),
                             can_adopt=recheck_owner(self.client, DAEMONSETS, ds, KIND))
        histories = await manager.claim([r for r in self.revisions.list(ns)
                                         if (ref := controller_ref(r)) is None or ref.get("uid") == uid_of(ds)])
        data = raw(template_patch(ds))
        current: list[Obj] = []
        old: list[Obj] = []
        for h in histories:
            if REVISION_LABEL not in labels_of(h):
                body = {**h, "metadata": {**h["metadata"], "labels": {**labels_of(h), REVISION_LABEL: name_of(h)}}}
                h = await self.client.update(CONTROLLERREVISIONS, body)
            (current if raw(h.get("data")) == data else old).append(h)
        number = max((revision_of(h) for h in old), default=0) + 1
        if not current:
            return await self.snapshot(ds, number), old
        keep = await self.dedup(ds, current, selector)
        if revision_of(keep) < number:
            keep = await self.client.update(CONTROLLERREVISIONS, {**keep, "revision": number})
        return keep, old

    async def dedup(self, ds: Obj, current: list[Obj], selector: LabelSelector) -> Obj:
        if len(current) == 1:
            return current[0]
        keep = max(current, key=revision_of)
        hash_ = labels_of(keep).get(REVISION_LABEL, "")
        for pods in (await self.node_pods(ds, selector)).values():
            for p in pods:
                if labels_of(p).get(REVISION_LABEL) != hash_:
                    await self.client.patch(PODS, name_of(p), {"metadata": {"labels": {REVISION_LABEL: hash_}}},
                                            namespace_of(p), patch_type="merge")
        for h in current:
            if name_of(h) != name_of(keep):
                await self.history.delete(h)
        return keep

    async def snapshot(self, ds: Obj, number: int) -> Obj:
        """A new revision ``<ds>-<hash>``; a name taken by another template bumps the collision count."""
        template = (ds.get("spec") or {}).get("template") or {}
        collision = (ds.get("status") or {}).get("collisionCount")
        hash_ = compute_hash(template, collision)
        meta: Obj = {"name": f"{name_of(ds)}-{hash_}", "namespace": namespace_of(ds),
                     "labels": {**((template.get("metadata") or {}).get("labels") or {}), REVISION_LABEL: hash_},
                     "ownerReferences": [new_controller_ref(ds, api_version=API_VERSION, kind=KIND)]}
        if (ds.get("metadata") or {}).get("annotations"):
            meta["annotations"] = dict(ds["metadata"]["annotations"])
        body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta,
                "data": template_patch(ds), "revision": number}
        try:
            return await self.client.create(CONTROLLERREVISIONS, body, namespace_of(ds))  # type: ignore
        except APIStatusError as e:
            if not is_already_exists(e):
                raise
            existing = await self.client.get(CONTROLLERREVISIONS, meta["name"], namespace_of(ds))
            if raw(existing.get("data")) == raw(body["data"]):
                return existing  # type: ignore[no-any-return]
            fresh = await self.client.get(DAEMONSETS, name_of(ds), namespace_of(ds))
            if (fresh.get("status") or {}).get("collisionCount") != collision:
                raise RuntimeError(f"found a stale collision count of DaemonSet {name_of(ds)}; will retry") from e
            fresh["status"] = {**(fresh.get("status") or {}), "collisionCount": (collision or 0) + 1}
            await self.client.update(DAEMONSETS, fresh, subresource="status")
            raise

    async def cleanup_history(self, ds: Obj, old: list[Obj], selector: LabelSelector) -> None:
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        to_kill = len(old) - (10 if limit is None else int(limit))
        if to_kill <= 0:
            return
        node_pods = await self.node_pods(ds, selector, include_deleted_terminal=True)
        live = {labels_of(p).get(REVISION_LABEL) for pods in node_pods.values() for p in pods} - {None}
        for h in sorted(old, key=revision_of):
            if to_kill <= 0:
                break
            if labels_of(h).get(REVISION_LABEL) in live:
                continue
            await self.history.delete(h)
            to_kill -= 1

    # ---------------------------------------------------------------- status
    async def update_status(self, ds: Obj, nodes: list[Obj], hash_: str, selector: LabelSelector, *,
                            observed: bool) -> float | None:
        """Write the counters if they changed; returns minReadySeconds while ready pods are not yet available."""
        node_pods = await self.node_pods(ds, selector)
        counters = du.compute_status(ds, nodes, node_pods, hash_, self.clock.now())
        old = ds.get("status") or {}
        generation = int((ds.get("metadata") or {}).get("generation") or 0)
        observed_gen = generation if observed else int(old.get("observedGeneration") or 0)
        unchanged = all(int(old.get(k) or 0) == counters[k] for k in du.STATUS_COUNTERS) and \
            int(old.get("observedGeneration") or 0) >= generation
        if not unchanged:
            cur = ds
            for attempt in range(STATUS_RETRIES + 1):
                body = {**cur, "status": du.status_json(cur.get("status") or {}, counters, observed_gen)}
                try:
                    await self.client.update(DAEMONSETS, body, subresource="status")
                    break
                except APIStatusError as e:
                    if not is_conflict(e) or attempt == STATUS_RETRIES:
                        raise
                cur = await self.client.get(DAEMONSETS, name_of(ds), namespace_of(ds))
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and counters["numberReady"] != counters["numberAvailable"]:
            return float(min_ready)
        return None
