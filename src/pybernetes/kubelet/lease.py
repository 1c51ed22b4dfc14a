"""Node heartbeats as Leases in ``kube-node-lease`` (upstream ``component-helpers/apimachinery/lease`` as the
kubelet configures it).

One Lease per node, named after it, ``holderIdentity`` = the node name, ``leaseDurationSeconds`` 40, an
ownerReference to the Node (so deleting the Node deletes its Lease), renewed every 10 s (a quarter of the
duration). A renewal is one PUT of the Lease last seen with a new ``renewTime``; only a conflict or a missing Lease
costs a GET or a create, so 5,000 nodes cost 500 small writes a second and no reads.
"""

from __future__ import annotations

from typing import Any

from pybernetes.api.meta import format_rfc3339_micro
from pybernetes.client.clock import REAL, Clock
from pybernetes.client.resources import LEASES
from pybernetes.client.rest import APIStatusError, Client

Obj = dict[str, Any]
NAMESPACE = "kube-node-lease"
DURATION = 40
RENEW_INTERVAL = DURATION / 4


def node_lease(node: str, node_uid: str, renew_time: str, *, duration: int = DURATION) -> Obj:
    meta: Obj = {"name": node, "namespace": NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": node, "leaseDurationSeconds": duration, "renewTime": renew_time}}


def renewed(lease: Obj, node: str, node_uid: str, renew_time: str, *, duration: int = DURATION) -> Obj:
    """``lease`` (as last read or written) with a fresh renewTime, our holder and our owner reference."""
    meta = dict(lease.get("metadata") or {})
    if node_uid:
        owners = [r for r in meta.get("ownerReferences") or () if r.get("uid") != node_uid]
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}, *owners]
    meta.pop("managedFields", None)
    spec = dict(lease.get("spec") or {})
    spec.update(holderIdentity=node, leaseDurationSeconds=duration, renewTime=renew_time)
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}


class NodeLease:
    """Keeps one node's Lease: :meth:`renew` writes it and remembers the result for the next renewal."""

    __slots__ = ("clock", "lease", "node", "node_uid")

    def __init__(self, node: str, *, clock: Clock = REAL) -> None:
        self.node = node
        self.node_uid = ""
        self.clock = clock
        self.lease: Obj | None = None

    def _now(self) -> str:
        return format_rfc3339_micro(self.clock.now())

    async def renew(self, client: Client) -> Obj:
        """Renew (or create) the Lease; raises APIStatusError when the server refuses twice."""
        for _ in range(2):
            if self.lease is None:
                try:
                    self.lease = await client.create(LEASES, node_lease(self.node, self.node_uid, self._now()),
                                                     NAMESPACE)
                    return self.lease
                except APIStatusError as e:
                    if e.code != 409:
                        raise
                    self.lease = await client.get(LEASES, self.node, NAMESPACE)
            try:
                self.lease = await client.update(LEASES, renewed(self.lease, self.node, self.node_uid, self._now()))
                return self.lease
            except APIStatusError as e:
                if e.code == 404:
                    self.lease = None
                elif e.code == 409:
                    self.lease = await client.get(LEASES, self.node, NAMESPACE)
                else:
                    raise
        raise APIStatusError(409, {"reason": "Conflict", "message": f"lease {self.node} changed twice while renewing"})
