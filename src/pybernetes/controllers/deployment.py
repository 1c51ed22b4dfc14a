"""The Deployment controller (upstream ``pkg/controller/deployment``): a Deployment owns ReplicaSets, one per pod
template, named ``<deployment>-<pod-template-hash>``; it rolls from the old ones to the new one
(:mod:`rollout`) and reports what ``kubectl rollout status`` reads.

``reconcile(key)`` claims the ReplicaSets the selector matches (adopting orphans, releasing strays), then: a
Deployment being deleted only gets its status synced; a paused one, or one whose ``spec.replicas`` changed (a
scaling event), is scaled proportionally; otherwise it rolls out by its strategy. ``kubectl rollout undo`` patches
the template back client-side, so a rollback is a roll forward onto the old ReplicaSet whose template matches,
with its revision bumped (the old number kept in ``revision-history``); ``rollout restart`` changes a template
annotation and so makes a new ReplicaSet. Old ReplicaSets beyond ``revisionHistoryLimit`` are deleted once
scaled to zero.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, ClassVar

from pybernetes.api.meta import (
    annotations_of,
    controller_ref,
    is_being_deleted,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    uid_of,
)
from pybernetes.api.patch import clone
from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.client.resources import DEPLOYMENTS, PODS, REPLICASETS
from pybernetes.client.rest import APIStatusError, is_already_exists, is_conflict, is_not_found
from pybernetes.controllers import deployment_util as du
from pybernetes.controllers import rollout
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

log = logging.getLogger(__name__)
Obj = dict[str, Any]
STALE_RETRY = 0.1


class DeploymentController(Controller):
    name: ClassVar[str] = "deployment"
    workers: ClassVar[int] = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder.for_component("deployment-controller")  # type: ignore[assignment]
        self.deployments = ctx.informers.informer(DEPLOYMENTS)
        self.rss = ctx.informers.informer(REPLICASETS)
        self.pods = ctx.informers.informer(PODS)
        self.deployments.add_index(NAMESPACE_INDEX, namespace_index)
        add_indexes(self.rss)
        add_indexes(self.pods)
        self.lookup = OwnerLookup(self.deployments, "Deployment")
        self.deployments.add_handler(self._enqueue_obj, lambda old, cur: self._enqueue_obj(cur),
                                     self._delete_deployment)
        self.rss.add_handler(self._add_rs, self._update_rs, self._delete_rs)
        self.pods.add_handler(on_delete=self._delete_pod)

    def now(self) -> datetime:
        return self.clock.now()

    # ---------------------------------------------------------------- lookups and handlers
    def _enqueue_obj(self, d: Obj) -> None:
        self.enqueue(key_of(d))

    def _delete_deployment(self, d: Obj) -> None:
        self.lookup.forget(d)
        self.enqueue(key_of(d))

    def resolve(self, namespace: str, ref: Obj) -> Obj | None:
        return self.lookup.resolve(namespace, ref)

    def selecting(self, rs: Obj) -> list[Obj]:
        """Deployments of the namespace whose (non-empty) selector matches the ReplicaSet's labels."""
        return self.lookup.selecting(rs)

    def _add_rs(self, rs: Obj) -> None:
        if is_being_deleted(rs):
            self._delete_rs(rs)
            return
        ref = controller_ref(rs)
        if ref is not None:
            if (d := self.resolve(namespace_of(rs), ref)) is not None:
                self._enqueue_obj(d)
            return
        for d in self.selecting(rs):
            self._enqueue_obj(d)

    def _update_rs(self, old: Obj, cur: Obj) -> None:
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        if cur_ref != old_ref and old_ref is not None:
            if (d := self.resolve(namespace_of(old), old_ref)) is not None:
                self._enqueue_obj(d)
        if cur_ref is not None:
            if (d := self.resolve(namespace_of(cur), cur_ref)) is not None:
                self._enqueue_obj(d)
            return
        if labels_of(old) != labels_of(cur) or cur_ref != old_ref:
            for d in self.selecting(cur):
                self._enqueue_obj(d)

    def _delete_rs(self, rs: Obj) -> None:
        ref = controller_ref(rs)
        if ref is not None and (d := self.resolve(namespace_of(rs), ref)) is not None:
            self._enqueue_obj(d)

    def _delete_pod(self, pod: Obj) -> None:
        """A Recreate rollout waits for the old pods to be gone: wake it when the last one goes."""
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rss.get(f"{namespace_of(pod)}/{ref.get('name')}")
        rs_ref = controller_ref(rs) if rs is not None else None
        d = self.resolve(namespace_of(pod), rs_ref) if rs_ref is not None else None
        if d is None or du.strategy_type(d) != "Recreate":
            return
        if not any(self.pods_of(uid_of(r)) for r in self.rss.by_index(CONTROLLER_UID_INDEX, uid_of(d))):
            self._enqueue_obj(d)

    def pods_of(self, rs_uid: str) -> list[Obj]:
        return self.pods.by_index(CONTROLLER_UID_INDEX, rs_uid)

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, key: str) -> float | None:
        try:
            await self.sync_deployment(key)
        except APIStatusError as e:
            if not (is_conflict(e) or is_not_found(e)):
                raise
            # The cache is behind the API (our own writes, or a deletion): expected; look again once it caught up.
            log.debug("stale cache", extra={"controller": self.name, "key": key, "error": str(e)})
            return STALE_RETRY
        return None

    async def sync_deployment(self, key: str) -> None:
        cached = self.deployments.get(key)
        if cached is None:
            return
        d = clone(cached)
        d.setdefault("status", {})
        selector = (d.get("spec") or {}).get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if int(d["status"].get("observedGeneration") or 0) < int(d["metadata"].get("generation") or 0):
                await self.write_status(d, {**d["status"], "observedGeneration": d["metadata"]["generation"]})
            return
        rs_list = await self.claim_replica_sets(d)
        if is_being_deleted(d):
            new_rs, old_rss = await self.new_and_old(d, rs_list, create=False)
            await rollout.sync_deployment_status(self, [*old_rss, new_rs], new_rs, d)
            return
        await self.check_paused_conditions(d)
        if (d.get("spec") or {}).get("paused") or await self.is_scaling_event(d, rs_list):
            await self.sync(d, rs_list)
            return
        st = du.strategy_type(d)
        if st == "Recreate":
            await rollout.rollout_recreate(self, d, rs_list)
        elif st == "RollingUpdate":
            await rollout.rollout_rolling(self, d, rs_list)
        else:
            raise ValueError(f"unexpected deployment strategy type: {st}")

    async def claim_replica_sets(self, d: Obj) -> list[Obj]:
        try:
            selector = label_selector_from_dict(d["spec"].get("selector"))
        except ValueError as e:
            raise ValueError(f"deployment {namespace_of(d)}/{name_of(d)} has invalid label selector: {e}") from None
        candidates = [*self.rss.by_index(CONTROLLER_UID_INDEX, uid_of(d)),
                      *self.rss.by_index(ORPHANS_INDEX, namespace_of(d))]
        manager = RefManager(self.client, owner=d, selector=selector, res=REPLICASETS,
                             owner_ref=new_controller_ref(d, api_version="apps/v1", kind="Deployment"),
                             can_adopt=recheck_owner(self.client, DEPLOYMENTS, d, "Deployment"))
        return await manager.claim(candidates)

    async def sync(self, d: Obj, rs_list: list[Obj]) -> None:
        """Scale without rolling (paused, or a scaling event), then sync the status."""
        new_rs, old_rss = await self.new_and_old(d, rs_list, create=False)
        await rollout.scale(self, d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused"):
            await self.cleanup(old_rss, d)
        await rollout.sync_deployment_status(self, [*old_rss, new_rs], new_rs, d)

    async def is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        """An active ReplicaSet was sized for a different ``spec.replicas`` than the Deployment's now."""
        new_rs, old_rss = await self.new_and_old(d, rs_list, create=False)
        for rs in du.filter_active([*old_rss, new_rs]):
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.replicas(d):
                return True
        return False

    async def check_paused_conditions(self, d: Obj) -> None:
        """Progressing=Unknown while paused (and on resume), so the time paused never counts as no progress."""
        if not du.has_progress_deadline(d):
            return
        cond = du.get_condition(d["status"], du.PROGRESSING)
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED
        paused = bool(d["spec"].get("paused"))
        if paused and not paused_cond:
            new = du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED, "Deployment is paused", self.now())
        elif not paused and paused_cond:
            new = du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED, "Deployment is resumed", self.now())
        else:
            return
        status = clone(d["status"])
        du.set_condition(status, new)
        await self.write_status(d, status)

    # ---------------------------------------------------------------- the new ReplicaSet
    async def new_and_old(self, d: Obj, rs_list: list[Obj], *, create: bool) -> tuple[Obj | None, list[Obj]]:
        """(new ReplicaSet or None, every old ReplicaSet), with the new one's revision synced."""
        _, all_old = du.find_old_rss(d, rs_list)
        return await self.get_new_rs(d, rs_list, all_old, create=create), all_old

    async def get_new_rs(self, d: Obj, rs_list: list[Obj], old_rss: list[Obj], *, create: bool) -> Obj | None:
        existing = du.find_new_rs(d, rs_list)
        new_revision = du.max_revision(old_rss) + 1
        if existing is not None:
            return await self._sync_existing_new_rs(d, existing, rs_list, new_revision)
        if not create:
            return None
        return await self._create_new_rs(d, old_rss, new_revision)

    async def _sync_existing_new_rs(self, d: Obj, existing: Obj, rs_list: list[Obj], new_revision: int) -> Obj:
        rs = clone(existing)
        changed = du.set_new_rs_annotations(d, rs, new_revision, exists=True)
        min_ready = int(d["spec"].get("minReadySeconds") or 0)
        if changed or int(rs["spec"].get("minReadySeconds") or 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            updated: Obj = await self.client.update(REPLICASETS, rs)
            rs_list[:] = [updated if uid_of(x) == uid_of(updated) else x for x in rs_list]
            return updated
        needs_update = du.set_deployment_revision(d, annotations_of(rs).get(du.REVISION, ""))
        status = d["status"]
        if du.has_progress_deadline(d) and du.get_condition(status, du.PROGRESSING) is None:
            status = clone(status)
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS,
                                                      f'Found new replica set "{name_of(rs)}"', self.now()))
            needs_update = True
        if needs_update:
            await self.write_status(d, status)
        return rs

    async def _create_new_rs(self, d: Obj, old_rss: list[Obj], new_revision: int) -> Obj:
        spec = d["spec"]
        template = clone(spec.get("template") or {})
        pod_hash = du.compute_hash(template, d["status"].get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), du.POD_TEMPLATE_HASH: pod_hash}
        selector = clone(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.POD_TEMPLATE_HASH: pod_hash}
        name, ns = f"{name_of(d)}-{pod_hash}", namespace_of(d)
        new_rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": ns, "labels": dict(tmeta["labels"]),
                         "ownerReferences": [new_controller_ref(d, api_version="apps/v1", kind="Deployment")]},
            "spec": {"replicas": 0, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                     "selector": selector, "template": template}}
        count = du.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        du.set_new_rs_annotations(d, new_rs, new_revision, exists=False)
        already = False
        try:
            created: Obj = await self.client.create(REPLICASETS, new_rs, ns)
        except APIStatusError as e:
            if is_already_exists(e):
                created = await self._existing_or_collision(d, name, e)
                already = True
            elif has_status_cause(e, "NamespaceTerminating"):
                raise
            else:
                msg = f'Failed to create new replica set "{name}": {error_message(e)}'
                if du.has_progress_deadline(d):
                    status = clone(d["status"])
                    du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE, msg,
                                                              self.now()))
                    try:
                        await self.write_status(d, status)
                    except APIStatusError:
                        pass
                self.recorder.event(d, "Warning", du.FAILED_RS_CREATE, msg)
                raise
        if not already and count > 0:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled up replica set {name_of(created)} from 0 to {count}")
        needs_update = du.set_deployment_revision(d, str(new_revision))
        status = d["status"]
        if not already and du.has_progress_deadline(d):
            status = clone(status)
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED,
                                                      f'Created new replica set "{name_of(created)}"', self.now()))
            needs_update = True
        if needs_update:
            await self.write_status(d, status)
        return created

    async def _existing_or_collision(self, d: Obj, name: str, err: APIStatusError) -> Obj:
        """The name is taken: ours with the same template (a slow cache) is fine; anything else is a hash
        collision, resolved by bumping ``status.collisionCount`` so the next sync hashes differently."""
        rs = self.rss.get(f"{namespace_of(d)}/{name}")
        if rs is None:
            raise err
        ref = controller_ref(rs)
        if ref is not None and ref.get("uid") == uid_of(d) and du.equal_ignore_hash(
                d["spec"].get("template"), (rs.get("spec") or {}).get("template")):
            return rs
        status = clone(d["status"])
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        await self.write_status(d, status)
        log.info("hash collision: bumped collisionCount", extra={"controller": self.name, "key": key_of(d),
                                                                  "collisionCount": status["collisionCount"]})
        raise err

    # ---------------------------------------------------------------- writes
    async def scale_rs(self, rs: Obj, new_scale: int, d: Obj, operation: str | None = None) -> tuple[bool, Obj]:
        """Set a ReplicaSet's replicas (and its desired/max-replicas annotations); record ScalingReplicaSet.

        Without ``operation`` (``scaleReplicaSetAndRecordEvent``) nothing is written unless the size changes;
        with one (proportional scaling) stale annotations alone are also rewritten."""
        old = du.replicas(rs)
        if operation is None and old == new_scale:
            return False, rs
        max_replicas = du.replicas(d) + du.max_surge(d)
        size_changes = old != new_scale
        if not size_changes and not du.replicas_annotations_need_update(rs, du.replicas(d), max_replicas):
            return False, rs
        copy = clone(rs)
        copy["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(copy, du.replicas(d), max_replicas)
        updated: Obj = await self.client.update(REPLICASETS, copy)
        if size_changes:
            op = operation or ("up" if old < new_scale else "down")
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled {op} replica set {name_of(updated)} from {old} to {new_scale}")
        return size_changes, updated

    async def cleanup(self, old_rss: list[Obj], d: Obj) -> None:
        """Delete the oldest ReplicaSets beyond ``revisionHistoryLimit`` — only those fully scaled down."""
        if not du.has_revision_history_limit(d):
            return
        alive = [rs for rs in old_rss if not is_being_deleted(rs)]
        diff = len(alive) - int(d["spec"]["revisionHistoryLimit"])
        if diff <= 0:
            return
        for rs in du.by_revision(alive)[:diff]:
            st = rs.get("status") or {}
            if (st.get("replicas") or 0) != 0 or du.replicas(rs) != 0 \
                    or int(rs["metadata"].get("generation") or 0) > int(st.get("observedGeneration") or 0):
                continue
            try:
                await self.client.delete(REPLICASETS, name_of(rs), namespace_of(rs))
            except APIStatusError as e:
                if not is_not_found(e):
                    raise

    async def write_status(self, d: Obj, status: Obj) -> None:
        """UpdateStatus with ``d`` as it is (its annotations carry the revision, as upstream); ``d`` then has the
        new status and resourceVersion, so the next write of the same sync does not conflict with this one."""
        d["status"] = status
        updated = await self.client.update(DEPLOYMENTS, d, subresource="status")
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
