"""Authentication: who is asking. Client certificates (CN = user, O = groups) and bearer tokens.

Order as upstream's union authenticator: a verified client certificate first, then the bearer token. Tokens are
the server's static token (``--token``: the cluster join secret, which acts as a cluster administrator as in k3s)
and, once registered, ServiceAccount tokens (see ``serviceaccount_tokens``). No credential → anonymous, which the
HTTP layer refuses with 401 except on health and version endpoints.
"""

from __future__ import annotations

import hmac
import ssl
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ANONYMOUS = "system:anonymous"


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"username": self.name}
        if self.uid:
            d["uid"] = self.uid
        if self.groups:
            d["groups"] = list(self.groups)
        if self.extra:
            d["extra"] = {k: list(v) for k, v in self.extra.items()}
        return d


ANONYMOUS_USER = UserInfo(ANONYMOUS, groups=("system:unauthenticated",))
TokenAuthenticator = Callable[[str], "UserInfo | None"]
_UNKNOWN: Any = object()


def from_peercert(cert: dict[str, Any] | None) -> UserInfo | None:
    """User from a verified peer certificate as ssl.getpeercert() returns it."""
    if not cert:
        return None
    cn = ""
    orgs: list[str] = []
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
            elif k == "organizationName":
                orgs.append(v)
    if not cn:
        return None
    return UserInfo(cn, groups=(*orgs, "system:authenticated"))


class Authenticator:
    def __init__(self, *, static_token: str | None = None) -> None:
        self._static = static_token
        self.token_authenticators: list[TokenAuthenticator] = []
        self._cert_users: weakref.WeakKeyDictionary[ssl.SSLObject, UserInfo | None] = weakref.WeakKeyDictionary()

    def authenticate(self, transport: Any, authorization: str | None) -> UserInfo:
        if transport is not None:
            sslobj = transport.get_extra_info("ssl_object")
            if isinstance(sslobj, ssl.SSLObject):
                # A connection's peer certificate never changes: decode it once per connection, not per request.
                user = self._cert_users.get(sslobj, _UNKNOWN)
                if user is _UNKNOWN:
                    user = self._cert_users[sslobj] = from_peercert(sslobj.getpeercert())
                if user is not None:
                    return user  # type: ignore[return-value]
        if authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                user = self.authenticate_token(token)
                if user is not None:
                    return user
                return ANONYMOUS_USER_INVALID
        return ANONYMOUS_USER

    def authenticate_token(self, token: str) -> UserInfo | None:
        if self._static and hmac.compare_digest(token.encode(), self._static.encode()):
            return UserInfo("system:pybernetes:token", groups=("system:masters", "system:authenticated"))
        for fn in self.token_authenticators:
            user = fn(token)
            if user is not None:
                return user
        return None


# A bearer token was sent but is not valid: 401 even where anonymous would be allowed.
ANONYMOUS_USER_INVALID = UserInfo(ANONYMOUS, uid="invalid-token", groups=("system:unauthenticated",))
