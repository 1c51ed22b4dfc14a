"""The PersistentVolume binder: Pending claims get matching Available volumes (or a new local-path volume), and
volumes follow their claims through Bound, Released and reclaim.

As upstream's ``pkg/controller/volume/persistentvolume/pv_controller.go`` (one queue, keys ``claim:ns/name``
and ``volume:name``):

- Matching (``findMatchingVolume``): a volume pre-bound to the claim wins; otherwise the smallest Available,
  unclaimed volume with the same class and volume mode, every requested access mode, a capacity at least the
  request, labels matching the claim's selector and, when the claim waits for a node, node affinity that node
  satisfies.
- Binding writes, in upstream's order, the volume's ``claimRef`` (+ ``pv.kubernetes.io/bound-by-controller``),
  its phase Bound, the claim's ``volumeName`` (+ ``pv.kubernetes.io/bind-completed`` and bound-by-controller) and
  the claim's status (Bound, capacity, access modes). Each step is idempotent, so a sync interrupted halfway is
  finished by the next one.
- ``WaitForFirstConsumer`` classes bind when the claim has ``volume.kubernetes.io/selected-node`` (written by the
  scheduler); if no scheduler wrote it but a pod using the claim has been placed, the controller writes it from
  the pod's ``nodeName``.
- Claims without a class get the default class (RetroactiveDefaultStorageClass, GA in 1.28).
- Dynamic provisioning: the ``rancher.io/local-path`` provisioner is built in (:mod:`localpath`); other
  provisioners are told through the ``volume.kubernetes.io/storage-provisioner`` annotation.
- A volume whose claim is gone becomes Released; ``Delete`` removes provisioned volumes, ``Retain`` keeps them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pybernetes.api.meta import key_of
from pybernetes.api.nodeaffinity import node_matches_term as node_matches_term  # re-exported: callers used it here
from pybernetes.api.nodeaffinity import node_view, terms_allow, volume_node_terms
from pybernetes.api.quantity import parse_quantity
from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.client.resources import NODES, PODS, PVCS, PVS, STORAGECLASSES
from pybernetes.client.rest import APIStatusError, is_already_exists, is_not_found
from pybernetes.controllers import localpath
from pybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]

BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
CLAIM_INDEX = "pvc"
CLAIM_REF_INDEX = "claimRef"


# ------------------------------------------------------------------ matching
def _ann(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def volume_class(pv: Obj) -> str:
    return _ann(pv).get(BETA_CLASS) or (pv.get("spec") or {}).get("storageClassName") or ""


def claim_class(pvc: Obj) -> str:
    return _ann(pvc).get(BETA_CLASS) or (pvc.get("spec") or {}).get("storageClassName") or ""


def _storage(d: Obj | None) -> Any:
    v = (d or {}).get("storage")
    try:
        return parse_quantity(v) if v is not None else None
    except ValueError:
        return None


def is_bound_to(pv: Obj, pvc: Obj) -> bool:
    """Upstream ``IsVolumeBoundToClaim``: the claimRef names the claim (and its UID, once set)."""
    ref = (pv.get("spec") or {}).get("claimRef")
    meta = pvc.get("metadata") or {}
    if not ref or ref.get("name") != meta.get("name") or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def node_affinity_allows(pv: Obj, node: Obj) -> bool:
    """Upstream ``CheckNodeAffinity``: the volume's required node affinity admits the node (no affinity: any)."""
    return terms_allow(volume_node_terms(pv), node_view(node))


def find_best_volume(pvc: Obj, volumes: list[Obj], *, node: Obj | None, delay_binding: bool) -> Obj | None:
    spec = pvc.get("spec") or {}
    want_modes = set(spec.get("accessModes") or ())
    want_mode = spec.get("volumeMode") or "Filesystem"
    request = _storage((spec.get("resources") or {}).get("requests"))
    try:
        selector = label_selector_from_dict(spec["selector"]) if spec.get("selector") is not None else None
    except ValueError:
        return None
    cls = claim_class(pvc)
    best: Obj | None = None
    best_size: Any = None
    for pv in volumes:
        vspec = pv.get("spec") or {}
        if (vspec.get("volumeMode") or "Filesystem") != want_mode or (pv.get("metadata") or {}).get(
                "deletionTimestamp"):
            continue
        fits_node = node is None or node_affinity_allows(pv, node)
        if is_bound_to(pv, pvc):
            return pv if fits_node else None
        if node is None and delay_binding:
            continue
        if (pv.get("status") or {}).get("phase") != "Available" or vspec.get("claimRef"):
            continue
        if selector is not None and not selector.matches((pv.get("metadata") or {}).get("labels") or {}):
            continue
        if volume_class(pv) != cls or not fits_node or not want_modes <= set(vspec.get("accessModes") or ()):
            continue
        size = _storage(vspec.get("capacity"))
        if size is None or (request is not None and size < request):
            continue
        if best is None or size < best_size:
            best, best_size = pv, size
    return best


def claim_ref(pvc: Obj) -> Obj:
    m = pvc.get("metadata") or {}
    return {"kind": "PersistentVolumeClaim", "namespace": m.get("namespace", ""), "name": m.get("name", ""),
            "uid": m.get("uid", ""), "apiVersion": "v1", "resourceVersion": m.get("resourceVersion", "")}


def volume_claim_key(pv: Obj) -> list[str]:
    ref = (pv.get("spec") or {}).get("claimRef")
    return [f"{ref.get('namespace', '')}/{ref.get('name', '')}"] if ref else []


def claims_of_pod(pod: Obj) -> list[str]:
    ns = (pod.get("metadata") or {}).get("namespace", "")
    name = (pod.get("metadata") or {}).get("name", "")
    out = []
    for v in (pod.get("spec") or {}).get("volumes") or ():
        if (v.get("persistentVolumeClaim") or {}).get("claimName"):
            out.append(f"{ns}/{v['persistentVolumeClaim']['claimName']}")
        elif v.get("ephemeral") is not None:
            out.append(f"{ns}/{name}-{v.get('name', '')}")
    return out


def _with(obj: Obj, *, annotations: dict[str, str] | None = None, spec: Obj | None = None,
          status: Obj | None = None) -> Obj:
    out = {**obj, "metadata": dict(obj.get("metadata") or {})}
    if annotations is not None:
        out["metadata"]["annotations"] = {**(out["metadata"].get("annotations") or {}), **annotations}
    if spec is not None:
        out["spec"] = {**(obj.get("spec") or {}), **spec}
    if status is not None:
        out["status"] = {**(obj.get("status") or {}), **status}
    return out


# ------------------------------------------------------------------ the controller
class PersistentVolumeController(Controller):
    name = "persistentvolume-binder"
    workers = 1        # binding is a read-modify-write across claims and volumes: one at a time, as upstream

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.base_path = str(ctx.options.get("local_path_base", localpath.BASE_PATH))
        self.volumes = ctx.informers.informer(PVS)
        self.claims = ctx.informers.informer(PVCS)
        self.classes = ctx.informers.informer(STORAGECLASSES)
        self.pods = ctx.informers.informer(PODS)
        self.nodes = ctx.informers.informer(NODES)
        self.pods.add_index(CLAIM_INDEX, claims_of_pod)
        self.volumes.add_index(CLAIM_REF_INDEX, volume_claim_key)
        self._written: dict[tuple[str, str], Obj] = {}
        self.volumes.add_handler(self._on_volume, lambda _o, n: self._on_volume(n), self._on_volume_delete)
        self.claims.add_handler(self._on_claim, lambda _o, n: self._on_claim(n), self._on_claim_delete)
        self.pods.add_handler(self._on_pod, lambda _o, n: self._on_pod(n), None)
        self.classes.add_handler(self._on_class, None, None)

    # ---------------------------------------------------------------- our own writes
    # As upstream's binder keeps its own caches: a bind is several writes in a row, and the informer may not have
    # delivered the first before the next sync reads, so the newest of (informer copy, what we wrote) is used.
    def _remember(self, res: Any, obj: Obj) -> Obj:
        self._written[(res.plural, key_of(obj))] = obj
        return obj

    async def _update(self, res: Any, obj: Obj, *, subresource: str | None = None) -> Obj:
        return self._remember(res, await self.client.update(res, obj, subresource=subresource))

    def _fresher(self, res: Any, key: str, cached: Obj | None) -> Obj | None:
        mine = self._written.get((res.plural, key))
        if mine is None:
            return cached
        if cached is not None and _rv(cached) >= _rv(mine):
            del self._written[(res.plural, key)]
            return cached
        return mine

    def _volume(self, name: str) -> Obj | None:
        return self._fresher(PVS, name, self.volumes.get(name))

    def _claim(self, key: str) -> Obj | None:
        return self._fresher(PVCS, key, self.claims.get(key))

    def _all_volumes(self) -> list[Obj]:
        seen: dict[str, Obj] = {key_of(v): v for v in self.volumes.list()}
        for plural, key in list(self._written):
            if plural == PVS.plural:
                fresh = self._fresher(PVS, key, seen.get(key))
                if fresh is not None:
                    seen[key] = fresh
        return list(seen.values())

    def _forget(self, res: Any, obj: Obj) -> None:
        self._written.pop((res.plural, key_of(obj)), None)

    # ---------------------------------------------------------------- handlers
    def _on_volume(self, pv: Obj) -> None:
        self.enqueue("volume:" + key_of(pv))
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self.enqueue(f"claim:{ref.get('namespace', '')}/{ref.get('name', '')}")

    def _on_volume_delete(self, pv: Obj) -> None:
        self._forget(PVS, pv)
        self._on_volume(pv)

    def _on_claim_delete(self, pvc: Obj) -> None:
        self._forget(PVCS, pvc)
        self._on_claim(pvc)

    def _on_claim(self, pvc: Obj) -> None:
        self.enqueue("claim:" + key_of(pvc))
        vol = (pvc.get("spec") or {}).get("volumeName")
        if vol:
            self.enqueue("volume:" + vol)
        for pv in self.volumes.by_index(CLAIM_REF_INDEX, key_of(pvc)):   # released when the claim goes
            self.enqueue("volume:" + key_of(pv))

    def _on_pod(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            for claim in claims_of_pod(pod):
                self.enqueue("claim:" + claim)

    def _on_class(self, _sc: Obj) -> None:
        for pvc in self.claims.list():
            if not (pvc.get("spec") or {}).get("volumeName"):
                self.enqueue("claim:" + key_of(pvc))

    async def reconcile(self, key: str) -> float | None:
        kind, _, rest = key.partition(":")
        if kind == "claim":
            await self.sync_claim(rest)
        elif kind == "volume":
            await self.sync_volume(rest)
        return None

    # ---------------------------------------------------------------- claims
    def default_class(self) -> Obj | None:
        defaults = [c for c in self.classes.list() if localpath.is_default_class(c)]
        defaults.sort(key=lambda c: ((c.get("metadata") or {}).get("creationTimestamp") or "",
                                     (c.get("metadata") or {}).get("name", "")), reverse=True)
        return defaults[0] if defaults else None

    async def sync_claim(self, key: str) -> None:
        pvc = self._claim(key)
        if pvc is None:
            return
        spec = pvc.get("spec") or {}
        if not spec.get("volumeName"):
            await self._sync_unbound(key, pvc)
        else:
            await self._sync_bound(key, pvc)

    async def _sync_unbound(self, key: str, pvc: Obj) -> None:
        spec = pvc.get("spec") or {}
        if spec.get("storageClassName") is None and BETA_CLASS not in _ann(pvc):
            default = self.default_class()
            if default is not None:
                await self._update(PVCS, _with(pvc, spec={"storageClassName": default["metadata"]["name"]}))
                return
        cls_name = claim_class(pvc)
        sc = self.classes.get(cls_name) if cls_name else None
        delay = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
        node = None
        if delay:
            selected = _ann(pvc).get(SELECTED_NODE)
            if not selected:
                selected = self._consumer_node(key)
                if selected:
                    await self._update(PVCS, _with(pvc, annotations={SELECTED_NODE: selected}))
                    return
                self.recorder.event(pvc, "Normal", "WaitForFirstConsumer",
                                    "waiting for first consumer to be created before binding")
                await self._claim_phase(pvc, "Pending")
                return
            node = self.nodes.get(selected) or {"metadata": {"name": selected, "labels": {
                localpath.HOSTNAME_LABEL: selected}}}
        pv = find_best_volume(pvc, self._all_volumes(), node=node, delay_binding=delay)
        if pv is not None:
            await self.bind(pvc, pv)
            return
        if not cls_name:
            self.recorder.event(pvc, "Normal", "FailedBinding",
                                "no persistent volumes available for this claim and no storage class is set")
            await self._claim_phase(pvc, "Pending")
            return
        if sc is None:
            self.recorder.event(pvc, "Warning", "ProvisioningFailed",
                                f'storageclass.storage.k8s.io "{cls_name}" not found')
            await self._claim_phase(pvc, "Pending")
            return
        await self._provision(pvc, sc, node)

    def _consumer_node(self, key: str) -> str | None:
        for pod in self.pods.by_index(CLAIM_INDEX, key):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                return str(node)
        return None

    async def _provision(self, pvc: Obj, sc: Obj, node: Obj | None) -> None:
        provisioner = sc.get("provisioner", "")
        key = key_of(pvc)
        ann = _ann(pvc)
        if ann.get(STORAGE_PROVISIONER) != provisioner or ann.get(BETA_STORAGE_PROVISIONER) != provisioner:
            await self._update(PVCS, _with(pvc, annotations={STORAGE_PROVISIONER: provisioner,
                                                                   BETA_STORAGE_PROVISIONER: provisioner}))
            if provisioner != localpath.PROVISIONER:
                self.recorder.event(pvc, "Normal", "ExternalProvisioning",
                                    f"Waiting for a volume to be created either by the external provisioner "
                                    f"'{provisioner}' or manually by the system administrator. If volume creation "
                                    "is delayed, please verify that the provisioner is running and correctly "
                                    "registered.")
            return
        await self._claim_phase(pvc, "Pending")
        if provisioner != localpath.PROVISIONER:
            return
        why = localpath.provision_error(pvc)
        if why is None and node is None:
            why = "configuration error, no node was specified"
        if why is not None:
            self.recorder.event(pvc, "Warning", "ProvisioningFailed",
                                f'failed to provision volume with StorageClass "{sc["metadata"]["name"]}": {why}')
            return
        assert node is not None
        name = localpath.volume_name(pvc)
        if self._volume(name) is not None:
            return
        self.recorder.event(pvc, "Normal", "Provisioning",
                            f'External provisioner is provisioning volume for claim "{key}"')
        host = ((node.get("metadata") or {}).get("labels") or {}).get(localpath.HOSTNAME_LABEL) \
            or node["metadata"]["name"]
        pv = localpath.provision(pvc, sc, host, base=self.base_path)
        try:
            self._remember(PVS, await self.client.create(PVS, pv))
        except APIStatusError as e:
            if not is_already_exists(e):
                raise
        self.recorder.event(pvc, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {name}")

    async def _sync_bound(self, key: str, pvc: Obj) -> None:
        vol_name = pvc["spec"]["volumeName"]
        pv = self._volume(vol_name)
        completed = _ann(pvc).get(BIND_COMPLETED) == "yes"
        if pv is None:
            if completed:
                if (pvc.get("status") or {}).get("phase") != "Lost":
                    self.recorder.event(pvc, "Warning", "ClaimLost",
                                        "Bound claim has lost reference to PersistentVolume. Data on the volume is "
                                        "lost!")
                await self._claim_phase(pvc, "Lost")
            else:
                await self._claim_phase(pvc, "Pending")
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref is None or is_bound_to(pv, pvc):
            await self.bind(pvc, pv)
            return
        if completed:
            if (pvc.get("status") or {}).get("phase") != "Lost":
                self.recorder.event(pvc, "Warning", "ClaimMisbound",
                                    "Two claims are bound to the same volume, this one is bound incorrectly")
            await self._claim_phase(pvc, "Lost")
        else:
            self.recorder.event(pvc, "Warning", "FailedBinding",
                                f'volume "{vol_name}" already bound to a different claim.')
            await self._claim_phase(pvc, "Pending")

    async def _claim_phase(self, pvc: Obj, phase: str) -> None:
        if (pvc.get("status") or {}).get("phase") != phase:
            await self._update(PVCS, _with(pvc, status={"phase": phase}), subresource="status")

    async def bind(self, pvc: Obj, pv: Obj) -> None:
        """Upstream ``bind``: volume → claim reference, volume Bound, claim → volume, claim Bound. Each step is
        skipped when already done, so a retried sync resumes where it stopped."""
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        uid = (pvc.get("metadata") or {}).get("uid")
        if ref.get("uid") != uid or ref.get("name") != (pvc.get("metadata") or {}).get("name"):
            ann = {BOUND_BY_CONTROLLER: "yes"} if not ref else None
            pv = await self._update(PVS, _with(pv, annotations=ann, spec={"claimRef": claim_ref(pvc)}))
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv = await self._update(PVS, _with(pv, status={"phase": "Bound"}), subresource="status")
        spec = pvc.get("spec") or {}
        ann = _ann(pvc)
        if spec.get("volumeName") != pv["metadata"]["name"] or ann.get(BIND_COMPLETED) != "yes":
            want = {BIND_COMPLETED: "yes"}
            if spec.get("volumeName") != pv["metadata"]["name"]:
                want[BOUND_BY_CONTROLLER] = "yes"
            pvc = await self._update(PVCS, _with(pvc, annotations=want,
                                                       spec={"volumeName": pv["metadata"]["name"]}))
        st = pvc.get("status") or {}
        vspec = pv.get("spec") or {}
        want_status = {"phase": "Bound", "accessModes": vspec.get("accessModes") or [],
                       "capacity": vspec.get("capacity") or {}}
        if any(st.get(k) != v for k, v in want_status.items()):
            await self._update(PVCS, _with(pvc, status=want_status), subresource="status")

    # ---------------------------------------------------------------- volumes
    async def sync_volume(self, name: str) -> None:
        pv = self._volume(name)
        if pv is None:
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref:
            await self._volume_phase(pv, "Available")
            return
        pvc = self._claim(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
        if not ref.get("uid"):
            await self._volume_phase(pv, "Available")
            if pvc is not None:
                self.enqueue("claim:" + key_of(pvc))
            return
        if pvc is not None and (pvc.get("metadata") or {}).get("uid") != ref.get("uid"):
            pvc = None
        if pvc is None:
            await self._release(pv)
            return
        bound_to = (pvc.get("spec") or {}).get("volumeName")
        if not bound_to:
            self.enqueue("claim:" + key_of(pvc))
            return
        if bound_to == name:
            await self._volume_phase(pv, "Bound")
            return
        # the claim is bound to another volume
        if _ann(pv).get(localpath.PROVISIONED_BY) and \
                (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
            await self._release(pv)
        else:
            await self.unbind(pv)

    async def _volume_phase(self, pv: Obj, phase: str, message: str = "") -> Obj:
        st = pv.get("status") or {}
        if st.get("phase") == phase and (st.get("message") or "") == message:
            return pv
        status: Obj = {"phase": phase}
        new = _with(pv, status=status)
        if message:
            new["status"]["message"] = message
        else:
            new["status"].pop("message", None)
        return await self._update(PVS, new, subresource="status")

    async def unbind(self, pv: Obj) -> None:
        """Upstream ``unbindVolume``: a volume the controller bound loses its claim reference; one a user
        pre-bound keeps the reference without the UID. Either way it is Available again."""
        spec = dict(pv.get("spec") or {})
        meta = dict(pv.get("metadata") or {})
        ann = dict(meta.get("annotations") or {})
        if ann.pop(BOUND_BY_CONTROLLER, None) is not None:
            spec.pop("claimRef", None)
        else:
            spec["claimRef"] = {k: v for k, v in (spec.get("claimRef") or {}).items() if k != "uid"}
        meta["annotations"] = ann
        out = await self._update(PVS, {**pv, "metadata": meta, "spec": spec})
        await self._volume_phase(out, "Available")

    async def _release(self, pv: Obj) -> None:
        phase = (pv.get("status") or {}).get("phase")
        if phase not in ("Released", "Failed"):
            pv = await self._volume_phase(pv, "Released")
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        name = pv["metadata"]["name"]
        if policy == "Retain":
            return
        if policy == "Delete" and _ann(pv).get(localpath.PROVISIONED_BY) == localpath.PROVISIONER:
            try:
                await self.client.delete(PVS, name)
            except APIStatusError as e:
                if not is_not_found(e):
                    raise
                return
            log.info("deleted released volume", extra={"controller": self.name, "volume": name})
            return
        if policy == "Delete" and _ann(pv).get(localpath.PROVISIONED_BY):
            return          # an external provisioner deletes its own volumes
        if phase != "Failed":
            why = f'error getting deleter volume plugin for volume "{name}": no deletable volume plugin matched' \
                if policy == "Delete" else "No recycler plugin found for the volume!"
            self.recorder.event(pv, "Warning", "VolumeFailedDelete" if policy == "Delete" else "VolumeFailedRecycle",
                                why)
            await self._volume_phase(pv, "Failed", why)

    # ---------------------------------------------------------------- start-up
    async def ensure_storage_class(self) -> None:
        if self.classes.get(localpath.STORAGE_CLASS) is not None:
            return
        try:
            await self.client.create(STORAGECLASSES, localpath.default_storage_class())
            log.info("created the default StorageClass", extra={"controller": self.name,
                                                                "class": localpath.STORAGE_CLASS})
        except APIStatusError as e:
            if not is_already_exists(e):
                raise

    async def background(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.ensure_storage_class()
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("could not create the default StorageClass", extra={"controller": self.name,
                                                                                 "error": repr(e)})
            await self.clock.sleep(delay)
            delay = min(delay * 2, 60.0)


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0
