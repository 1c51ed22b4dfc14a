"""Node IPAM: /24s from the cluster CIDR, rebuilt from existing nodes, round robin, released on delete."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness, status_error

from pybernetes.client.resources import NODES
from pybernetes.controllers.nodeipam import CIDRRangeFull, CIDRSet, NodeIPAMController, build_sets

Obj = dict[str, Any]


def test_cidrset_round_robin_and_release() -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    assert s.size == 256
    assert [s.allocate_next() for _ in range(3)] == ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"]
    s.release("10.42.1.0/24")
    assert s.allocate_next() == "10.42.3.0/24", "a released CIDR is not reused at once"
    assert s.occupy("10.42.4.0/24")
    assert s.allocate_next() == "10.42.5.0/24"


@pytest.mark.parametrize("cidr", ["10.43.0.0/24", "10.42.0.0/25", "fd00::/64", "garbage"])
def test_cidrset_ignores_foreign_cidrs(cidr: str) -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    assert not s.occupy(cidr)
    assert not s.used


def test_cidrset_full() -> None:
    s = CIDRSet("10.42.0.0/23", 24)
    s.allocate_next()
    s.allocate_next()
    with pytest.raises(CIDRRangeFull):
        s.allocate_next()


@pytest.mark.parametrize(("cidr", "mask"), [("10.42.0.0/16", 8), ("10.0.0.0/8", 25)])
def test_cidrset_rejects_bad_masks(cidr: str, mask: int) -> None:
    with pytest.raises(ValueError):
        CIDRSet(cidr, mask)


def test_dual_stack_sets() -> None:
    sets = build_sets("10.42.0.0/16, fd00:10:42::/56", mask_v4=24, mask_v6=64)
    assert [(s.family, s.mask) for s in sets] == [(4, 24), (6, 64)]
    assert sets[1].allocate_next() == "fd00:10:42::/64"


async def started(h: Harness, **options: Any) -> NodeIPAMController:
    h.ctx.options.update(options)
    c = NodeIPAMController(h.ctx)
    await h.start()
    return c


async def test_allocates_and_rebuilds_from_existing_nodes() -> None:
    async with harness() as h:
        await h.client.create(NODES, {"metadata": {"name": "old"}, "spec": {"podCIDR": "10.42.0.0/24",
                                                                          "podCIDRs": ["10.42.0.0/24"]}})
        await h.client.create(NODES, {"metadata": {"name": "new"}})
        c = await started(h)
        assert set(c.queue._dirty) == {"new"}, "nodes with a CIDR need nothing"
        await c.reconcile("new")
        await h.settle()
        spec = h.client.peek(NODES, "new")["spec"]               # type: ignore[index]
        assert (spec["podCIDR"], spec["podCIDRs"]) == ("10.42.1.0/24", ["10.42.1.0/24"])
        assert not c.pending


async def test_released_on_delete_and_reused_after_a_round() -> None:
    async with harness() as h:
        c = await started(h, cluster_cidr="10.42.0.0/23")
        for n in ("a", "b"):
            await h.client.create(NODES, {"metadata": {"name": n}})
            await h.settle()
            await c.reconcile(n)
            await h.settle()
        await h.client.create(NODES, {"metadata": {"name": "c"}})
        await h.settle()
        with pytest.raises(CIDRRangeFull):
            await c.reconcile("c")
        assert [e.reason for e in h.recorder.events] == ["CIDRNotAvailable"]
        await h.client.delete(NODES, "a")
        await h.settle()
        await c.reconcile("c")
        await h.settle()
        assert h.client.peek(NODES, "c")["spec"]["podCIDR"] == "10.42.0.0/24"   # type: ignore[index]


async def test_failed_write_releases_the_cidr() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(NODES, {"metadata": {"name": "a"}})
        await h.settle()
        h.client.fail("patch", "nodes", status_error(500, "InternalError", "boom"), times=1)
        with pytest.raises(Exception, match="boom"):
            await c.reconcile("a")
        assert not c.pending and not c.sets[0].used
        assert h.recorder.messages("CIDRAssignmentFailed") == ["Node a status is now: CIDRAssignmentFailed"]
        await c.reconcile("a")
        await h.settle()
        assert h.client.peek(NODES, "a")["spec"]["podCIDR"] == "10.42.1.0/24", "round robin moved on"  # type: ignore
