"""The status manager: coalesced strategic-merge status writes, retries, and the final delete."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator

import pytest
from tests.unit.kubelet.fakes import FakeAPI, status_error

from pybernetes.client.clock import FakeClock
from pybernetes.client.resources import PODS
from pybernetes.kubelet.status import StatusManager


def pod(phase: str = "Pending") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": phase}}


@pytest.fixture
async def setup() -> AsyncIterator[tuple[FakeAPI, StatusManager, dict, FakeClock]]:
    api, clock = FakeAPI(), FakeClock()
    stored = api.put(PODS, pod())
    sm = StatusManager(api, clock=clock, workers=4)     # type: ignore[arg-type]
    task = asyncio.create_task(sm.run())
    yield api, sm, stored, clock
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def spin() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_coalesces_and_skips_unchanged(setup: tuple) -> None:
    api, sm, stored, _ = setup
    for i in range(5):
        sm.set_pod_status(stored, {"phase": "Running", "message": f"m{i}"})
    await spin()
    await sm.idle()
    assert api.count("patch", "pods", "status") == 1
    assert api.stored(PODS, "p", "ns")["status"] == {"phase": "Running", "message": "m4"}
    body = api.bodies[-1]
    assert body == {"metadata": {"uid": stored["metadata"]["uid"]}, "status": {"phase": "Running", "message": "m4"}}
    sm.set_pod_status(stored, {"phase": "Running", "message": "m4"})
    await spin()
    assert api.count("patch", "pods", "status") == 1
    sm.set_pod_status(stored, {"phase": "Running"})
    await spin()
    assert api.bodies[-1]["status"] == {"message": None}
    assert api.stored(PODS, "p", "ns")["status"] == {"phase": "Running"}
    assert sm.get(stored["metadata"]["uid"]) == {"phase": "Running"}


async def test_retries_server_errors_and_drops_gone_pods(setup: tuple) -> None:
    api, sm, stored, clock = setup
    api.fail[("patch", "pods")] = [status_error(500, "InternalError"), status_error(429, "TooManyRequests")]
    sm.set_pod_status(stored, {"phase": "Running"})
    for _ in range(20):
        clock.advance(0.5)
        await spin()
    assert api.stored(PODS, "p", "ns")["status"] == {"phase": "Running"}
    assert api.count("patch", "pods", "status") == 3
    del api.objects[("pods", "ns", "p")]
    sm.set_pod_status(stored, {"phase": "Succeeded"})
    await spin()
    assert len(sm) == 0


async def test_terminated_pod_is_deleted_after_its_final_status(setup: tuple) -> None:
    api, sm, stored, _ = setup
    deleting = copy.deepcopy(stored)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    sm.set_pod_status(deleting, {"phase": "Running"})
    await spin()
    assert api.stored(PODS, "p", "ns") is not None          # not terminated yet: no delete
    sm.set_pod_status(deleting, {"phase": "Succeeded"}, terminated=True)
    await spin()
    assert [c[0] for c in api.calls] == ["patch", "patch", "delete"]
    assert api.bodies[-1] == {"gracePeriodSeconds": 0, "preconditions": {"uid": stored["metadata"]["uid"]}}
    assert api.stored(PODS, "p", "ns") is None


async def test_invalid_status_is_not_retried_forever(setup: tuple) -> None:
    api, sm, stored, clock = setup
    api.fail[("patch", "pods")] = [status_error(422, "Invalid", "status.podIPs: Invalid value")]
    sm.set_pod_status(stored, {"phase": "Running"})
    for _ in range(10):
        clock.advance(1)
        await spin()
    assert api.count("patch", "pods", "status") == 1
