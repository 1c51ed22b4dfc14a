"""The objects the API benchmark writes: small, realistic ConfigMaps and Pods (scheduler_perf's pod shape).

The bench stamps each write with the sender's monotonic clock in an annotation so a watcher in another
process can compute delivery latency (CLOCK_MONOTONIC is one clock for the whole machine on Linux).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
STAMP = "bench.pybernetes.io/sent"
KINDS = ("configmaps", "pods")


def path(kind: str, namespace: str, name: str = "", *, query: str = "") -> str:
    """The URL path of a ConfigMap/Pod collection (or of one object when ``name`` is given)."""
    p = f"/api/v1/namespaces/{namespace}/{kind}"
    if name:
        p += f"/{name}"
    return p + (f"?{query}" if query else "")


def make(kind: str, namespace: str, name: str, *, seq: int = 0, stamp: float | None = None) -> Obj:
    """A fresh object to create; ``seq`` varies its content, ``stamp`` marks the send time."""
    meta: Obj = {"name": name, "namespace": namespace, "labels": {"app": "bench", "tier": f"t{seq % 4}"}}
    if stamp is not None:
        meta["annotations"] = {STAMP: repr(stamp)}
    if kind == "configmaps":
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                "data": {"config.yaml": f"replicas: {seq}\nmode: benchmark\n" + "x" * 200}}
    if kind == "pods":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                         "ports": [{"containerPort": 8080}],
                                         "resources": {"requests": {"cpu": "100m", "memory": "500Mi"},
                                                       "limits": {"cpu": "100m", "memory": "500Mi"}}}]}}
    raise ValueError(f"unknown kind {kind!r}")


def changed(obj: Obj, *, seq: int, stamp: float | None = None) -> Obj:
    """``obj`` (as last read) with a change an update may make to either kind: an annotation, and for a
    ConfigMap its data. Keeps ``metadata.resourceVersion``, so the update is a compare-and-swap."""
    meta = obj["metadata"]
    annotations = dict(meta.get("annotations") or {})
    annotations["bench.pybernetes.io/seq"] = str(seq)
    if stamp is not None:
        annotations[STAMP] = repr(stamp)
    out = {**obj, "metadata": {**meta, "annotations": annotations}}
    if obj.get("kind") == "ConfigMap":
        out["data"] = {"config.yaml": f"replicas: {seq}\nmode: benchmark\n" + "y" * 200}
    return out


def stamp_of(obj: Obj) -> float | None:
    """The send time stamped in an object, if any."""
    v = (obj.get("metadata", {}).get("annotations") or {}).get(STAMP)
    return float(v) if v is not None else None
