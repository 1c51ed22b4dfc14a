"""The ClusterRole aggregation controller: a ClusterRole with an ``aggregationRule`` holds the union of the rules
of the ClusterRoles its selectors match.

As upstream's ``pkg/controller/clusterroleaggregation``: any ClusterRole change may change any aggregate, so every
change enqueues every aggregating role; the union keeps the first occurrence of each rule, walking selectors in
order and the matched roles by name (so the result is stable), and skips the aggregate itself. The rules are
written by server-side apply as field manager ``clusterrole-aggregation-controller`` with force, so the
controller owns ``rules`` and a user's edit of them is undone.
"""

from __future__ import annotations

import logging
from typing import Any

from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.client.resources import CLUSTERROLES
from pybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]

FIELD_MANAGER = "clusterrole-aggregation-controller"


def aggregate_rules(role: Obj, roles: list[Obj]) -> list[Obj]:
    """The union of the rules of every role (other than ``role``) matched by its aggregation selectors.

    Raises ``ValueError`` for an invalid selector, as upstream returns the parse error (the sync is retried).
    """
    name = (role.get("metadata") or {}).get("name")
    rules: list[Obj] = []
    by_name = sorted(roles, key=lambda r: (r.get("metadata") or {}).get("name", ""))
    for sel in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or ():
        selector = label_selector_from_dict(sel)
        for other in by_name:
            meta = other.get("metadata") or {}
            if meta.get("name") == name or not selector.matches(meta.get("labels") or {}):
                continue
            for rule in other.get("rules") or ():
                if rule not in rules:
                    rules.append(rule)
    return rules


def _semantic_rules(rules: list[Obj] | None) -> list[Obj]:
    """Rules compared as upstream's semantic equality does: absent and empty lists are the same."""
    return [{k: v for k, v in r.items() if v not in (None, [], "")} for r in rules or ()]


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"
    workers = 1

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.roles = ctx.informers.informer(CLUSTERROLES)
        self.roles.add_handler(self._on_change, lambda _o, _n: self._on_change(_n), self._on_change)

    def _on_change(self, _role: Obj) -> None:
        for r in self.roles.list():
            if r.get("aggregationRule") is not None:
                self.enqueue((r.get("metadata") or {}).get("name", ""))

    async def reconcile(self, key: str) -> float | None:
        role = self.roles.get(key)
        if role is None or role.get("aggregationRule") is None:
            return None
        rules = aggregate_rules(role, self.roles.list())
        if _semantic_rules(rules) == _semantic_rules(role.get("rules")):
            return None
        body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": key},
                "rules": rules}
        await self.client.patch(CLUSTERROLES, key, body, patch_type="apply", field_manager=FIELD_MANAGER,
                                force=True)
        return None
