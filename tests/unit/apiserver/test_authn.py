"""Client-certificate authentication: who a connection's certificate names, decoded once per connection."""

from __future__ import annotations

import ssl
from typing import Any

from pybernetes.apiserver.authn import ANONYMOUS_USER, Authenticator, UserInfo


class Transport:
    def __init__(self, sslobj: Any) -> None:
        self.sslobj = sslobj

    def get_extra_info(self, name: str) -> Any:
        return self.sslobj if name == "ssl_object" else None


def ssl_object(subject: tuple[Any, ...] | None, calls: list[int]) -> ssl.SSLObject:
    obj = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())

    def getpeercert() -> dict[str, Any] | None:
        calls.append(1)
        return None if subject is None else {"subject": subject}
    obj.getpeercert = getpeercert  # type: ignore[method-assign]
    return obj


ADMIN = ((("organizationName", "system:masters"),), (("commonName", "system:admin"),))


def test_certificate_user_is_decoded_once_per_connection() -> None:
    authn = Authenticator()
    calls: list[int] = []
    t = Transport(ssl_object(ADMIN, calls))
    want = UserInfo("system:admin", groups=("system:masters", "system:authenticated"))
    assert authn.authenticate(t, None) == want
    assert authn.authenticate(t, None) == want
    assert len(calls) == 1
    other: list[int] = []
    assert authn.authenticate(Transport(ssl_object(ADMIN, other)), None) == want
    assert len(other) == 1


def test_connection_without_certificate_falls_back_to_the_token_every_time() -> None:
    authn = Authenticator(static_token="secret")
    calls: list[int] = []
    t = Transport(ssl_object(None, calls))
    assert authn.authenticate(t, None) == ANONYMOUS_USER
    assert authn.authenticate(t, "Bearer secret").name == "system:pybernetes:token"
    assert authn.authenticate(t, "Bearer wrong").uid == "invalid-token"
    assert len(calls) == 1


def test_cache_does_not_keep_connections_alive() -> None:
    import gc
    authn = Authenticator()
    authn.authenticate(Transport(ssl_object(ADMIN, [])), None)
    gc.collect()
    assert len(authn._cert_users) == 0
