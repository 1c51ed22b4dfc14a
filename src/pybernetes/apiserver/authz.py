"""Authorization: may this user do this verb on this resource? (upstream ``authorizer.Authorizer``)

The attributes mirror upstream's ``authorizer.Attributes`` so that RBAC and SubjectAccessReviews share them.
``AlwaysAllowAuthenticated`` is the mode in force until RBAC is switched on; ``system:masters`` is always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pybernetes.apiserver.authn import UserInfo


@dataclass(frozen=True, slots=True)
class Attributes:
    user: UserInfo
    verb: str
    resource_request: bool
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""
    denied: bool = False        # an explicit deny (no other authorizer consulted)


class Authorizer(Protocol):
    async def authorize(self, attrs: Attributes) -> Decision: ...


class AlwaysAllowAuthenticated:
    async def authorize(self, attrs: Attributes) -> Decision:
        if "system:masters" in attrs.user.groups:
            return Decision(True)
        if attrs.user.anonymous:
            return Decision(False, "anonymous access is not allowed")
        return Decision(True)
