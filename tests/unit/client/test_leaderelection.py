"""Leader election on a coordination.k8s.io Lease with a fake API and a fake clock: one of two candidates leads,
the other takes over once the lease expires, a leader that cannot renew steps down, and acquiring follows
client-go's record keeping (acquireTime, leaseTransitions)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.unit.controllers.fakeclient import FakeClient, status_error

from pybernetes.api.meta import parse_time
from pybernetes.client.clock import FakeClock
from pybernetes.client.leaderelection import LeaderElector
from pybernetes.client.resources import LEASES


async def spin(n: int = 10) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


class Leading:
    """A lead() callback that records when it runs and waits until cancelled."""

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = 0

    async def __call__(self) -> None:
        self.started += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def elector(fake: FakeClient, identity: str, **kw: Any) -> LeaderElector:
    return LeaderElector(fake, name="kube-scheduler", identity=identity, clock=fake.clock, **kw)  # type: ignore[arg-type]


def lease(fake: FakeClient) -> dict[str, Any]:
    obj = fake.peek(LEASES, "kube-scheduler", "kube-system")
    assert obj is not None
    return obj["spec"]


async def advance(clock: FakeClock, seconds: float, step: float = 1.0) -> None:
    t = 0.0
    while t < seconds:
        clock.advance(step)
        t += step
        await spin()


async def test_one_of_two_leads_and_the_other_takes_over_after_expiry() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    a, b = elector(fake, "a"), elector(fake, "b")
    lead_a, lead_b = Leading(), Leading()
    task_a = asyncio.ensure_future(a.run(lead_a))
    await spin()
    task_b = asyncio.ensure_future(b.run(lead_b))
    await spin()
    assert (a.is_leader, b.is_leader, lead_a.started, lead_b.started) == (True, False, 1, 0)
    spec = lease(fake)
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("a", 15, 0)
    acquired = spec["acquireTime"]
    # a renews every retry period; b keeps trying and keeps failing
    await advance(clock, 30)
    assert (a.is_leader, b.is_leader) == (True, False)
    spec = lease(fake)
    assert spec["holderIdentity"] == "a" and spec["acquireTime"] == acquired
    assert parse_time(spec["renewTime"]) > parse_time(acquired)
    # a dies (stops renewing, no release): b must wait out the lease, then take it
    task_a.cancel()
    await spin()
    assert lead_a.cancelled == 1 and not a.is_leader
    died = clock.now()
    await advance(clock, 12)
    assert not b.is_leader                           # 15 s lease not yet expired
    await advance(clock, 6)
    assert b.is_leader and lead_b.started == 1
    spec = lease(fake)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    assert parse_time(spec["acquireTime"]) >= died
    task_b.cancel()
    await spin()
    assert lead_b.cancelled == 1


async def test_a_leader_that_cannot_renew_steps_down() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    a = elector(fake, "a", renew_deadline=10, retry_period=2)
    lead = Leading()
    task = asyncio.ensure_future(a.run(lead))
    await spin()
    assert a.is_leader
    fake.fail("update", "leases", status_error(500, "InternalError", "etcd is down"))
    await advance(clock, 9)
    assert a.is_leader and not task.done()          # still within the renew deadline
    await advance(clock, 4)
    assert task.done() and task.exception() is None  # run() returns: the caller decides what to do
    assert not a.is_leader and lead.cancelled == 1


async def test_losing_the_lease_to_another_holder_steps_down_after_the_deadline() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    a = elector(fake, "a", renew_deadline=10, retry_period=2)
    lead = Leading()
    task = asyncio.ensure_future(a.run(lead))
    await spin()
    obj = fake.peek(LEASES, "kube-scheduler", "kube-system")
    assert obj is not None
    obj["spec"]["holderIdentity"] = "usurper"       # someone overwrote the lease (and keeps it fresh)
    obj["spec"]["renewTime"] = obj["spec"]["renewTime"].replace("2026", "2030")
    await fake.update(LEASES, obj)
    await advance(clock, 12)
    assert task.done() and not a.is_leader and lead.cancelled == 1


async def test_when_lead_returns_leadership_ends() -> None:
    fake = FakeClient()
    a = elector(fake, "a")
    ran: list[bool] = []

    async def lead() -> None:
        ran.append(True)

    task = asyncio.ensure_future(a.run(lead))
    await spin()
    fake.clock.advance(2)
    await spin()
    assert ran == [True] and task.done() and not a.is_leader


async def test_try_acquire_or_renew_records() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    a, b = elector(fake, "a"), elector(fake, "b")
    assert await a.try_acquire_or_renew()
    first = lease(fake)
    clock.advance(5)
    assert await a.try_acquire_or_renew()            # renew: same acquireTime and transitions, new renewTime
    renewed = lease(fake)
    assert (renewed["acquireTime"], renewed["leaseTransitions"]) == (first["acquireTime"], 0)
    assert renewed["renewTime"] != first["renewTime"]
    assert not await b.try_acquire_or_renew()
    # a released lease (empty holder) is taken at once, counting a transition
    obj = fake.peek(LEASES, "kube-scheduler", "kube-system")
    assert obj is not None
    obj["spec"]["holderIdentity"] = ""
    await fake.update(LEASES, obj)
    assert await b.try_acquire_or_renew()
    assert (lease(fake)["holderIdentity"], lease(fake)["leaseTransitions"]) == ("b", 1)


async def test_a_lost_race_to_create_is_not_leading() -> None:
    fake = FakeClient()
    a = elector(fake, "a")
    fake.fail("create", "leases", status_error(409, "AlreadyExists", "leases.coordination.k8s.io exists"),
              times=1)
    assert not await a.try_acquire_or_renew()
