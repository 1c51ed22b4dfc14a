"""Registry authentication: ``WWW-Authenticate`` challenges and the token flow of the distribution spec.

A registry that wants credentials answers 401 with a challenge. ``Basic`` means: send the credentials on every
request. ``Bearer realm=…,service=…,scope=…`` (Docker Hub, every cloud registry) means: get a token from
``realm`` for that service and scope — anonymously, with basic auth from the credentials, or by exchanging an
identity (refresh) token in an OAuth2 POST — then send it as ``Authorization: Bearer``. Tokens are cached until
shortly before ``expires_in`` (60 s when the server does not say, as the spec defines), per realm, service,
scope set and credential, so a pull of ten layers asks the token server once.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import aiohttp
import orjson

from pybernetes.kubelet.images.config import Credential
from pybernetes.kubelet.images.errors import errcode_message

DEFAULT_TOKEN_LIFETIME = 60.0
EXPIRY_MARGIN = 10.0
CLIENT_ID = "pybernetes"


class AuthError(Exception):
    """The token server refused or answered nonsense; the message is fit for a pod's status."""


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str                        # lower case: "bearer", "basic"
    params: Mapping[str, str]


def _skip_space(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t":
        i += 1
    return i


def _token(s: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(s) and s[j] not in " \t,=\"":
        j += 1
    return s[i:j], j


def _quoted(s: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    i += 1
    while i < len(s) and s[i] != '"':
        if s[i] == "\\" and i + 1 < len(s):
            i += 1
        out.append(s[i])
        i += 1
    return "".join(out), i + 1


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """Every challenge in the ``WWW-Authenticate`` header values (RFC 7235: several per header, comma separated,
    parameters as ``key=token`` or ``key="quoted, string"``)."""
    out: list[Challenge] = []
    for header in headers:
        s, i = header, 0
        scheme: str | None = None
        params: dict[str, str] = {}
        while i < len(s):
            i = _skip_space(s, i)
            if i < len(s) and s[i] == ",":
                i += 1
                continue
            word, j = _token(s, i)
            if not word:
                i = j + 1
                continue
            k = _skip_space(s, j)
            if k < len(s) and s[k] == "=" and scheme is not None:
                k = _skip_space(s, k + 1)
                if k < len(s) and s[k] == '"':
                    value, i = _quoted(s, k)
                else:
                    value, i = _token(s, k)
                params[word.lower()] = value
                continue
            if scheme is not None:
                out.append(Challenge(scheme, params))
            scheme, params, i = word.lower(), {}, j
        if scheme is not None:
            out.append(Challenge(scheme, params))
    return out


def basic_header(cred: Credential) -> str:
    return "Basic " + base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()


@dataclass(frozen=True, slots=True)
class _Token:
    header: str
    expires_at: float


class TokenCache:
    """Bearer tokens by (realm, service, scopes, credential); the clock is injectable for tests."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._tokens: dict[tuple[str, str, tuple[str, ...], Credential | None], _Token] = {}
        self._monotonic = monotonic

    def get(self, key: tuple[str, str, tuple[str, ...], Credential | None]) -> str | None:
        tok = self._tokens.get(key)
        if tok is None or tok.expires_at <= self._monotonic():
            return None
        return tok.header

    def put(self, key: tuple[str, str, tuple[str, ...], Credential | None], header: str, lifetime: float) -> None:
        self._tokens[key] = _Token(header, self._monotonic() + max(lifetime - EXPIRY_MARGIN, 1.0))

    def clear(self, key: tuple[str, str, tuple[str, ...], Credential | None]) -> None:
        self._tokens.pop(key, None)


def token_scopes(challenge: Challenge, wanted: str) -> tuple[str, ...]:
    """The scopes to ask for: the challenge's own (space separated) plus the one this request needs."""
    scopes = [s for s in challenge.params.get("scope", "").split(" ") if s]
    if wanted and wanted not in scopes:
        scopes.append(wanted)
    return tuple(scopes)


async def fetch_token(session: aiohttp.ClientSession, challenge: Challenge, *, scopes: tuple[str, ...],
                      credential: Credential | None, ssl: object = True, user_agent: str = "") -> tuple[str, float]:
    """A bearer token for ``challenge`` → (``Authorization`` header value, lifetime in seconds)."""
    realm = challenge.params.get("realm", "")
    if not realm.startswith(("http://", "https://")):
        raise AuthError(f"invalid token auth challenge realm {realm!r}")
    service = challenge.params.get("service", "")
    headers = {"User-Agent": user_agent} if user_agent else {}
    if credential is not None and credential.registry_token:
        return "Bearer " + credential.registry_token, DEFAULT_TOKEN_LIFETIME
    try:
        if credential is not None and credential.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": credential.identity_token,
                    "service": service, "client_id": CLIENT_ID}
            if scopes:
                form["scope"] = " ".join(scopes)
            ctx = session.post(realm, data=form, headers=headers, ssl=ssl)  # type: ignore[arg-type]
            method = "POST"
        else:
            params = [("service", service)] if service else []
            params += [("scope", s) for s in scopes]
            if credential is not None and (credential.username or credential.password):
                headers["Authorization"] = basic_header(credential)
            ctx = session.get(realm, params=params, headers=headers, ssl=ssl)  # type: ignore[arg-type]
            method = "GET"
        async with ctx as resp:
            body = await resp.content.read(1 << 20)
            if resp.status >= 400:
                detail = _detail(body)
                raise AuthError(f"failed to fetch token: unexpected status from {method} request to {realm}: "
                                f"{resp.status} {resp.reason}" + (f": {detail}" if detail else ""))
    except aiohttp.ClientError as e:
        raise AuthError(f"failed to fetch token from {realm}: {e}") from None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise AuthError(f"unable to decode token response from {realm}") from None
    token = doc.get("access_token") or doc.get("token") if isinstance(doc, dict) else None
    if not token or not isinstance(token, str):
        raise AuthError("authorization server did not include a token in the response")
    lifetime = doc.get("expires_in")
    if not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    return "Bearer " + token, float(lifetime)


def _detail(body: bytes) -> str:
    """What a token server says on failure: distribution's ``errors`` list or Docker Hub's ``details``."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode(errors="replace").strip()
    if isinstance(doc, dict):
        if msg := errcode_message(doc):
            return msg
        for key in ("details", "detail", "error_description", "error", "message"):
            if isinstance(doc.get(key), str):
                return str(doc[key])
    return ""
