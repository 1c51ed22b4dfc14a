"""Per-resource additions to the generic registry's flow (upstream's per-kind REST storage overrides).

A kind that needs more than its strategy — allocating Service IPs and ports, graceful pod deletion, namespace
termination — registers a :class:`RESTHooks` under its storage location in :data:`HOOKS`
(``apiserver.rest.install``); the generic registry calls the hooks at fixed points and never branches on kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pybernetes.api.resources import Resource
    from pybernetes.apiserver.state import ServerState

Obj = dict[str, Any]


class RESTHooks:
    """Per-resource additions to the generic flow; every hook is a no-op by default."""

    async def before_create(self, state: ServerState, res: Resource, obj: Obj, *, dry_run: bool) -> None:
        """After validation, before the write (allocate IPs/ports); raise to refuse."""

    async def create_failed(self, state: ServerState, res: Resource, obj: Obj) -> None:
        """The write after before_create failed: release what it allocated."""

    async def before_update(self, state: ServerState, res: Resource, obj: Obj, old: Obj, *, dry_run: bool) -> None:
        """After validation, before the write."""

    async def update_failed(self, state: ServerState, res: Resource, obj: Obj, old: Obj) -> None:
        """The write after before_update failed: release what it allocated."""

    async def after_update(self, state: ServerState, res: Resource, obj: Obj, old: Obj) -> None:
        """After a successful update write: release what the old object held and the new one does not."""

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Grace period for a delete; >0 makes the deletion graceful (object stays with a deletionTimestamp)."""
        return 0

    def on_delete(self, obj: Obj) -> bool:
        """Mutate an object that is being deleted but must stay (e.g. Namespace → Terminating);
        return True when it must stay even without finalizers."""
        return False

    async def after_delete(self, state: ServerState, res: Resource, obj: Obj) -> None:
        """The object is gone from the store: release its allocations."""


HOOKS: dict[str, RESTHooks] = {}          # storage ("core/services") → hooks; filled by apiserver.rest


def hooks_for(res: Resource) -> RESTHooks:
    return HOOKS.get(res.storage, _DEFAULT_HOOKS)


_DEFAULT_HOOKS = RESTHooks()
