"""WWW-Authenticate parsing and the token cache."""

from __future__ import annotations

import pytest

from pybernetes.kubelet.images.auth import Challenge, TokenCache, parse_challenges, token_scopes


@pytest.mark.parametrize(("headers", "expected"), [
    (['Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
      'scope="repository:library/nginx:pull"'],
     [Challenge("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                           "scope": "repository:library/nginx:pull"})]),
    (['Basic realm="Registry Realm"'], [Challenge("basic", {"realm": "Registry Realm"})]),
    (['Basic realm="a, b", Bearer realm="https://t/token",error="insufficient_scope"'],
     [Challenge("basic", {"realm": "a, b"}), Challenge("bearer", {"realm": "https://t/token",
                                                                  "error": "insufficient_scope"})]),
    (['Bearer realm="x\\"y", service=reg'], [Challenge("bearer", {"realm": 'x"y', "service": "reg"})]),
    (["Basic", 'Bearer realm="r"'], [Challenge("basic", {}), Challenge("bearer", {"realm": "r"})]),
    (["BEARER Realm=r"], [Challenge("bearer", {"realm": "r"})]),
    ([""], []),
])
def test_parse_challenges(headers: list[str], expected: list[Challenge]) -> None:
    assert parse_challenges(headers) == expected


@pytest.mark.parametrize(("scope", "wanted", "expected"), [
    ("repository:a:pull", "repository:a:pull", ("repository:a:pull",)),
    ("repository:a:pull", "repository:a:pull,push", ("repository:a:pull", "repository:a:pull,push")),
    ("", "repository:a:pull", ("repository:a:pull",)),
    ("repository:a:pull repository:b:pull", "", ("repository:a:pull", "repository:b:pull")),
])
def test_token_scopes(scope: str, wanted: str, expected: tuple[str, ...]) -> None:
    assert token_scopes(Challenge("bearer", {"scope": scope} if scope else {}), wanted) == expected


def test_token_cache_expiry() -> None:
    now = [100.0]
    cache = TokenCache(monotonic=lambda: now[0])
    key = ("https://t", "svc", ("repository:a:pull",), None)
    cache.put(key, "Bearer x", 60)
    assert cache.get(key) == "Bearer x"
    now[0] += 49                         # refreshed 10 s before the server's expiry
    assert cache.get(key) == "Bearer x"
    now[0] += 2
    assert cache.get(key) is None
