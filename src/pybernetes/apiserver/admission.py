"""Admission: mutating then validating plugins around every write (upstream ``admission.Interface``).

Plugins see :class:`Attributes` (operation, resource, object, old object, user, dry run). Mutating plugins run
after defaulting and before the strategy's validation; validating plugins after validation. Raising an
:class:`~pybernetes.api.errors.APIError` refuses the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pybernetes.api.resources import Resource
    from pybernetes.apiserver.authn import UserInfo
    from pybernetes.apiserver.state import ServerState


@dataclass(slots=True)
class Attributes:
    operation: str                  # CREATE | UPDATE | DELETE | CONNECT
    resource: Resource
    subresource: str
    namespace: str
    name: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    user: UserInfo
    dry_run: bool


class Plugin(Protocol):
    name: str

    async def mutate(self, state: ServerState, attrs: Attributes) -> None: ...
    async def validate(self, state: ServerState, attrs: Attributes) -> None: ...


class AdmissionChain:
    def __init__(self, plugins: list[Any] | None = None) -> None:
        self.plugins: list[Any] = plugins or []

    async def mutate(self, state: ServerState, attrs: Attributes) -> None:
        for p in self.plugins:
            fn = getattr(p, "mutate", None)
            if fn is not None:
                await fn(state, attrs)

    async def validate(self, state: ServerState, attrs: Attributes) -> None:
        for p in self.plugins:
            fn = getattr(p, "validate", None)
            if fn is not None:
                await fn(state, attrs)
