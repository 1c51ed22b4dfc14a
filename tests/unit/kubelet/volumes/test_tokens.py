"""Bound token requests and rotation at 80% of the lifetime (FakeClock)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pybernetes.client.clock import FakeClock
from pybernetes.kubelet.volumes.projection import MountError, TokenSpec
from pybernetes.kubelet.volumes.tokens import CachedToken, TokenManager, requires_refresh

POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"}, "spec": {"serviceAccountName": "builder"}}


class FakeTokens:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, str, dict]] = []
        self.fail = False

    async def __call__(self, ns: str, sa: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("api down")
        self.calls.append((ns, sa, body))
        exp = self.clock.now() + datetime.timedelta(seconds=body["spec"]["expirationSeconds"])
        return {"status": {"token": f"t{len(self.calls)}", "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}


async def test_request_body_cache_and_rotation() -> None:
    clock = FakeClock()
    api = FakeTokens(clock)
    tm = TokenManager(api, clock=clock)
    spec = TokenSpec(audience="", expiration_seconds=3607)
    assert await tm.get(POD, spec) == "t1"
    ns, sa, body = api.calls[0]
    assert (ns, sa) == ("shop", "builder")
    assert body["spec"] == {"expirationSeconds": 3607, "boundObjectRef": {
        "apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "u-1"}}
    clock.advance(0.79 * 3607)
    assert await tm.get(POD, spec) == "t1"
    clock.advance(0.02 * 3607)
    assert await tm.get(POD, spec) == "t2"                       # past 80%: a new token
    assert await tm.get(POD, TokenSpec(audience="vault", expiration_seconds=600)) == "t3"
    assert api.calls[-1][2]["spec"]["audiences"] == ["vault"]
    tm.forget("u-1")
    assert await tm.get(POD, spec) == "t4"


async def test_failed_refresh_keeps_a_valid_token_then_fails() -> None:
    clock = FakeClock()
    api = FakeTokens(clock)
    tm = TokenManager(api, clock=clock)
    spec = TokenSpec(audience="", expiration_seconds=1000)
    await tm.get(POD, spec)
    api.fail = True
    clock.advance(900)
    assert await tm.get(POD, spec) == "t1"
    clock.advance(200)
    with pytest.raises(MountError, match="failed to fetch token"):
        await tm.get(POD, spec)


@pytest.mark.parametrize(("age", "seconds", "expected"), [
    (0, 3600, False), (2879, 3600, False), (2881, 3600, True),
    (86399, 10 ** 6, False), (86401, 10 ** 6, True),        # a day at most
])
def test_requires_refresh(age: int, seconds: int, expected: bool) -> None:
    issued = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cached = CachedToken("t", issued + datetime.timedelta(seconds=seconds), seconds)
    assert requires_refresh(cached, issued + datetime.timedelta(seconds=age)) is expected
