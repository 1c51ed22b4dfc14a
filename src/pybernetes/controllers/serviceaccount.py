"""The ServiceAccount controller: every active namespace has a ``default`` ServiceAccount.

As upstream's ``pkg/controller/serviceaccount/serviceaccounts_controller.go``: the work key is the namespace; a
namespace appearing (or changing) and a ServiceAccount being deleted both enqueue it, so ``kubectl delete sa
default`` is undone at once. Terminating namespaces are left alone (the namespace controller is emptying them),
and losing a create race (AlreadyExists) or meeting a namespace that just began terminating is not an error.
"""

from __future__ import annotations

import logging
from typing import Any

from pybernetes.client.resources import NAMESPACES, SERVICEACCOUNTS
from pybernetes.client.rest import APIStatusError, is_already_exists, is_namespace_terminating
from pybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]

DEFAULT_ACCOUNTS = ("default",)


def accounts_to_create(namespace: Obj | None, existing: set[str], wanted: tuple[str, ...] = DEFAULT_ACCOUNTS
                       ) -> list[str]:
    """The accounts missing from an active namespace (none for a missing or terminating one)."""
    if namespace is None or (namespace.get("status") or {}).get("phase", "Active") != "Active" \
            or (namespace.get("metadata") or {}).get("deletionTimestamp"):
        return []
    return [name for name in wanted if name not in existing]


class ServiceAccountController(Controller):
    name = "serviceaccount"
    workers = 1

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.wanted = tuple(ctx.options.get("service_accounts", DEFAULT_ACCOUNTS))
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.accounts = ctx.informers.informer(SERVICEACCOUNTS)
        self.namespaces.add_handler(self._on_namespace, lambda _o, n: self._on_namespace(n), None)
        self.accounts.add_handler(None, None, self._on_account_delete)

    def _on_namespace(self, ns: Obj) -> None:
        self.enqueue((ns.get("metadata") or {}).get("name", ""))

    def _on_account_delete(self, sa: Obj) -> None:
        meta = sa.get("metadata") or {}
        if meta.get("name") in self.wanted:
            self.enqueue(meta.get("namespace", ""))

    async def reconcile(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        existing = {name for name in self.wanted if self.accounts.get(f"{key}/{name}") is not None}
        for name in accounts_to_create(ns, existing, self.wanted):
            try:
                await self.client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                           "metadata": {"name": name, "namespace": key}}, key)
            except APIStatusError as e:
                if is_already_exists(e) or is_namespace_terminating(e) or e.code == 404:
                    continue
                raise
        return None
