"""VolumeBinding: a pod's PersistentVolumeClaims decide where it can run (upstream ``plugins/volumebinding``).

- PreFilter: a claim that does not exist or is being deleted keeps the pod out everywhere; so does an unbound claim
  whose StorageClass binds ``Immediate`` (the PV controller binds it without us). Pods without claims Skip.
- Filter: a bound claim's PersistentVolume must allow the node (its required node affinity — local and local-path
  volumes are pinned to one node, so a recreated StatefulSet pod returns to its volume's node). An unbound
  ``WaitForFirstConsumer`` claim needs either a dynamic provisioner whose class ``allowedTopologies`` admit the
  node, or an Available volume that fits and allows the node.
- PreBind: unbound ``WaitForFirstConsumer`` claims get ``volume.kubernetes.io/selected-node`` so the PV controller
  binds or provisions for that node. Unlike upstream, the binding does not wait for the claims to be bound: the
  node agent waits before mounting, and the PV controller also derives the node from the bound pod.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pybernetes.api.nodeaffinity import NodeSelectorTerm, terms_allow, volume_node_terms
from pybernetes.api.quantity import parse_quantity
from pybernetes.client.rest import APIStatusError
from pybernetes.scheduler.framework import (
    NODE,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    FilterPlugin,
    PreFilterResult,
    Status,
    as_error,
    unresolvable,
)

Obj = dict[str, Any]
NAME = "VolumeBinding"
PRE_FILTER_KEY = "PreFilter" + NAME
SELECTED_NODE = "volume.kubernetes.io/selected-node"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) didn't match PersistentVolume's node affinity"
ERR_REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
PVC, PV, STORAGE_CLASS = "PersistentVolumeClaim", "PersistentVolume", "StorageClass"
_NODE_CONFLICT = unresolvable(ERR_REASON_NODE_CONFLICT, plugin=NAME)
_BIND_CONFLICT = unresolvable(ERR_REASON_BIND_CONFLICT, plugin=NAME)
_PV_NOT_EXIST = unresolvable(ERR_REASON_PV_NOT_EXIST, plugin=NAME)


def claim_names(pod: Obj) -> list[str]:
    """The claims a pod uses: ``persistentVolumeClaim`` volumes and generic ephemeral volumes
    (``<pod>-<volume>``)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    out = []
    for v in spec.get("volumes") or ():
        if (v.get("persistentVolumeClaim") or {}).get("claimName"):
            out.append(v["persistentVolumeClaim"]["claimName"])
        elif v.get("ephemeral") is not None:
            out.append(f"{meta.get('name', '')}-{v.get('name', '')}")
    return out


def topology_allows(sc: Obj, node: Any) -> bool:
    """StorageClass ``allowedTopologies``: terms ORed, label expressions ANDed, values ORed."""
    topologies = sc.get("allowedTopologies") or ()
    if not topologies:
        return True
    for term in topologies:
        if all(node.labels.get(e.get("key")) in (e.get("values") or ()) for e in term.get("matchLabelExpressions")
               or ()):
            return True
    return False


def _storage(obj: Obj | None) -> int:
    try:
        return parse_quantity((obj or {}).get("storage") or "0").value()
    except ValueError:
        return 0


def volume_fits_claim(pv: Obj, pvc: Obj, class_name: str) -> bool:
    """An Available, unclaimed volume of the class, big enough, with every requested access mode."""
    spec, cspec = pv.get("spec") or {}, pvc.get("spec") or {}
    if spec.get("claimRef") or (spec.get("storageClassName") or "") != class_name:
        return False
    if (pv.get("status") or {}).get("phase") not in (None, "", "Available"):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or ()) <= set(spec.get("accessModes") or ()):
        return False
    return _storage(spec.get("capacity")) >= _storage((cspec.get("resources") or {}).get("requests"))


@dataclass(slots=True)
class _State:
    bound: list[tuple[NodeSelectorTerm, ...] | None]        # node affinity of each bound claim's volume
    delayed: list[tuple[Obj, Obj]]                            # (claim, class) waiting for a node
    missing_pv: bool

    def clone(self) -> _State:
        return self


class VolumeBinding:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(PVC, ActionType.ADD | ActionType.UPDATE),
                  ClusterEvent(PV, ActionType.ADD | ActionType.UPDATE),
                  ClusterEvent(STORAGE_CLASS, ActionType.ADD | ActionType.UPDATE),
                  ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL))

    def __init__(self, handle: Any = None) -> None:
        self.handle = handle

    def _class(self, pvc: Obj) -> Obj | None:
        name = (pvc.get("spec") or {}).get("storageClassName") or ""
        return self.handle.listers.storage_class(name) if name else None

    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        names = claim_names(pod)
        if not names:
            return None, SKIP
        listers = self.handle.listers
        ns = (pod.get("metadata") or {}).get("namespace") or ""
        st = _State([], [], False)
        for name in names:
            pvc = listers.pvc(ns, name)
            if pvc is None:
                return None, unresolvable(f'persistentvolumeclaim "{name}" not found', plugin=NAME)
            if (pvc.get("metadata") or {}).get("deletionTimestamp"):
                return None, unresolvable(f'persistentvolumeclaim "{name}" is being deleted', plugin=NAME)
            volume = (pvc.get("spec") or {}).get("volumeName")
            if volume:
                pv = listers.pv(volume)
                if pv is None:
                    st.missing_pv = True
                else:
                    st.bound.append(volume_node_terms(pv))
                continue
            sc = self._class(pvc)
            if sc is None or sc.get("volumeBindingMode") != "WaitForFirstConsumer":
                return None, unresolvable(ERR_UNBOUND_IMMEDIATE, plugin=NAME)
            st.delayed.append((pvc, sc))
        state.write(PRE_FILTER_KEY, st)
        return None, None

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        st: _State | None = state.get(PRE_FILTER_KEY)
        if st is None:
            return None
        if st.missing_pv:
            return _PV_NOT_EXIST
        for terms in st.bound:
            if not terms_allow(terms, node):
                return _NODE_CONFLICT
        for pvc, sc in st.delayed:
            if not self._can_bind_on(pvc, sc, node):
                return _BIND_CONFLICT
        return None

    def _can_bind_on(self, pvc: Obj, sc: Obj, node: Any) -> bool:
        class_name = (sc.get("metadata") or {}).get("name") or ""
        for pv in self.handle.listers.pvs():
            if volume_fits_claim(pv, pvc, class_name) and terms_allow(volume_node_terms(pv), node):
                return True
        return sc.get("provisioner") != NO_PROVISIONER and topology_allows(sc, node)

    async def pre_bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        st: _State | None = state.get(PRE_FILTER_KEY)
        client = self.handle.client
        if st is None or not st.delayed or client is None:
            return None
        from pybernetes.client.resources import PVCS
        for pvc, _ in st.delayed:
            meta = pvc.get("metadata") or {}
            if ((meta.get("annotations") or {}).get(SELECTED_NODE)) == node_name:
                continue
            patch = {"metadata": {"annotations": {SELECTED_NODE: node_name}}}
            try:
                await client.patch(PVCS, meta.get("name", ""), patch, meta.get("namespace"))
            except APIStatusError as e:
                return as_error(f"binding volumes: {e.status.get('message') or e}")
        return None


def new(args: dict[str, Any], handle: Any) -> VolumeBinding:
    return VolumeBinding(handle)


_: FilterPlugin = VolumeBinding()
