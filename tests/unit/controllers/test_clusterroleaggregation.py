"""The ClusterRole aggregation controller: the union of the selected roles' rules, written by server-side apply."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import FakeClient, harness

from pybernetes.client.resources import CLUSTERROLES, ResourceRef
from pybernetes.controllers.clusterroleaggregation import (
    FIELD_MANAGER,
    ClusterRoleAggregationController,
    aggregate_rules,
)

Obj = dict[str, Any]
R1 = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
R2 = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}
R3 = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}


class ApplyingFake(FakeClient):
    """The fake with the one server-side apply this controller sends: force-owning a ClusterRole's rules."""

    async def patch(self, res: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, **params: Any) -> Obj:
        if patch_type != "apply":
            return await super().patch(res, name, patch, namespace, patch_type=patch_type, subresource=subresource,
                                       **params)
        r = self._resource(res)
        self._record("apply", r, "", name, "", (params, copy.deepcopy(patch)))
        cur = copy.deepcopy(self._current(r, "", name))
        cur["rules"] = patch["rules"]
        return self._update(r, "", name, cur, "")


def role(name: str, rules: list[Obj] | None = None, labels: dict | None = None, selectors: list | None = None) -> Obj:
    r: Obj = {"metadata": {"name": name, "labels": labels or {}}, "rules": rules or []}
    if selectors is not None:
        r["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return r


def test_union_in_selector_then_name_order_without_duplicates_or_self() -> None:
    agg = role("agg", [R3], {"x": "1"}, selectors=[{"matchLabels": {"x": "1"}}, {"matchLabels": {"y": "1"}}])
    roles = [agg, role("b", [R2, R1], {"x": "1"}), role("a", [R1], {"x": "1"}), role("c", [R3, R2], {"y": "1"}),
             role("d", [R3], {"z": "1"})]
    assert aggregate_rules(agg, roles) == [R1, R2, R3]


def test_invalid_selector_raises() -> None:
    agg = role("agg", selectors=[{"matchExpressions": [{"key": "x", "operator": "Bogus"}]}])
    with pytest.raises(ValueError):
        aggregate_rules(agg, [agg])


async def test_aggregates_by_apply_and_follows_changes() -> None:
    async with harness(client=ApplyingFake()) as h:
        await h.client.create(CLUSTERROLES, role("monitoring", selectors=[{"matchLabels": {"agg": "mon"}}]))
        await h.client.create(CLUSTERROLES, role("pods", [R1], {"agg": "mon"}))
        c = ClusterRoleAggregationController(h.ctx)
        await h.start()
        await c.reconcile("monitoring")
        await h.settle()
        assert h.client.peek(CLUSTERROLES, "monitoring")["rules"] == [R1]          # type: ignore[index]
        (act,) = [a for a in h.client.actions if a.verb == "apply"]
        assert act.body[0] == {"field_manager": FIELD_MANAGER, "force": True}
        assert act.body[1] == {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                               "metadata": {"name": "monitoring"}, "rules": [R1]}
        c.queue._dirty.clear()
        await h.client.create(CLUSTERROLES, role("deploys", [R2], {"agg": "mon"}))
        await h.settle()
        assert "monitoring" in c.queue._dirty, "any ClusterRole change re-syncs the aggregates"
        await c.reconcile("monitoring")
        await h.settle()
        assert h.client.peek(CLUSTERROLES, "monitoring")["rules"] == [R2, R1]     # type: ignore[index]
        h.client.clear_actions()
        await c.reconcile("monitoring")
        assert not [a for a in h.client.actions if a.verb == "apply"], "no write when up to date"
        await h.client.delete(CLUSTERROLES, "pods")
        await h.settle()
        await c.reconcile("monitoring")
        assert h.client.peek(CLUSTERROLES, "monitoring")["rules"] == [R2]         # type: ignore[index]


async def test_roles_without_aggregation_are_ignored() -> None:
    async with harness(client=ApplyingFake()) as h:
        await h.client.create(CLUSTERROLES, role("plain", [R1]))
        c = ClusterRoleAggregationController(h.ctx)
        await h.start()
        assert "plain" not in c.queue._dirty
        await c.reconcile("plain")
        assert h.client.peek(CLUSTERROLES, "plain")["rules"] == [R1]              # type: ignore[index]
