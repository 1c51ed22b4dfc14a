"""The StatefulSet controller (upstream ``pkg/controller/statefulset``): pods with stable identities ``<set>-<n>``,
their PersistentVolumeClaims, ordered (OrderedReady) or burst (Parallel) management, and rolling updates through
ControllerRevisions.

``reconcile(key)`` re-reads the set, adopts orphan revisions and pods (only pods named ``<set>-<n>``), then:

1. finds the current and update revisions (creating or renumbering a ControllerRevision for a changed template);
2. walks the ordinals ``[start, start+replicas)``: failed or succeeded pods are deleted and recreated; a missing pod
   is created after its claims (``<template>-<set>-<n>``, never deleted with the pod); in OrderedReady mode the walk
   stops at the first pod that is not Running, Ready and available, so pods start one at a time in order;
3. deletes condemned pods (ordinals past the end) highest first, one at a time in OrderedReady mode;
4. for RollingUpdate, deletes the highest-ordinal pod at or above the partition that is not at the update revision,
   one at a time, waiting for each replacement to be available; OnDelete leaves that to the user;
5. writes the status on every sync and trims the revision history.

Unlike the ReplicaSet controller this one needs no expectations: a pod's name is its identity, so a sync racing
its own writes cannot create a second ``web-0`` (the API answers AlreadyExists and the key is retried), and the
ordered walk never acts past a pod it has not seen become ready. Upstream makes the same choice.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
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
from pybernetes.client.resources import CONTROLLERREVISIONS, PODS, PVCS, STATEFULSETS
from pybernetes.client.rest import APIStatusError, is_already_exists, is_conflict, is_not_found
from pybernetes.controllers import statefulset_util as su
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.controller_ref import (
    CONTROLLER_UID_INDEX,
    NAMESPACE_INDEX,
    ORPHANS_INDEX,
    OwnerLookup,
    RefManager,
    add_indexes,
    error_message,
    namespace_index,
    new_controller_ref,
    recheck_owner,
)
from pybernetes.controllers.history import (
    History,
    equal_revision,
    find_equal_revisions,
    new_revision,
    next_revision,
    owned_revisions,
    sort_revisions,
    template_patch,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
API_VERSION, KIND = "apps/v1", "StatefulSet"
MAX_BATCH = 500
STATUS_RETRIES = 5


async def run_for_all(count: int, fn: Callable[[int], Awaitable[bool]], *, monotonic: bool) -> bool:
    """``runForAll``: in order, stopping at the first item that says stop (OrderedReady); or every item in slow-start
    batches of 1, 2, 4, … up to 500 that stop at the first failing batch (Parallel). Errors propagate; returns
    whether the caller must stop."""
    if monotonic:
        for i in range(count):
            if await fn(i):
                return True
        return False
    i, size = 0, min(1, count)
    while size > 0:
        results = await asyncio.gather(*(fn(j) for j in range(i, i + size)), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        i += size
        size = min(2 * size, count - i, MAX_BATCH)
    return False


class StatefulSetController(Controller):
    name: ClassVar[str] = "statefulset"
    workers: ClassVar[int] = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.sets = ctx.informers.informer(STATEFULSETS)
        self.pods = ctx.informers.informer(PODS)
        self.claims = ctx.informers.informer(PVCS)
        self.revisions = ctx.informers.informer(CONTROLLERREVISIONS)
        self.sets.add_index(NAMESPACE_INDEX, namespace_index)
        add_indexes(self.pods)
        self.history = History(self.client, self.revisions)
        self.lookup = OwnerLookup(self.sets, KIND)
        self.sets.add_handler(self._enqueue_set, lambda old, cur: self._enqueue_set(cur), self._delete_set)
        self.pods.add_handler(self._add_pod, self._update_pod, self._delete_pod)

    # ---------------------------------------------------------------- lookups
    def selector_of(self, sts: Obj) -> LabelSelector | None:
        """The parsed selector, cached per uid and generation; None if it cannot be parsed."""
        return self.lookup.selector_of(sts)

    def resolve(self, namespace: str, ref: Obj) -> Obj | None:
        return self.lookup.resolve(namespace, ref)

    def sets_selecting(self, pod: Obj) -> list[Obj]:
        return self.lookup.selecting(pod)

    # ---------------------------------------------------------------- handlers
    def _enqueue_set(self, sts: Obj) -> None:
        self.enqueue(key_of(sts))

    def _delete_set(self, sts: Obj) -> None:
        self.lookup.forget(sts)
        self.enqueue(key_of(sts))

    def _add_pod(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self._delete_pod(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            if (sts := self.resolve(namespace_of(pod), ref)) is not None:
                self._enqueue_set(sts)
            return
        for sts in self.sets_selecting(pod):
            self._enqueue_set(sts)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        if cur_ref != old_ref and old_ref is not None:
            if (sts := self.resolve(namespace_of(old), old_ref)) is not None:
                self._enqueue_set(sts)
        if cur_ref is not None:
            sts = self.resolve(namespace_of(cur), cur_ref)
            if sts is None:
                return
            self._enqueue_set(sts)
            min_ready = int(su.spec_of(sts).get("minReadySeconds") or 0)
            if min_ready > 0 and not su.is_pod_ready(old) and su.is_pod_ready(cur):
                self.queue.add_after(key_of(sts), float(min_ready))
            return
        if labels_of(old) != labels_of(cur) or cur_ref != old_ref:
            for sts in self.sets_selecting(cur):
                self._enqueue_set(sts)

    def _delete_pod(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is not None and (sts := self.resolve(namespace_of(pod), ref)) is not None:
            self._enqueue_set(sts)

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, key: str) -> float | None:
        sts = self.sets.get(key)
        if sts is None:
            return None
        selector = self.selector_of(sts)
        if selector is None:
            log.warning("invalid selector", extra={"controller": self.name, "key": key})
            return None
        await self._adopt_orphan_revisions(sts, selector)
        pods = await self._claim_pods(sts, selector)
        status = await self.update_stateful_set(sts, pods, selector)
        min_ready = int(su.spec_of(sts).get("minReadySeconds") or 0)
        if min_ready > 0 and status is not None and status["availableReplicas"] != su.replicas_of(sts):
            return float(min_ready)
        return None

    async def _adopt_orphan_revisions(self, sts: Obj, selector: LabelSelector) -> None:
        revisions = owned_revisions(self.revisions.list(namespace_of(sts)), sts, selector)
        orphans = [r for r in revisions if controller_ref(r) is None]
        if not orphans:
            return
        await recheck_owner(self.client, STATEFULSETS, sts, KIND)()
        for r in orphans:
            await self.history.adopt(sts, r, api_version=API_VERSION, kind=KIND)

    async def _claim_pods(self, sts: Obj, selector: LabelSelector) -> list[Obj]:
        """Pods the set controls plus orphans it may adopt; only ``<set>-<n>`` pods are ever claimed."""
        ns, _ = split_key(key_of(sts))
        owned = self.pods.by_index(CONTROLLER_UID_INDEX, uid_of(sts))
        orphans = [p for p in self.pods.by_index(ORPHANS_INDEX, ns) if su.is_member_of(sts, p)]
        manager = RefManager(self.client, owner=sts, selector=selector, res=PODS,
                             owner_ref=new_controller_ref(sts, api_version=API_VERSION, kind=KIND),
                             can_adopt=recheck_owner(self.client, STATEFULSETS, sts, KIND))
        claimed = await manager.claim([*owned, *orphans])
        return [p for p in claimed if su.is_member_of(sts, p)]

    # ---------------------------------------------------------------- revisions
    async def update_stateful_set(self, sts: Obj, pods: list[Obj], selector: LabelSelector) -> Obj | None:
        """``UpdateStatefulSet``: revisions, pods, status, history; the first error is raised after the status is
        written and the history trimmed."""
        revisions = sort_revisions(owned_revisions(self.revisions.list(namespace_of(sts)), sts, selector))
        current, update, collision_count = await self.get_revisions(sts, revisions)
        status, err = await self.update_pods(sts, current, update, collision_count, pods)
        errors: list[BaseException] = [] if err is None else [err]
        try:
            await self.write_status(sts, status)
        except APIStatusError as e:
            errors.append(e)
        try:
            await self.truncate_history(sts, pods, revisions, current, update)
        except APIStatusError as e:
            errors.append(e)
        if errors:
            raise errors[0]
        return status

    async def get_revisions(self, sts: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        """``getStatefulSetRevisions``: the current revision (named by the status, else the update one), the update
        revision for the current template (an equal older revision is renumbered: a rollback), and the collision
        count that named it."""
        collision_count = int((sts.get("status") or {}).get("collisionCount") or 0)
        wanted = new_revision(sts, api_version=API_VERSION, kind=KIND,
                              template_labels=((su.spec_of(sts).get("template") or {}).get("metadata") or {})
                              .get("labels"), data=template_patch(sts), revision=next_revision(revisions),
                              collision_count=collision_count, annotations=(sts.get("metadata") or {})
                              .get("annotations"))
        equal = find_equal_revisions(revisions, wanted)
        if equal and equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:
            update = await self.history.update_revision(equal[-1], wanted["revision"])
        else:
            update, collision_count = await self.history.create(sts, wanted, collision_count)
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if name_of(r) == current_name), None) or update
        return current, update, collision_count

    async def truncate_history(self, sts: Obj, pods: list[Obj], revisions: list[Obj], current: Obj,
                               update: Obj) -> None:
        """Delete the oldest revisions no pod and neither status revision uses, down to revisionHistoryLimit."""
        live = {name_of(current), name_of(update), *(su.pod_revision(p) for p in pods)}
        history = [r for r in revisions if name_of(r) not in live]
        limit = su.spec_of(sts).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        if limit < 0 or len(history) <= limit:
            return
        for r in history[:len(history) - limit]:
            await self.history.delete(r)

    # ---------------------------------------------------------------- pods
    async def update_pods(self, sts: Obj, current: Obj, update: Obj, collision_count: int,
                          pods: list[Obj]) -> tuple[Obj, BaseException | None]:
        """``updateStatefulSet``: create, delete and fix pods towards the spec; returns the status and the error
        that stopped the work, if any."""
        current_set, update_set = su.apply_revision(sts, current), su.apply_revision(sts, update)
        spec = su.spec_of(sts)
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        status: Obj = {"observedGeneration": int((sts.get("metadata") or {}).get("generation") or 0),
                       "currentRevision": name_of(current), "updateRevision": name_of(update),
                       "collisionCount": collision_count}

        def recount(counted: list[Obj]) -> None:
            su.count_replicas(status, counted, min_ready=min_ready, current_revision=name_of(current),
                              update_revision=name_of(update), now=now)

        recount(pods)
        start, count = su.start_ordinal(sts), su.replicas_of(sts)
        replicas: list[Obj | None] = [None] * count
        condemned: list[Obj] = []
        for pod in pods:
            if su.in_ordinal_range(pod, sts):
                replicas[su.ordinal_of(pod) - start] = pod
            elif su.ordinal_of(pod) >= 0:
                condemned.append(pod)
        full: list[Obj] = [p if p is not None else su.new_versioned_pod(current_set, update_set, name_of(current),
                                                                        name_of(update), start + i)
                           for i, p in enumerate(replicas)]
        condemned.sort(key=su.ordinal_of, reverse=True)
        unavailable = [p for p in full if su.is_unavailable(p, min_ready, now)]
        unavailable += [p for p in reversed(condemned) if su.is_unavailable(p, min_ready, now)]
        first_unhealthy = unavailable[0] if unavailable else None
        if is_being_deleted(sts):
            return status, None
        monotonic = not su.allows_burst(sts)
        err: BaseException | None = None
        try:
            done = await self._process(sts, update_set, full, condemned, first_unhealthy, monotonic, min_ready)
            recount([*full, *condemned])
            if done and (spec.get("updateStrategy") or {}).get("type") == "RollingUpdate":
                await self._rolling_update(sts, update, full, status, min_ready)
        except Exception as e:                       # the status is still written, then the error re-raised
            recount([*full, *condemned])
            err = e
        return status, err

    async def _process(self, sts: Obj, update_set: Obj, replicas: list[Obj], condemned: list[Obj],
                       first_unhealthy: Obj | None, monotonic: bool, min_ready: int) -> bool:
        """Replicas, then condemned claims, then condemned pods; False when something stopped the walk."""
        now = self.clock.now()

        async def replica(i: int) -> bool:
            return await self._process_replica(sts, update_set, monotonic, replicas, i, min_ready)

        if await run_for_all(len(replicas), replica, monotonic=monotonic):
            return False

        async def fix_claims(i: int) -> bool:
            pod = condemned[i]
            if not await self._claims_match_policy(update_set, pod):
                await self._update_claims_for_policy(update_set, pod)
            return False

        if await run_for_all(len(condemned), fix_claims, monotonic=monotonic):
            return False

        async def condemn(i: int) -> bool:
            pod = condemned[i]
            if is_being_deleted(pod):
                return monotonic
            healthy = su.is_running_and_ready(pod) and su.is_running_and_available(pod, min_ready, now)
            if monotonic and pod is not first_unhealthy and not healthy:
                return True
            await self._remove_pod(sts, pod)
            return True

        return not await run_for_all(len(condemned), condemn, monotonic=monotonic)

    async def _process_replica(self, sts: Obj, update_set: Obj, monotonic: bool, replicas: list[Obj], i: int,
                               min_ready: int) -> bool:
        """``processReplica``: returns True when an OrderedReady walk must stop at this pod."""
        pod = replicas[i]
        phase = su.phase_of(pod)
        if phase in ("Failed", "Succeeded"):
            if not is_being_deleted(pod):
                await self._remove_pod(sts, pod)
            return True
        if not su.is_created(pod):
            if await self._claim_is_stale(sts, pod):
                return True
            await self._create_pod(sts, pod)
            if monotonic:
                return True
        if phase == "Pending":
            await self._create_claims(sts, pod)
        if monotonic and (is_being_deleted(pod) or not su.is_running_and_ready(pod)
                          or not su.is_running_and_available(pod, min_ready, self.clock.now())):
            return True
        if not su.is_created(pod):
            return False
        retention_ok = await self._claims_match_policy(update_set, pod)
        if su.identity_matches(sts, pod) and su.storage_matches(sts, pod) and retention_ok:
            return False
        await self._update_stateful_pod(update_set, copy.deepcopy(pod))
        return False

    async def _rolling_update(self, sts: Obj, update: Obj, replicas: list[Obj], status: Obj, min_ready: int) -> None:
        """Delete the highest-ordinal pod at or above the partition that is not at the update revision; wait while
        an updated pod is not yet available."""
        ru = (su.spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}
        update_min = int(ru.get("partition") or 0)
        now = self.clock.now()
        for target in range(len(replicas) - 1, update_min - 1, -1):
            pod = replicas[target]
            if su.pod_revision(pod) != name_of(update) and not is_being_deleted(pod):
                log.info("pod of statefulset is terminating for update",
                         extra={"controller": self.name, "key": key_of(sts), "pod": name_of(pod)})
                await self._remove_pod(sts, pod)
                status["currentReplicas"] -= 1
                return
            if su.is_unavailable(pod, min_ready, now):
                return

    # ---------------------------------------------------------------- pod and claim writes
    def _pod_event(self, verb: str, sts: Obj, pod: Obj, err: BaseException | None) -> None:
        if err is None:
            self.recorder.event(sts, "Normal", f"Successful{verb.title()}",
                                f"{verb} Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful")
        else:
            self.recorder.event(sts, "Warning", f"Failed{verb.title()}",
                                f"{verb} Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: "
                                f"{error_message(err)}")

    def _claim_event(self, sts: Obj, pod: Obj, claim: Obj, err: BaseException | None) -> None:
        if err is None:
            self.recorder.event(sts, "Normal", "SuccessfulCreate",
                                f"create Claim {name_of(claim)} Pod {name_of(pod)} in StatefulSet {name_of(sts)} "
                                f"success")
        else:
            self.recorder.event(sts, "Warning", "FailedCreate",
                                f"create Claim {name_of(claim)} for Pod {name_of(pod)} in StatefulSet "
                                f"{name_of(sts)} failed error: {error_message(err)}")

    async def _create_claims(self, sts: Obj, pod: Obj) -> None:
        """Create the pod's missing claims (``createPersistentVolumeClaims``); all failures in one error. A claim
        that already exists though the cache has not seen it yet counts as there (upstream retries the sync)."""
        errors: list[str] = []
        for claim in su.claims_for(sts, su.ordinal_of(pod)).values():
            existing = self.claims.get(f"{namespace_of(claim)}/{name_of(claim)}")
            if existing is None:
                try:
                    await self.client.create(PVCS, claim, namespace_of(claim))
                except APIStatusError as e:
                    if is_already_exists(e):
                        continue                 # created by an earlier sync the claim cache has not seen yet
                    errors.append(f"failed to create PVC {name_of(claim)}: {error_message(e)}")
                    self._claim_event(sts, pod, claim, e)
                    continue
                self._claim_event(sts, pod, claim, None)
            elif is_being_deleted(existing):
                errors.append(f"pvc {name_of(claim)} is being deleted")
        if errors:
            raise RuntimeError("; ".join(errors))

    async def _create_pod(self, sts: Obj, pod: Obj) -> None:
        """``CreateStatefulPod``: claims first, then the pod, then the claims' owner references."""
        try:
            await self._create_claims(sts, pod)
        except Exception as e:
            self._pod_event("create", sts, pod, e)
            raise
        try:
            created = await self.client.create(PODS, pod, namespace_of(sts))
        except APIStatusError as e:
            if not is_already_exists(e):
                self._pod_event("create", sts, pod, e)
            raise
        if su.retention(sts) != (su.RETAIN, su.RETAIN):
            try:
                await self._update_claims_for_policy(sts, created)
            except Exception as e:
                self._pod_event("update", sts, pod, e)
                raise
        self._pod_event("create", sts, pod, None)

    async def _remove_pod(self, sts: Obj, pod: Obj) -> None:
        try:
            await self.client.delete(PODS, name_of(pod), namespace_of(pod))
        except APIStatusError as e:
            self._pod_event("delete", sts, pod, e)
            if is_not_found(e):
                return
            raise
        self._pod_event("delete", sts, pod, None)

    async def _update_stateful_pod(self, sts: Obj, pod: Obj) -> None:
        """``UpdateStatefulPod``: restore identity, storage and claim ownership, retrying on conflicts."""
        attempted = False
        err: BaseException | None = None
        for _ in range(4):
            consistent = True
            if not su.identity_matches(sts, pod):
                su.update_identity(sts, pod)
                consistent = False
            if not su.storage_matches(sts, pod):
                su.update_storage(sts, pod)
                consistent = False
                await self._create_claims(sts, pod)
            if not await self._claims_match_policy(sts, pod):
                await self._update_claims_for_policy(sts, pod)
                consistent = False
            if consistent:
                return
            attempted = True
            try:
                await self.client.update(PODS, pod)
                err = None
                break
            except APIStatusError as e:
                err = e
                if not is_conflict(e):
                    break
                pod = await self.client.get(PODS, name_of(pod), namespace_of(pod))
        if attempted:
            self._pod_event("update", sts, pod, err)
        if err is not None:
            raise err

    async def _claims_match_policy(self, sts: Obj, pod: Obj) -> bool:
        ordinal = su.ordinal_of(pod)
        for t in su.claim_templates(sts):
            claim = self.claims.get(f"{namespace_of(sts)}/{su.claim_name(sts, t, ordinal)}")
            if claim is not None and not su.claim_owner_up_to_date(claim, sts, pod):
                return False
        return True

    async def _update_claims_for_policy(self, sts: Obj, pod: Obj) -> None:
        """``UpdatePodClaimForRetentionPolicy``: rewrite the owner references of the pod's claims."""
        ordinal = su.ordinal_of(pod)
        for t in su.claim_templates(sts):
            name = su.claim_name(sts, t, ordinal)
            claim = self.claims.get(f"{namespace_of(sts)}/{name}")
            if claim is None:
                continue
            if su.has_unexpected_controller(claim, sts, pod):
                self.recorder.event(sts, "Warning", "ConflictingController",
                                    f"PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as a "
                                    f"manging controller, the retention policy is ignored for this claim")
            if su.claim_owner_up_to_date(claim, sts, pod):
                continue
            body = copy.deepcopy(claim)
            refs = su.claim_owner_refs(claim, sts, pod)
            if refs:
                body["metadata"]["ownerReferences"] = refs
            else:
                body["metadata"].pop("ownerReferences", None)
            try:
                await self.client.update(PVCS, body)
            except APIStatusError as e:
                raise RuntimeError(f"could not update claim {name} for delete policy ownerRefs: "
                                   f"{error_message(e)}") from e

    async def _claim_is_stale(self, sts: Obj, pod: Obj) -> bool:
        """``PodClaimIsStale``: with whenScaled=Delete, a claim still owned by an earlier pod of this name is on its
        way out; the pod waits for it rather than mounting it."""
        if su.retention(sts)[1] == su.RETAIN:
            return False
        for claim in su.claims_for(sts, su.ordinal_of(pod)).values():
            existing = self.claims.get(f"{namespace_of(claim)}/{name_of(claim)}")
            if existing is not None and su.has_stale_owner_ref(existing, pod, "v1", "Pod"):
                return True
        return False

    # ---------------------------------------------------------------- status
    async def write_status(self, sts: Obj, status: Obj) -> None:
        """``updateStatefulSetStatus``: complete a finished rolling update, then write the status if it differs,
        re-reading the set on conflicts."""
        su.complete_rolling_update(sts, status)
        if not su.inconsistent_status(sts, status):
            return
        cur = sts
        for attempt in range(STATUS_RETRIES):
            try:
                await self.client.update(STATEFULSETS, {**cur, "status": su.status_json(cur, status)},
                                         subresource="status")
                return
            except APIStatusError as e:
                if not is_conflict(e) or attempt == STATUS_RETRIES - 1:
                    raise
            cur = await self.client.get(STATEFULSETS, name_of(sts), namespace_of(sts))
