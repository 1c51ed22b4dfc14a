"""The ReplicaSet and ReplicationController controllers (upstream ``pkg/controller/replicaset``; RC is served by the
same code with its own kind, as upstream converts RCs to ReplicaSets on the way in and out).

Shape (STYLE.md §3): pod and ReplicaSet informer handlers only find the owning key, record observations in the
:class:`Expectations`, and enqueue. ``reconcile(key)`` re-reads everything from the caches:

1. claim pods — adopt orphans the selector matches, release owned pods it no longer matches (:class:`RefManager`);
2. if expectations are satisfied and the ReplicaSet is not being deleted, create or delete pods towards
   ``spec.replicas`` — creations in slow-start batches (1, 2, 4, …) so a quota error costs one request, not a
   thousand; deletions of the pods upstream ranks first (unscheduled, pending, not ready, … youngest);
3. recompute and write the status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
   observedGeneration, the ReplicaFailure condition) on every sync, so a dead or deleted pod shows at once and
   is replaced (self-healing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pybernetes.api.meta import (
    controller_ref,
    format_rfc3339,
    is_being_deleted,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    split_key,
    uid_of,
)
from pybernetes.api.selectors import LabelSelector, label_selector_from_dict, selector_from_set
from pybernetes.client.resources import PODS, RCS, REPLICASETS, ResourceRef
from pybernetes.client.rest import APIStatusError, is_conflict, is_not_found
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
    new_controller_ref,
    recheck_owner,
)
from pybernetes.controllers.expectations import Expectations
from pybernetes.controllers.pods import (
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    pod_from_template,
    pods_to_delete,
    slow_start_batch,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]

BURST_REPLICAS = 500                 # at most this many creations or deletions per sync (upstream BurstReplicas)
SLOW_START_INITIAL_BATCH = 1
STALE_RETRY = 0.1                    # seconds before looking again when the cache lags the API (409/404)
REPLICA_FAILURE = "ReplicaFailure"


# ---------------------------------------------------------------------------------------------------------------
# Status


def replicas_of(obj: Obj) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def get_condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or ():
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def calculate_status(rs: Obj, pods: Sequence[Obj], manage_error: BaseException | None, now: datetime) -> Obj:
    """The ReplicaSet status for the claimed active ``pods`` (upstream ``calculateStatus``)."""
    spec = rs.get("spec") or {}
    old = rs.get("status") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully = ready = available = 0
    for p in pods:
        labels = labels_of(p)
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully += 1
        if is_pod_ready(p):
            ready += 1
            if is_pod_available(p, min_ready, now):
                available += 1
    status = {k: v for k, v in old.items() if k not in ("replicas", "fullyLabeledReplicas", "readyReplicas",
                                                         "availableReplicas")}
    conditions = list(old.get("conditions") or ())
    failure = get_condition(old, REPLICA_FAILURE)
    if manage_error is not None and failure is None:
        diff = len(pods) - replicas_of(rs)
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        conditions.append({"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": format_rfc3339(now),
                           "reason": reason, "message": error_message(manage_error)})
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    status["replicas"] = len(pods)
    status["fullyLabeledReplicas"] = fully
    status["readyReplicas"] = ready
    status["availableReplicas"] = available
    return status


def status_unchanged(rs: Obj, status: Obj) -> bool:
    old = rs.get("status") or {}
    meta = rs.get("metadata") or {}
    return (all((old.get(k) or 0) == status.get(k) for k in ("replicas", "fullyLabeledReplicas", "readyReplicas",
                                                               "availableReplicas"))
            and (meta.get("generation") or 0) == (old.get("observedGeneration") or 0)
            and (old.get("conditions") or []) == (status.get("conditions") or []))


# ---------------------------------------------------------------------------------------------------------------
# The controllers


@dataclass(frozen=True, slots=True)
class ReplicaKind:
    """What differs between ReplicaSet and ReplicationController."""
    res: ResourceRef
    component: str

    def selector(self, obj: Obj) -> LabelSelector:
        sel = (obj.get("spec") or {}).get("selector")
        if self.res.kind == "ReplicationController":
            return selector_from_set(sel)
        return label_selector_from_dict(sel)


class ReplicaSetController(Controller):
    name: ClassVar[str] = "replicaset"
    workers: ClassVar[int] = 5
    kind: ClassVar[ReplicaKind] = ReplicaKind(REPLICASETS, "replicaset-controller")

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder.for_component(self.kind.component)  # type: ignore[assignment]
        self.expectations = Expectations(clock=ctx.clock)
        self.burst = int(ctx.options.get("burst_replicas", BURST_REPLICAS))
        self.owners = ctx.informers.informer(self.kind.res)
        self.pods = ctx.informers.informer(PODS)
        add_indexes(self.owners)
        add_indexes(self.pods)
        self.lookup = OwnerLookup(self.owners, self.kind.res.kind, self.kind.selector)
        self.owners.add_handler(self._add_owner, self._update_owner, self._delete_owner)
        self.pods.add_handler(self._add_pod, self._update_pod, self._delete_pod)

    # ---------------------------------------------------------------- lookups
    def selector_of(self, rs: Obj) -> LabelSelector | None:
        """The parsed selector, cached per uid and generation; None if it cannot be parsed."""
        return self.lookup.selector_of(rs)

    def resolve(self, namespace: str, ref: Obj) -> Obj | None:
        """The owner a controller reference points at, if it is ours and still the same object (uid)."""
        return self.lookup.resolve(namespace, ref)

    def owners_selecting(self, pod: Obj) -> list[Obj]:
        """ReplicaSets in the pod's namespace whose selector matches it (for orphans)."""
        return self.lookup.selecting(pod)

    # ---------------------------------------------------------------- owner handlers
    def _add_owner(self, rs: Obj) -> None:
        self.enqueue(key_of(rs))

    def _update_owner(self, old: Obj, cur: Obj) -> None:
        if uid_of(old) != uid_of(cur):
            self._delete_owner(old)
        self.enqueue(key_of(cur))

    def _delete_owner(self, rs: Obj) -> None:
        key = key_of(rs)
        self.expectations.forget(key)
        self.lookup.forget(rs)
        self.enqueue(key)

    # ---------------------------------------------------------------- pod handlers
    def _add_pod(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self._delete_pod(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            rs = self.resolve(namespace_of(pod), ref)
            if rs is not None:
                key = key_of(rs)
                self.expectations.creation_observed(key)
                self.enqueue(key)
            return
        for rs in self.owners_selecting(pod):
            self.enqueue(key_of(rs))

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        labels_changed = labels_of(old) != labels_of(cur)
        if is_being_deleted(cur):
            self._delete_pod(cur)
            if labels_changed:
                self._delete_pod(old)
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            if (rs := self.resolve(namespace_of(old), old_ref)) is not None:
                self.enqueue(key_of(rs))
        if cur_ref is not None:
            rs = self.resolve(namespace_of(cur), cur_ref)
            if rs is None:
                return
            self.enqueue(key_of(rs))
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                self.queue.add_after(key_of(rs), min_ready + 1)
            return
        if labels_changed or ref_changed:
            for rs in self.owners_selecting(cur):
                self.enqueue(key_of(rs))

    def _delete_pod(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is None:
            return
        rs = self.resolve(namespace_of(pod), ref)
        if rs is None:
            return
        key = key_of(rs)
        self.expectations.deletion_observed(key, key_of(pod))
        self.enqueue(key)

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, key: str) -> float | None:
        rs = self.owners.get(key)
        if rs is None:
            self.expectations.forget(key)
            return None
        needs_sync = self.expectations.satisfied(key)
        selector = self.selector_of(rs)
        if selector is None:
            log.warning("invalid selector", extra={"controller": self.name, "key": key})
            return None
        ns, _ = split_key(key)
        uid = uid_of(rs)
        candidates = [p for p in (*self.pods.by_index(CONTROLLER_UID_INDEX, uid),
                                  *self.pods.by_index(ORPHANS_INDEX, ns)) if is_pod_active(p)]
        manager = RefManager(self.client, owner=rs, selector=selector, res=PODS,
                             owner_ref=new_controller_ref(rs, api_version=self.kind.res.api_version,
                                                          kind=self.kind.res.kind),
                             can_adopt=recheck_owner(self.client, self.kind.res, rs, self.kind.res.kind))
        pods = await manager.claim(candidates)
        manage_error: BaseException | None = None
        if needs_sync and not is_being_deleted(rs):
            try:
                await self.manage_replicas(pods, rs)
            except Exception as e:
                manage_error = e
        now = self.clock.now()
        status = calculate_status(rs, pods, manage_error, now)
        try:
            updated = await self.update_status(rs, status)
        except APIStatusError as e:
            if not (is_conflict(e) or is_not_found(e)) or manage_error is not None:
                raise
            log.debug("stale cache", extra={"controller": self.name, "key": key, "error": str(e)})
            return STALE_RETRY
        if manage_error is not None:
            raise manage_error
        spec, st = updated.get("spec") or {}, updated.get("status") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        replicas = replicas_of(updated)
        if min_ready > 0 and (st.get("readyReplicas") or 0) == replicas != (st.get("availableReplicas") or 0):
            return float(min_ready)
        return None

    async def manage_replicas(self, pods: list[Obj], rs: Obj) -> None:
        key = key_of(rs)
        diff = len(pods) - replicas_of(rs)
        if diff < 0:
            await self._create_pods(rs, key, min(-diff, self.burst))
        elif diff > 0:
            await self._delete_pods(rs, key, pods, min(diff, self.burst))

    async def _create_pods(self, rs: Obj, key: str, count: int) -> None:
        self.expectations.expect_creations(key, count)
        ref = new_controller_ref(rs, api_version=self.kind.res.api_version, kind=self.kind.res.kind)
        template = (rs.get("spec") or {}).get("template") or {}
        body = pod_from_template(template, rs, ref)
        if not (body["metadata"].get("labels")):
            raise RuntimeError("unable to create pods, no labels")
        ns = namespace_of(rs)

        async def create() -> None:
            try:
                pod = await self.client.create(PODS, body, ns)
            except APIStatusError as e:
                if has_status_cause(e, "NamespaceTerminating"):
                    return
                self.recorder.event(rs, "Warning", "FailedCreate", f"Error creating: {error_message(e)}")
                raise
            self.recorder.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {name_of(pod)}")

        log.debug("too few replicas", extra={"controller": self.name, "key": key, "creating": count})
        created, err = await slow_start_batch(count, SLOW_START_INITIAL_BATCH, create)
        if skipped := count - created:
            self.expectations.lower(key, add=skipped)
        if err is not None:
            raise err

    async def _delete_pods(self, rs: Obj, key: str, pods: list[Obj], count: int) -> None:
        related = self._related_pods(rs)
        victims = pods_to_delete(pods, related, count, self.clock.now())
        self.expectations.expect_deletions(key, [key_of(p) for p in victims])
        ns = namespace_of(rs)

        async def delete(pod: Obj) -> None:
            try:
                await self.client.delete(PODS, name_of(pod), ns)
            except APIStatusError as e:
                self.expectations.deletion_observed(key, key_of(pod))
                if is_not_found(e):
                    return
                self.recorder.event(rs, "Warning", "FailedDelete", f"Error deleting: {error_message(e)}")
                raise
            self.recorder.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        log.debug("too many replicas", extra={"controller": self.name, "key": key, "deleting": len(victims)})
        results = await asyncio.gather(*(delete(p) for p in victims), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet sharing this one's controller (a Deployment's old and new ReplicaSets)."""
        ref = controller_ref(rs)
        siblings = self.owners.by_index(CONTROLLER_UID_INDEX, ref["uid"]) if ref and ref.get("uid") else [rs]
        seen: dict[str, Obj] = {}
        for sib in siblings:
            sel = self.selector_of(sib)
            if sel is None:
                continue
            for p in self.pods.by_index(NAMESPACE_INDEX, namespace_of(sib)):
                if uid_of(p) not in seen and sel.matches(labels_of(p)):
                    seen[uid_of(p)] = p
        return list(seen.values())

    async def update_status(self, rs: Obj, status: Obj) -> Obj:
        """Write ``status`` with observedGeneration unless nothing changed; one retry after a fresh GET on error
        (upstream ``statusUpdateRetries``)."""
        if status_unchanged(rs, status):
            return rs
        for attempt in range(2):
            status = {**status, "observedGeneration": (rs.get("metadata") or {}).get("generation") or 0}
            try:
                return await self.client.update(self.kind.res, {**rs, "status": status},
                                                subresource="status")
            except APIStatusError:
                if attempt:
                    raise
                rs = await self.client.get(self.kind.res, name_of(rs), namespace_of(rs))
        raise AssertionError("unreachable")


class ReplicationControllerController(ReplicaSetController):
    """ReplicationControllers: the same controller with a map selector and the core/v1 kind."""
    name: ClassVar[str] = "replicationcontroller"
    kind: ClassVar[ReplicaKind] = ReplicaKind(RCS, "replication-controller")
