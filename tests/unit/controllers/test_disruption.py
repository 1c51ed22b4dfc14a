"""The disruption controller: PDB status from selected pods and their controllers' scale."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import DEPLOYMENTS, PDBS, PODS, REPLICASETS, STATEFULSETS
from pybernetes.controllers import disruption as d
from pybernetes.controllers.disruption import DisruptionController

Obj = dict[str, Any]
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}


def pdb(name: str = "web", **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


async def add_pod(h: Harness, name: str, *, ready: bool = True, owner: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "labels": {"app": "web"}}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                    "controller": True}]
    await h.client.create(PODS, {"metadata": meta, "spec": {"containers": [{"name": "c", "image": "x"}],
                                                            "nodeName": "n1"}}, "ns")
    p = await h.client.get(PODS, name, "ns")
    p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return await h.client.update(PODS, p, subresource="status")


async def started(h: Harness) -> DisruptionController:
    c = DisruptionController(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: DisruptionController, key: str = "ns/web") -> float | None:
    await h.settle()
    out = await c.reconcile(key)
    await h.settle()
    return out


def status(h: Harness, name: str = "web") -> Obj:
    got = h.client.peek(PDBS, name, "ns")
    assert got is not None
    return got["status"]  # type: ignore[no-any-return]


def numbers(st: Obj) -> tuple[int, int, int, int]:
    return st["currentHealthy"], st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]


async def test_integer_min_available_counts_existing_pods() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PDBS, pdb(minAvailable=2), "ns")
        for n in ("a", "b", "c"):
            await add_pod(h, n)
        await add_pod(h, "d", ready=False)
        await sync(h, c)
        st = status(h)
        assert numbers(st) == (3, 2, 4, 1)
        assert st["observedGeneration"] == 1
        (cond,) = st["conditions"]
        assert {k: cond[k] for k in ("type", "status", "reason", "message", "observedGeneration")} == {
            "type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "",
            "observedGeneration": 1}


async def test_max_unavailable_uses_the_deployments_scale() -> None:
    async with harness() as h:
        c = await started(h)
        dep = await h.client.create(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": "ns"}, "spec": {
            "replicas": 4, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}}, "ns")
        rs = await h.client.create(REPLICASETS, {"metadata": {"name": "web-1", "namespace": "ns", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": dep["metadata"]["uid"],
             "controller": True}]}, "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                                            "template": TEMPLATE}}, "ns")
        for n in ("a", "b", "c"):
            await add_pod(h, n, owner=rs)
        await h.client.create(PDBS, pdb(maxUnavailable="50%"), "ns")
        await sync(h, c)
        assert numbers(status(h)) == (3, 2, 4, 1)


async def test_percentage_min_available_rounds_up_over_statefulset_replicas() -> None:
    async with harness() as h:
        c = await started(h)
        ss = await h.client.create(STATEFULSETS, {"metadata": {"name": "db", "namespace": "ns"}, "spec": {
            "replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}},
                                   "ns")
        for n in ("db-0", "db-1", "db-2"):
            await add_pod(h, n, owner=ss)
        await h.client.create(PDBS, pdb(minAvailable="50%"), "ns")
        await sync(h, c)
        assert numbers(status(h)) == (3, 2, 3, 1)


async def test_missing_controller_fails_safe() -> None:
    async with harness() as h:
        c = await started(h)
        ghost = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "gone", "uid": "x"}}
        await add_pod(h, "a", owner=ghost)
        await h.client.create(PDBS, pdb(maxUnavailable=1), "ns")
        with pytest.raises(d.ExpectedCountError):
            await sync(h, c)
        await h.settle()
        st = status(h)
        assert st["disruptionsAllowed"] == 0
        assert (st["conditions"][0]["status"], st["conditions"][0]["reason"]) == ("False", "SyncFailed")
        assert h.recorder.messages("CalculateExpectedPodCountFailed")


async def test_no_pods_allows_nothing_and_says_so() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PDBS, pdb(maxUnavailable=1), "ns")
        await sync(h, c)
        st = status(h)
        assert numbers(st) == (0, 0, 0, 0)
        assert st["conditions"][0]["reason"] == "InsufficientPods"
        assert h.recorder.messages("NoPods") == ["No matching pods found"]


async def test_disrupted_pods_are_not_healthy_until_they_expire() -> None:
    async with harness() as h:
        c = await started(h)
        for n in ("a", "b", "c"):
            await add_pod(h, n)
        await h.client.create(PDBS, pdb(minAvailable=2), "ns")
        await sync(h, c)
        cur = await h.client.get(PDBS, "web", "ns")
        cur["status"]["disruptedPods"] = {"a": h.client._now()}
        cur["status"]["disruptionsAllowed"] = 0
        await h.client.update(PDBS, cur, subresource="status")
        after = await sync(h, c)
        assert after == pytest.approx(d.DELETION_TIMEOUT)
        assert numbers(status(h)) == (2, 2, 3, 0)
        assert status(h)["disruptedPods"] == {"a": cur["status"]["disruptedPods"]["a"]}
        h.clock.advance(d.DELETION_TIMEOUT + 1)
        await sync(h, c)
        assert numbers(status(h)) == (3, 2, 3, 1)
        assert "disruptedPods" not in status(h)
        assert h.recorder.messages("NotDeleted")


async def test_pod_changes_enqueue_matching_pdbs_and_no_write_when_unchanged() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PDBS, pdb(minAvailable=1), "ns")
        await h.client.create(PDBS, pdb("other", selector={"matchLabels": {"app": "db"}}), "ns")
        await sync(h, c)
        c.queue._dirty.clear()
        await add_pod(h, "a")
        await h.settle()
        assert c.queue._dirty == {"ns/web"}
        await sync(h, c)
        h.client.clear_actions()
        await sync(h, c)
        assert h.client.count("update", "poddisruptionbudgets.policy", subresource="status") == 0


@pytest.mark.parametrize(("value", "total", "up", "want"), [
    (2, 10, True, 2), ("50%", 5, True, 3), ("50%", 5, False, 2), ("10%", 0, True, 0), ("100%", 3, True, 3),
])
def test_scaled_value(value: Any, total: int, up: bool, want: int) -> None:
    assert d.scaled_value(value, total, round_up=up) == want


def test_condition_transition_time_moves_only_on_status_change() -> None:
    old = [{"type": "DisruptionAllowed", "status": "True", "observedGeneration": 1,
            "lastTransitionTime": "2025-01-01T00:00:00Z", "reason": "SufficientPods", "message": ""}]
    want = {"type": "DisruptionAllowed", "status": "True", "observedGeneration": 2, "reason": "SufficientPods",
            "message": ""}
    (c,) = d.set_condition(old, want, "2026-01-01T00:00:00Z")
    assert c["lastTransitionTime"] == "2025-01-01T00:00:00Z" and c["observedGeneration"] == 2
    (c,) = d.set_condition(old, {**want, "status": "False", "reason": "InsufficientPods"}, "2026-01-01T00:00:00Z")
    assert c["lastTransitionTime"] == "2026-01-01T00:00:00Z"


def test_disrupted_pods_skips_terminating_and_unparsable() -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    pods = [{"metadata": {"name": "a", "deletionTimestamp": "x"}}, {"metadata": {"name": "b"}},
            {"metadata": {"name": "c"}}]
    p = {"status": {"disruptedPods": {"a": "2026-01-01T00:00:00Z", "b": "garbage", "c": "2026-01-01T00:00:00Z"}}}
    kept, recheck, overdue = d.disrupted_pods(p, pods, now)
    assert kept == {"c": "2026-01-01T00:00:00Z"} and not overdue
    assert recheck == now + datetime.timedelta(seconds=d.DELETION_TIMEOUT)
