"""Small builders for scheduler tests: pods, nodes, NodeInfos and a cache/framework over them."""

from __future__ import annotations

import itertools
import random
from typing import Any

from pybernetes.scheduler.cache import Cache, NodeInfo
from pybernetes.scheduler.framework import CycleState, StaticListers
from pybernetes.scheduler.plugins import IN_TREE, default_profile
from pybernetes.scheduler.podinfo import PodInfo
from pybernetes.scheduler.queue import Nominator
from pybernetes.scheduler.runtime import Framework, Handle, Profile

Obj = dict[str, Any]
_uids = itertools.count(1)


def pod(name: str = "p", *, ns: str = "default", cpu: str | None = None, mem: str | None = None,
        node: str = "", priority: int | None = None, labels: dict[str, str] | None = None,
        containers: list[Obj] | None = None, **spec: Any) -> Obj:
    """A pod with one container requesting ``cpu``/``mem`` (unless ``containers`` is given)."""
    if containers is None:
        reqs = {k: v for k, v in (("cpu", cpu), ("memory", mem)) if v is not None}
        containers = [{"name": "c", "image": "busybox", **({"resources": {"requests": reqs}} if reqs else {})}]
    s: Obj = {"containers": containers, "schedulerName": "default-scheduler", **spec}
    if node:
        s["nodeName"] = node
    if priority is not None:
        s["priority"] = priority
    meta: Obj = {"name": name, "namespace": ns, "uid": f"uid-{name}-{next(_uids)}", "resourceVersion": "1"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": s, "status": {"phase": "Pending"}}


def node(name: str = "n1", *, cpu: str = "4", mem: str = "32Gi", pods: str = "110",
         labels: dict[str, str] | None = None, taints: list[Obj] | None = None, unschedulable: bool = False,
         extra: dict[str, str] | None = None) -> Obj:
    alloc = {"cpu": cpu, "memory": mem, "pods": pods, **(extra or {})}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1",
                         "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec,
            "status": {"capacity": dict(alloc), "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def node_info(n: Obj | None = None, *pods: Obj, **kw: Any) -> NodeInfo:
    ni = NodeInfo(n if n is not None else node(**kw))
    for p in pods:
        ni.add_pod(PodInfo(p) if (p.get("spec") or {}).get("nodeName") else PodInfo(p).with_node(ni.name))
    return ni


def cache_with(nodes: list[Obj], pods: list[Obj] = ()) -> Cache:  # type: ignore[assignment]
    c = Cache()
    for n in nodes:
        c.add_node(n)
    for p in pods:
        c.add_pod(PodInfo(p))
    return c


def state_for(p: Obj) -> CycleState:
    return CycleState(PodInfo(p))


def framework(cache: Cache, *, profile: Profile | None = None, listers: StaticListers | None = None,
              nominator: Nominator | None = None, seed: int = 1, client: Any = None,
              recorder: Any = None) -> Framework:
    handle = Handle(snapshot=cache, listers=listers or StaticListers(), nominator=nominator,
                    rng=random.Random(seed), client=client, recorder=recorder)
    return Framework(profile or default_profile(), registry=IN_TREE, handle=handle)


class ListRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        self.events.append((obj["metadata"]["name"], type_, reason, message))

    def reasons(self, name: str) -> list[str]:
        return [r for n, _, r, _ in self.events if n == name]

    def messages(self, name: str, reason: str) -> list[str]:
        return [m for n, _, r, m in self.events if n == name and r == reason]
