"""Pod facts controllers rely on: activeness, readiness, availability, deletion order, templates, slow start."""

from __future__ import annotations

import datetime
import functools
from typing import Any

import pytest

from pybernetes.controllers.pods import (
    compare_for_deletion,
    deletion_cost,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    pod_from_template,
    pods_to_delete,
    slow_start_batch,
)

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
Obj = dict[str, Any]


def ts(seconds_ago: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready: bool | None = True, ready_ago: float = 100,
        created_ago: float = 1000, restarts: int = 0, cost: str | None = None, deleting: bool = False,
        uid: str | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": uid or f"uid-{name}", "creationTimestamp": ts(created_ago)}
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": cost}
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    status: Obj = {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                 "lastTransitionTime": ts(ready_ago)}]
    return {"metadata": meta, "spec": {"nodeName": node}, "status": status}


@pytest.mark.parametrize(("p", "active"), [
    (pod("a"), True),
    (pod("a", phase="Pending"), True),
    (pod("a", phase="Succeeded"), False),
    (pod("a", phase="Failed"), False),
    (pod("a", deleting=True), False),
])
def test_is_pod_active(p: Obj, active: bool) -> None:
    assert is_pod_active(p) is active


@pytest.mark.parametrize(("p", "min_ready", "available"), [
    (pod("a"), 0, True),
    (pod("a", ready=False), 0, False),
    (pod("a", ready=None), 0, False),
    (pod("a", ready_ago=100), 99, True),
    (pod("a", ready_ago=100), 100, False),      # strictly after the deadline, as upstream's Before(now)
    (pod("a", ready_ago=5), 10, False),
])
def test_is_pod_available(p: Obj, min_ready: int, available: bool) -> None:
    assert is_pod_available(p, min_ready, NOW) is available
    assert is_pod_ready(p) is (p["status"].get("conditions", [{}])[0].get("status") == "True")


@pytest.mark.parametrize(("value", "cost"), [(None, 0), ("5", 5), ("-3", -3), ("x", 0), ("99999999999", 0)])
def test_deletion_cost(value: str | None, cost: int) -> None:
    assert deletion_cost(pod("a", cost=value)) == cost


# (first, second): the first must be deleted before the second, whatever the input order.
ORDER = [
    ("unscheduled before scheduled", pod("a", node=""), pod("b")),
    ("pending before running", pod("a", phase="Pending"), pod("b")),
    ("unknown before running", pod("a", phase="Unknown"), pod("b")),
    ("pending before unknown", pod("a", phase="Pending"), pod("b", phase="Unknown")),
    ("not ready before ready", pod("a", ready=False), pod("b")),
    ("lower deletion cost first", pod("a", cost="1"), pod("b", cost="10")),
    ("ready recently before ready long ago", pod("a", ready_ago=10), pod("b", ready_ago=100_000)),
    ("more restarts first", pod("a", restarts=5), pod("b", restarts=1)),
    ("younger before older", pod("a", created_ago=10), pod("b", created_ago=100_000)),
    ("same log-age: uid decides", pod("a", created_ago=1000, uid="1"), pod("b", created_ago=1001, uid="2")),
]


@pytest.mark.parametrize(("why", "first", "second"), ORDER, ids=[o[0] for o in ORDER])
def test_deletion_order(why: str, first: Obj, second: Obj) -> None:
    assert compare_for_deletion((first, 0), (second, 0), NOW) < 0
    assert compare_for_deletion((second, 0), (first, 0), NOW) > 0


def test_doubled_up_pods_go_first() -> None:
    assert compare_for_deletion((pod("a"), 3), (pod("b"), 1), NOW) < 0


def test_pods_to_delete_ranks_by_colocated_related_pods() -> None:
    a, b, c = pod("a", node="n1"), pod("b", node="n2"), pod("c", node="n2")
    related = [a, b, c, pod("x", node="n2")]           # n2 runs three related pods
    chosen = pods_to_delete([a, b, c], related, 1, NOW)
    assert chosen[0]["metadata"]["name"] in ("b", "c")
    assert pods_to_delete([a, b], related, 5, NOW) == [a, b]


def test_sorted_order_is_a_total_order() -> None:
    pods = [o[1] for o in ORDER] + [o[2] for o in ORDER]
    ranked = sorted(((p, 0) for p in pods), key=functools.cmp_to_key(lambda x, y: compare_for_deletion(x, y, NOW)))
    assert ranked[0][0]["spec"]["nodeName"] == ""


def test_pod_from_template() -> None:
    parent = {"metadata": {"name": "web", "namespace": "ns", "uid": "u"}}
    tmpl = {"metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}, "finalizers": ["f/x"]},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u", "controller": True,
           "blockOwnerDeletion": True}
    p = pod_from_template(tmpl, parent, ref)
    assert p["metadata"] == {"generateName": "web-", "namespace": "ns", "labels": {"app": "web"},
                             "annotations": {"a": "b"}, "finalizers": ["f/x"], "ownerReferences": [ref]}
    assert p["spec"] == tmpl["spec"] and p["kind"] == "Pod"


@pytest.mark.parametrize(("count", "fail_at", "batches", "successes"), [
    (0, None, [], 0),
    (1, None, [1], 1),
    (10, None, [1, 2, 4, 3], 10),
    (10, 0, [1], 0),               # the very first create fails: one request, not ten
    (10, 2, [1, 2], 2),            # the second batch has a failure: stop after it
])
async def test_slow_start_batch(count: int, fail_at: int | None, batches: list[int], successes: int) -> None:
    calls: list[int] = []
    seen: list[int] = []

    async def fn() -> None:
        n = len(calls)
        calls.append(n)
        if fail_at is not None and n == fail_at:
            raise RuntimeError("quota")

    done, err = await slow_start_batch(count, 1, fn)
    # Reconstruct batch sizes from the number of calls: 1, 2, 4, ... capped by what remains.
    size, left = 1, count
    while left > 0 and sum(seen) < len(calls):
        seen.append(min(size, left))
        left -= seen[-1]
        size *= 2
    assert seen == batches
    assert done == successes
    assert (err is None) is (fail_at is None)
