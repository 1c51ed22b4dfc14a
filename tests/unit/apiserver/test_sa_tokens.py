"""ServiceAccount tokens: ES256 sign/verify and JWKS, the bearer authenticator (expiry, audience, issuer, revocation
by deleting the ServiceAccount or the bound object), and the TokenRequest API through the real HTTP handlers."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pybernetes.api.builtin import builtin_registry
from pybernetes.apiserver import rest as rest_hooks
from pybernetes.apiserver.admission import AdmissionChain
from pybernetes.apiserver.app import make_app
from pybernetes.apiserver.authn import Authenticator
from pybernetes.apiserver.authz import AlwaysAllowAuthenticated
from pybernetes.apiserver.sa_tokens import (
    DEFAULT_EXPIRATION,
    ISSUER,
    ServiceAccountAuthenticator,
    TokenSigner,
    claims_for,
)
from pybernetes.apiserver.state import ServerConfig, ServerState
from pybernetes.storage.watchcache import WatchCache

try:
    from tests.unit.storage.memstore import MemStore
except ModuleNotFoundError:  # pytest's default (prepend) import mode
    from memstore import MemStore  # type: ignore[no-redef]

Obj = dict[str, Any]
ADMIN = {"Authorization": "Bearer admin-token"}
NOW = 1_800_000_000.0


def new_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ------------------------------------------------------------------------------------------------ signer
@pytest.fixture(scope="module")
def signer() -> TokenSigner:
    return TokenSigner(new_key())


def test_sign_verify_round_trip(signer: TokenSigner) -> None:
    claims = {"iss": ISSUER, "sub": "x", "n": [1, 2]}
    tok = signer.sign(claims)
    header = orjson.loads(unb64(tok.split(".")[0]))
    assert header == {"alg": "ES256", "kid": signer.kid}
    assert signer.verify(tok) == claims
    assert len(unb64(tok.split(".")[2])) == 64                                   # JWS r||s, not DER


def test_verify_refuses_tampering_other_keys_and_garbage(signer: TokenSigner) -> None:
    tok = signer.sign({"iss": ISSUER, "sub": "a"})
    h, p, sig = tok.split(".")
    forged = b64(orjson.dumps({"iss": ISSUER, "sub": "admin"}))
    assert signer.verify(f"{h}.{forged}.{sig}") is None
    assert TokenSigner(new_key()).verify(tok) is None
    none_header = b64(orjson.dumps({"alg": "none"}))
    assert signer.verify(f"{none_header}.{p}.") is None
    assert signer.verify(f"{none_header}.{p}.{sig}") is None
    for bad in ("", "a.b", "a.b.c.d", "!!.??.**", f"{h}.{p}.{sig[:-4]}", f"{h}.{p}"):
        assert signer.verify(bad) is None
    array_payload = signer.sign([1, 2])  # type: ignore[arg-type]
    assert signer.verify(array_payload) is None


def test_jwks_publishes_the_verifying_key(signer: TokenSigner) -> None:
    (jwk,) = signer.jwks()["keys"]
    assert {k: jwk[k] for k in ("use", "kty", "kid", "crv", "alg")} == {
        "use": "sig", "kty": "EC", "kid": signer.kid, "crv": "P-256", "alg": "ES256"}
    pub = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64(jwk["x"]), "big"), int.from_bytes(unb64(jwk["y"]), "big"),
                                        ec.SECP256R1()).public_key()
    tok = signer.sign({"a": 1})
    h, p, sig = tok.split(".")
    raw = unb64(sig)
    pub.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
               f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))            # raises if it does not verify


def test_claims_for() -> None:
    sa = {"metadata": {"name": "robot", "namespace": "ns", "uid": "sa-uid"}}
    c = claims_for(sa, audiences=["a"], seconds=600, bound={"kind": "Pod", "name": "p", "uid": "p-uid",
                                                             "node": {"name": "n1", "uid": "n-uid"}}, now=NOW + 0.7)
    assert (c["iat"], c["nbf"], c["exp"]) == (int(NOW), int(NOW), int(NOW) + 600)
    assert (c["iss"], c["sub"], c["aud"]) == (ISSUER, "system:serviceaccount:ns:robot", ["a"])
    assert c["kubernetes.io"] == {"namespace": "ns", "serviceaccount": {"name": "robot", "uid": "sa-uid"},
                                  "pod": {"name": "p", "uid": "p-uid"}, "node": {"name": "n1", "uid": "n-uid"}}
    assert len(c["jti"]) == 36 and c["jti"] != claims_for(sa, audiences=["a"], seconds=1, bound=None,
                                                          now=NOW)["jti"]


# ------------------------------------------------------------------------------------------------ authenticator
class World:
    """Objects in a store, seen through a watch cache, and an authenticator over them with a settable clock."""

    def __init__(self, store: MemStore, cache: WatchCache, signer: TokenSigner) -> None:
        self.store, self.cache, self.signer = store, cache, signer
        self.now = NOW
        state = ServerState(config=ServerConfig(), store=store, cache=cache, resources=builtin_registry(),
                            authorizer=AlwaysAllowAuthenticated(), admission=AdmissionChain())
        self.authn = ServiceAccountAuthenticator(state, signer, clock=lambda: self.now)

    async def put(self, storage: str, key: str, meta: Obj, **rest: Any) -> Obj:
        obj = {"metadata": meta, **rest}
        k = f"/registry/{storage}/{key}"
        cur = await self.store.get(k)
        if cur is None:
            await self.store.create(k, orjson.dumps(obj))
        else:
            await self.store.update(k, orjson.dumps(obj), expect_mod_revision=cur.mod_revision)
        await self.cache.sync()
        return obj

    async def remove(self, storage: str, key: str) -> None:
        await self.store.delete(f"/registry/{storage}/{key}")
        await self.cache.sync()

    def token(self, *, bound: Obj | None = None, audiences: list[str] | None = None, seconds: int = 3600,
              issued: float | None = None, sa_uid: str = "sa-uid", **override: Any) -> str:
        sa = {"metadata": {"name": "robot", "namespace": "ns", "uid": sa_uid}}
        claims = claims_for(sa, audiences=audiences or [ISSUER], seconds=seconds, bound=bound,
                            now=self.now if issued is None else issued)
        claims.update(override)
        return self.signer.sign(claims)


@pytest.fixture
async def world(signer: TokenSigner) -> AsyncIterator[World]:
    store = MemStore()
    cache = WatchCache(store)
    await cache.start()
    w = World(store, cache, signer)
    await w.put("core/serviceaccounts", "ns/robot", {"name": "robot", "namespace": "ns", "uid": "sa-uid"})
    yield w
    await cache.close()


async def test_a_valid_token_is_the_service_account(world: World) -> None:
    tok = world.token()
    u = world.authn(tok)
    assert u is not None
    assert (u.name, u.uid) == ("system:serviceaccount:ns:robot", "sa-uid")
    assert u.groups == ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")
    jti = world.signer.verify(tok)["jti"]                                   # type: ignore[index]
    assert u.extra == {"authentication.kubernetes.io/credential-id": (f"JTI={jti}",)}


@pytest.mark.parametrize(("issued", "seconds", "accepted"), [
    (NOW - 3000, 3600, True),
    (NOW - 3600, 3600, True),             # expires now
    (NOW - 3659, 3600, True),             # within the 60 s leeway
    (NOW - 3661, 3600, False),
    (NOW + 59, 3600, True),               # not before: leeway too
    (NOW + 61, 3600, False),
])
async def test_expiry_and_not_before(world: World, issued: float, seconds: int, accepted: bool) -> None:
    assert (world.authn(world.token(issued=issued, seconds=seconds)) is not None) is accepted


async def test_clock_moves_past_expiry(world: World) -> None:
    tok = world.token(seconds=600)
    assert world.authn(tok) is not None
    world.now += 600 + 61
    assert world.authn(tok) is None


@pytest.mark.parametrize(("override", "accepted"), [
    ({"aud": ["k3s"]}, True),
    ({"aud": ["https://example.com", ISSUER]}, True),
    ({"aud": ISSUER}, True),                          # a single string is a valid JWT audience
    ({"aud": ["vault"]}, False),                      # not one of the API server's audiences
    ({"aud": []}, False),
    ({"iss": "https://evil.example.com"}, False),
    ({"exp": "never"}, False),
    ({"kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "robot", "uid": "other"}}}, False),
    ({"kubernetes.io": {"namespace": "other", "serviceaccount": {"name": "robot", "uid": "sa-uid"}}}, False),
    ({"kubernetes.io": {}}, False),
])
async def test_claims_that_are_refused(world: World, override: Obj, accepted: bool) -> None:
    assert (world.authn(world.token(**override)) is not None) is accepted


async def test_not_a_jwt_is_left_to_other_authenticators(world: World) -> None:
    assert world.authn("static-token") is None
    assert world.authn("a.b.c") is None
    other = TokenSigner(new_key())
    sa = {"metadata": {"name": "robot", "namespace": "ns", "uid": "sa-uid"}}
    assert world.authn(other.sign(claims_for(sa, audiences=[ISSUER], seconds=600, bound=None, now=NOW))) is None


async def test_deleting_or_recreating_the_service_account_revokes(world: World) -> None:
    tok = world.token()
    await world.remove("core/serviceaccounts", "ns/robot")
    assert world.authn(tok) is None
    await world.put("core/serviceaccounts", "ns/robot", {"name": "robot", "namespace": "ns", "uid": "new-uid"})
    assert world.authn(tok) is None                                   # same name, another object
    assert world.authn(world.token(sa_uid="new-uid")) is not None


async def test_a_service_account_being_deleted_is_valid_for_a_minute(world: World) -> None:
    tok = world.token()
    await world.put("core/serviceaccounts", "ns/robot", {"name": "robot", "namespace": "ns", "uid": "sa-uid",
                                                         "deletionTimestamp": "2027-01-15T08:00:00Z"})
    world.now = NOW + 30                                            # 2027-01-15T08:00:00Z is NOW
    assert world.authn(tok) is not None
    world.now = NOW + 61
    assert world.authn(world.token()) is None


async def test_pod_bound_token_dies_with_its_pod(world: World) -> None:
    await world.put("core/pods", "ns/p", {"name": "p", "namespace": "ns", "uid": "p-uid"})
    bound = {"kind": "Pod", "name": "p", "uid": "p-uid", "node": {"name": "n1", "uid": "n-uid"}}
    tok = world.token(bound=bound)
    u = world.authn(tok)
    assert u is not None
    assert u.extra["authentication.kubernetes.io/pod-name"] == ("p",)
    assert u.extra["authentication.kubernetes.io/pod-uid"] == ("p-uid",)
    assert u.extra["authentication.kubernetes.io/node-name"] == ("n1",)      # the node is informational here
    assert u.extra["authentication.kubernetes.io/node-uid"] == ("n-uid",)
    await world.put("core/pods", "ns/p", {"name": "p", "namespace": "ns", "uid": "p-uid",
                                          "deletionTimestamp": "2027-01-15T08:00:00Z"})
    world.now = NOW + 10
    assert world.authn(tok) is not None                                      # graceful deletion in progress
    world.now = NOW + 120
    assert world.authn(tok) is None
    world.now = NOW
    await world.remove("core/pods", "ns/p")
    assert world.authn(tok) is None
    await world.put("core/pods", "ns/p", {"name": "p", "namespace": "ns", "uid": "p-uid-2"})
    assert world.authn(tok) is None                                          # a new pod of the same name


async def test_secret_and_node_bound_tokens(world: World) -> None:
    await world.put("core/secrets", "ns/s", {"name": "s", "namespace": "ns", "uid": "s-uid"})
    await world.put("core/nodes", "n1", {"name": "n1", "uid": "n-uid"})
    s_tok = world.token(bound={"kind": "Secret", "name": "s", "uid": "s-uid"})
    n_tok = world.token(bound={"kind": "Node", "name": "n1", "uid": "n-uid"})
    assert world.authn(s_tok) is not None
    u = world.authn(n_tok)
    assert u is not None and u.extra["authentication.kubernetes.io/node-name"] == ("n1",)
    assert "authentication.kubernetes.io/secret-name" not in (world.authn(s_tok) or u).extra
    await world.remove("core/secrets", "ns/s")
    await world.remove("core/nodes", "n1")
    assert world.authn(s_tok) is None
    assert world.authn(n_tok) is None


def test_the_fixed_now_is_the_deletion_timestamp_used_above() -> None:
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW)) == "2027-01-15T08:00:00Z"


# ------------------------------------------------------------------------------------------------ TokenRequest API
class API:
    def __init__(self, client: TestClient, signer: TokenSigner) -> None:
        self.client, self.signer = client, signer

    async def req(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None
                  ) -> tuple[int, Any]:
        data = orjson.dumps(body) if body is not None else None
        async with self.client.request(method, path, data=data, headers={
                **(headers or ADMIN), "Content-Type": "application/json"}) as r:
            raw = await r.read()
            return r.status, (orjson.loads(raw) if raw else None)

    async def create(self, path: str, obj: Obj) -> Obj:
        code, body = await self.req("POST", path, obj)
        assert code == 201, body
        return body

    async def token(self, sa: str = "robot", spec: Obj | None = None) -> tuple[int, Any]:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}}
        return await self.req("POST", f"/api/v1/namespaces/ns/serviceaccounts/{sa}/token", body)


@pytest.fixture
async def api(signer: TokenSigner) -> AsyncIterator[API]:
    store = MemStore()
    cache = WatchCache(store)
    await cache.start()
    rest_hooks.install()
    state = ServerState(config=ServerConfig(), store=store, cache=cache, resources=builtin_registry(),  # type: ignore[arg-type]
                        authorizer=AlwaysAllowAuthenticated(), admission=AdmissionChain())
    state.extra["sa_signer"] = signer
    authn = Authenticator(static_token="admin-token")
    authn.token_authenticators.append(ServiceAccountAuthenticator(state, signer))
    app, dispatcher = make_app(state, authn)
    dispatcher.ready = True
    client = TestClient(TestServer(app))
    await client.start_server()
    a = API(client, signer)
    await a.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    await a.create("/api/v1/namespaces/ns/serviceaccounts", {"metadata": {"name": "robot"}})
    await a.create("/api/v1/namespaces/ns/serviceaccounts", {"metadata": {"name": "other"}})
    try:
        yield a
    finally:
        await client.close()
        await cache.close()


def pod(name: str, sa: str = "robot") -> Obj:
    return {"metadata": {"name": name}, "spec": {"serviceAccountName": sa,
                                                 "containers": [{"name": "c", "image": "busybox"}]}}


async def test_token_request_issues_a_working_token(api: API) -> None:
    before = time.time()
    code, tr = await api.token()
    assert code == 201, tr
    assert (tr["kind"], tr["apiVersion"]) == ("TokenRequest", "authentication.k8s.io/v1")
    assert tr["metadata"] == {"name": "robot", "namespace": "ns", "creationTimestamp": None}
    assert tr["spec"] == {"audiences": [ISSUER], "expirationSeconds": DEFAULT_EXPIRATION, "boundObjectRef": None}
    claims = api.signer.verify(tr["status"]["token"])
    assert claims is not None and claims["sub"] == "system:serviceaccount:ns:robot"
    assert before - 1 <= claims["exp"] - DEFAULT_EXPIRATION <= time.time()
    assert tr["status"]["expirationTimestamp"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["exp"]))
    # the token authenticates as the service account
    code, body = await api.req("GET", "/api/v1/namespaces/ns/serviceaccounts/robot",
                               headers={"Authorization": "Bearer " + tr["status"]["token"]})
    assert code == 200, body


async def test_token_request_audiences_and_duration(api: API) -> None:
    code, tr = await api.token(spec={"audiences": ["vault"], "expirationSeconds": 600})
    assert code == 201
    claims = api.signer.verify(tr["status"]["token"])
    assert claims is not None and (claims["aud"], claims["exp"] - claims["iat"]) == (["vault"], 600)
    code, _ = await api.req("GET", "/api/v1/namespaces/ns/serviceaccounts",
                            headers={"Authorization": "Bearer " + tr["status"]["token"]})
    assert code == 401                                 # not an API server audience


@pytest.mark.parametrize(("seconds", "detail"), [
    (599, "599: may not specify a duration less than 10 minutes"),
    (0, "0: may not specify a duration less than 10 minutes"),
    (-5, "-5: may not specify a duration less than 10 minutes"),
    (2 ** 32 + 1, f"{2 ** 32 + 1}: may not specify a duration larger than 2^32 seconds"),
])
async def test_token_request_expiration_is_validated(api: API, seconds: int, detail: str) -> None:
    code, st = await api.token(spec={"expirationSeconds": seconds})
    assert (code, st["reason"]) == (422, "Invalid")
    assert st["message"] == f'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: ' \
                            f"Invalid value: {detail}"


async def test_token_request_for_a_missing_service_account(api: API) -> None:
    code, st = await api.token("nope")
    assert (code, st["reason"], st["message"]) == (404, "NotFound", 'serviceaccounts "nope" not found')
    code, st = await api.token("nope", spec={"expirationSeconds": 1})
    assert code == 422                                 # the spec is validated first, as upstream


@pytest.mark.parametrize(("ref", "message"), [
    ({"kind": "ConfigMap", "apiVersion": "v1", "name": "c"}, "cannot bind token to object of type /v1, Kind=ConfigMap"),
    ({"kind": "Deployment", "apiVersion": "apps/v1", "name": "d"},
     "cannot bind token to object of type apps/v1, Kind=Deployment"),
    ({"kind": "Pod", "apiVersion": "example.com/v1", "name": "p"},
     "cannot bind token to object of type example.com/v1, Kind=Pod"),
])
async def test_token_request_bound_object_kinds(api: API, ref: Obj, message: str) -> None:
    code, st = await api.token(spec={"boundObjectRef": ref})
    assert (code, st["reason"], st["message"]) == (400, "BadRequest", message)


async def test_token_request_bound_to_a_pod(api: API) -> None:
    p = await api.create("/api/v1/namespaces/ns/pods", pod("p"))
    await api.create("/api/v1/namespaces/ns/pods", pod("q", sa="other"))
    code, st = await api.token(spec={"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "missing"}})
    assert (code, st["message"]) == (404, 'pods "missing" not found')
    code, st = await api.token(spec={"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "q"}})
    assert (code, st["message"]) == (400, 'cannot bind token for serviceaccount "robot" to pod running with '
                                          "different serviceaccount name.")
    code, st = await api.token(spec={"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                                        "uid": "not-it"}})
    assert (code, st["reason"], st["message"]) == (409, "Conflict", 'Operation cannot be fulfilled on Pod "p": the UID '
                                                   "in the bound object reference (not-it) does not match the UID in "
                                                   "record. The object might have been deleted and then recreated")
    code, tr = await api.token(spec={"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                                        "uid": p["metadata"]["uid"]}})
    assert code == 201
    tok = {"Authorization": "Bearer " + tr["status"]["token"]}
    claims = api.signer.verify(tr["status"]["token"])
    assert claims is not None and claims["kubernetes.io"]["pod"] == {"name": "p", "uid": p["metadata"]["uid"]}
    assert (await api.req("GET", "/api/v1/namespaces/ns/pods/p", headers=tok))[0] == 200
    code, _ = await api.req("DELETE", "/api/v1/namespaces/ns/pods/p", {"gracePeriodSeconds": 0})
    assert code == 200
    assert (await api.req("GET", "/api/v1/namespaces/ns/pods", headers=tok))[0] == 401    # revoked with its pod
