"""The ServiceAccount controller: a ``default`` account in every active namespace, recreated when deleted."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import harness, status_error

from pybernetes.client.resources import NAMESPACES, SERVICEACCOUNTS
from pybernetes.controllers.serviceaccount import ServiceAccountController, accounts_to_create

Obj = dict[str, Any]


@pytest.mark.parametrize(("ns", "existing", "want"), [
    ({"metadata": {"name": "a"}, "status": {"phase": "Active"}}, set(), ["default"]),
    ({"metadata": {"name": "a"}}, set(), ["default"]),
    ({"metadata": {"name": "a"}, "status": {"phase": "Active"}}, {"default"}, []),
    ({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}, set(), []),
    ({"metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}}, set(), []),
    (None, set(), []),
])
def test_accounts_to_create(ns: Obj | None, existing: set[str], want: list[str]) -> None:
    assert accounts_to_create(ns, existing) == want


async def test_creates_default_account_and_recreates_it() -> None:
    async with harness() as h:
        await h.client.create(NAMESPACES, {"metadata": {"name": "team"}})
        c = ServiceAccountController(h.ctx)
        await h.start()
        assert "team" in c.queue._dirty
        await c.reconcile("team")
        await h.settle()
        sa = h.client.peek(SERVICEACCOUNTS, "default", "team")
        assert sa is not None and sa["metadata"]["namespace"] == "team"
        h.client.clear_actions()
        await c.reconcile("team")                     # already there: nothing to do
        assert h.client.count("create", "serviceaccounts") == 0
        await h.client.delete(SERVICEACCOUNTS, "default", "team")
        await h.settle()
        assert "team" in c.queue._dirty, "deleting the account enqueues its namespace"
        await c.reconcile("team")
        assert h.client.peek(SERVICEACCOUNTS, "default", "team") is not None


async def test_other_accounts_deleted_do_not_matter() -> None:
    async with harness() as h:
        await h.client.create(NAMESPACES, {"metadata": {"name": "team"}})
        await h.client.create(SERVICEACCOUNTS, {"metadata": {"name": "bot", "namespace": "team"}}, "team")
        c = ServiceAccountController(h.ctx)
        await h.start()
        await c.reconcile("team")
        await h.settle()
        c.queue._dirty.clear()
        await h.client.delete(SERVICEACCOUNTS, "bot", "team")
        await h.settle()
        assert "team" not in c.queue._dirty


async def test_terminating_namespace_and_races_are_not_errors() -> None:
    async with harness() as h:
        await h.client.create(NAMESPACES, {"metadata": {"name": "team"}})
        c = ServiceAccountController(h.ctx)
        await h.start()
        h.client.fail("create", "serviceaccounts", status_error(409, "AlreadyExists", "exists"), times=1)
        await c.reconcile("team")
        h.client.fail("create", "serviceaccounts", status_error(
            403, "Forbidden", "being terminated", details={"causes": [{"reason": "NamespaceTerminating"}]}), times=1)
        await c.reconcile("team")
        h.client.fail("create", "serviceaccounts", status_error(500, "InternalError", "boom"), times=1)
        with pytest.raises(Exception, match="boom"):
            await c.reconcile("team")
