"""Bound ServiceAccount tokens for projected volumes (upstream ``pkg/kubelet/token/token_manager.go``).

The kubelet asks the TokenRequest API (``POST serviceaccounts/<sa>/token``) for a token bound to the Pod, with
the projection's audience and ``expirationSeconds``, caches it per (namespace, ServiceAccount, audience,
expiration, pod) and asks again once 80% of its lifetime has passed (or a day, whichever is first) — the
projected volume's periodic refresh then writes the new token, so a running pod always holds a valid one.
A pod's tokens are forgotten when it is torn down.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pybernetes.api.meta import parse_time
from pybernetes.client.clock import REAL, Clock
from pybernetes.kubelet.volumes.projection import MountError, TokenSpec

log = logging.getLogger(__name__)
Obj = dict[str, Any]
MAX_TTL = 24 * 3600.0
REFRESH_AT = 0.8

RequestFn = Callable[[str, str, Obj], Awaitable[Obj]]
"""(namespace, serviceaccount, TokenRequest body) → the TokenRequest the API server returned."""


@dataclass(frozen=True, slots=True)
class CachedToken:
    token: str
    expires_at: datetime.datetime
    expiration_seconds: int


def requires_refresh(cached: CachedToken, now: datetime.datetime) -> bool:
    """Upstream's rule: refresh once past 80% of the requested lifetime, or a day after issue."""
    issued = cached.expires_at - datetime.timedelta(seconds=cached.expiration_seconds)
    if now >= issued + datetime.timedelta(seconds=MAX_TTL):
        return True
    return now >= cached.expires_at - datetime.timedelta(seconds=cached.expiration_seconds * (1 - REFRESH_AT))


def token_request_body(pod: Obj, spec: TokenSpec) -> Obj:
    meta = pod.get("metadata") or {}
    body: Obj = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                 "spec": {"expirationSeconds": spec.expiration_seconds,
                          "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name", ""),
                                             "uid": meta.get("uid", "")}}}
    if spec.audience:
        body["spec"]["audiences"] = [spec.audience]
    return body


class TokenManager:
    def __init__(self, request: RequestFn, *, clock: Clock = REAL) -> None:
        self.request = request
        self.clock = clock
        self._cache: dict[tuple[str, str, str, int, str], CachedToken] = {}
        self.requests = 0

    async def get(self, pod: Obj, spec: TokenSpec) -> str:
        meta = pod.get("metadata") or {}
        ns, uid = meta.get("namespace", ""), meta.get("uid", "")
        sa = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        key = (ns, sa, spec.audience, spec.expiration_seconds, uid)
        cached = self._cache.get(key)
        now = self.clock.now()
        if cached is not None and not requires_refresh(cached, now):
            return cached.token
        try:
            tr = await self.request(ns, sa, token_request_body(pod, spec))
            self.requests += 1
        except Exception as e:
            if cached is not None and now < cached.expires_at:
                log.warning("token refresh failed; keeping the current token", extra={"pod": f"{ns}/{meta.get('name')}",
                                                                                      "error": repr(e)})
                return cached.token
            raise MountError(f'failed to fetch token: {e}') from None
        status = tr.get("status") or {}
        exp_text = status.get("expirationTimestamp")
        expires = parse_time(exp_text) if exp_text else now + datetime.timedelta(seconds=spec.expiration_seconds)
        token = str(status.get("token") or "")
        self._cache[key] = CachedToken(token, expires, spec.expiration_seconds)
        return token

    def forget(self, uid: str) -> None:
        for key in [k for k in self._cache if k[4] == uid]:
            del self._cache[key]
