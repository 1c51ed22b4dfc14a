"""ServiceAccount tokens: the TokenRequest API (``serviceaccounts/<name>/token``), JWT signing, and the bearer
token authenticator that accepts them (upstream ``pkg/serviceaccount``).

Tokens are ES256 JWTs signed with the cluster's ServiceAccount key (shared by every API server through the
bootstrap data). Claims are upstream's bound-token claims: ``iss``, ``sub`` = ``system:serviceaccount:<ns>:<name>``,
``aud``, ``exp``/``iat``/``nbf``, ``jti``, and ``kubernetes.io`` with the namespace, the ServiceAccount (and the
bound Pod or Secret) names and UIDs. A token is accepted while it is unexpired, has one of the API server's
audiences, and the ServiceAccount (and bound object) still exist with the same UIDs and were not deleted more than
a minute ago — so deleting a pod revokes its token, as upstream's ``claims.go`` validator does.
"""

from __future__ import annotations

import base64
import datetime
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from pybernetes.api import errors
from pybernetes.api.field import invalid
from pybernetes.api.meta import parse_time
from pybernetes.api.resources import Resource
from pybernetes.api.typeinfo import of_kind
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.negotiation import choose
from pybernetes.apiserver.requestinfo import RequestInfo
from pybernetes.apiserver.respond import object_response

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler
    from pybernetes.apiserver.state import ServerState

Obj = dict[str, Any]
ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER, "k3s")
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 2 ** 32
LEEWAY = 60                     # seconds of clock skew tolerated on exp/nbf (go-jose's default leeway)
BOUND_KINDS = {"Pod": "core/pods", "Secret": "core/secrets", "Node": "core/nodes"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class TokenSigner:
    def __init__(self, key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(key_pem, None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.key = key
        self.public = key.public_key()
        der = self.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64(_sha256(der))

    def sign(self, claims: Obj) -> str:
        header = {"alg": "ES256", "kid": self.kid}
        signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> Obj | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(_unb64(parts[0]))
            if header.get("alg") != "ES256":
                return None
            raw = _unb64(parts[2])
            if len(raw) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            self.public.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = orjson.loads(_unb64(parts[1]))
        except (ValueError, InvalidSignature, orjson.JSONDecodeError):
            return None
        return claims if isinstance(claims, dict) else None

    def jwks(self) -> Obj:
        nums = self.public.public_numbers()
        return {"keys": [{"use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256", "alg": "ES256",
                          "x": _b64(nums.x.to_bytes(32, "big")), "y": _b64(nums.y.to_bytes(32, "big"))}]}


def _sha256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


def claims_for(sa: Obj, *, audiences: list[str], seconds: int, bound: Obj | None, now: float) -> Obj:
    meta = sa["metadata"]
    k8s: Obj = {"namespace": meta["namespace"], "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}}
    if bound is not None:
        kind = bound["kind"].lower()
        k8s[kind] = {"name": bound["name"], "uid": bound["uid"]}
        if bound.get("node"):
            k8s["node"] = bound["node"]
    iat = int(now)
    return {"aud": audiences, "exp": iat + seconds, "iat": iat, "iss": ISSUER, "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s, "nbf": iat, "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}"}


class ServiceAccountAuthenticator:
    """Bearer-token authenticator for our JWTs; looks the ServiceAccount (and bound object) up in the watch
    cache. ``clock`` (seconds since the epoch) is injectable for tests."""

    def __init__(self, state: ServerState, signer: TokenSigner, *, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.signer = signer
        self.clock = clock

    def _live(self, storage: str, key: str, uid: object, now: float) -> bool:
        """The object exists with this uid and was not deleted more than a minute ago (upstream's window)."""
        obj = self.state.cache.resource(storage).objects.get(f"/registry/{storage}/{key}")
        if obj is None or obj["metadata"].get("uid") != uid:
            return False
        deleted = obj["metadata"].get("deletionTimestamp")
        return not deleted or _epoch(deleted) >= now - LEEWAY

    def __call__(self, token: str) -> UserInfo | None:
        if token.count(".") != 2:
            return None
        claims = self.signer.verify(token)
        if claims is None or claims.get("iss") != ISSUER:
            return None
        now = self.clock()
        if not _number(claims.get("exp")) or claims["exp"] < now - LEEWAY or \
                (_number(claims.get("nbf")) and claims["nbf"] > now + LEEWAY):
            return None
        aud = claims.get("aud") or []
        if isinstance(aud, str):
            aud = [aud]
        if not any(a in API_AUDIENCES for a in aud):
            return None
        k8s = claims.get("kubernetes.io") or {}
        ns = k8s.get("namespace", "")
        sa_claim = k8s.get("serviceaccount") or {}
        if not ns or not self._live("core/serviceaccounts", f"{ns}/{sa_claim.get('name')}", sa_claim.get("uid"), now):
            return None
        extra: dict[str, tuple[str, ...]] = {}
        pod, secret, node = k8s.get("pod"), k8s.get("secret"), k8s.get("node")
        if pod and not self._live("core/pods", f"{ns}/{pod.get('name')}", pod.get("uid"), now):
            return None
        if secret and not self._live("core/secrets", f"{ns}/{secret.get('name')}", secret.get("uid"), now):
            return None
        if node and not pod and not self._live("core/nodes", str(node.get("name")), node.get("uid"), now):
            return None                     # a token bound to the Node itself dies with it
        if pod:
            extra["authentication.kubernetes.io/pod-name"] = (pod["name"],)
            extra["authentication.kubernetes.io/pod-uid"] = (pod["uid"],)
        if node:
            extra["authentication.kubernetes.io/node-name"] = (node["name"],)
            if node.get("uid"):
                extra["authentication.kubernetes.io/node-uid"] = (node["uid"],)
        extra["authentication.kubernetes.io/credential-id"] = (f"JTI={claims.get('jti', '')}",)
        return UserInfo(claims["sub"], uid=sa_claim.get("uid", ""),
                        groups=("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"),
                        extra=extra)


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _epoch(ts: str) -> float:
    try:
        return parse_time(ts).timestamp()
    except ValueError:
        return 0.0                      # unreadable: treat as long deleted


def validate_token_request(spec: Obj) -> list[Any]:
    """Upstream ``ValidateTokenRequest`` (expirationSeconds defaults to an hour before this runs)."""
    seconds = spec.get("expirationSeconds")
    if not _number(seconds) or seconds < MIN_EXPIRATION:
        return [invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")]
    if seconds > MAX_EXPIRATION:
        return [invalid("spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")]
    return []


def _gvk_string(api_version: str, kind: str) -> str:
    """Go's ``schema.GroupVersionKind.String()``: ``group/version, Kind=K`` (group empty for core)."""
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


async def token_request(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                        user: UserInfo) -> web.StreamResponse:
    """POST serviceaccounts/<name>/token → a TokenRequest with ``status.token`` (``kubectl create token``).

    In upstream's order (``TokenREST.Create``): validate the spec (422, unnamed), find the ServiceAccount (404),
    then the bound object: only a Pod running as this ServiceAccount, a Secret or a Node (else 400), whose uid
    must match the reference's if one is given (409)."""
    if info.verb != "create":
        raise errors.MethodNotAllowed("serviceaccounts/token", "", info.verb)
    ti = of_kind("authentication.k8s.io/v1", "TokenRequest")
    assert ti is not None
    opts = handler.write_options(request)
    body = await handler.decode_object(request, res, ti, mode=opts.field_validation, kind="TokenRequest",
                                       api_version="authentication.k8s.io/v1")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        spec = body["spec"] = {}
    if spec.get("expirationSeconds") is None:
        spec["expirationSeconds"] = DEFAULT_EXPIRATION
    if errs := validate_token_request(spec):
        raise errors.Invalid("TokenRequest", "authentication.k8s.io", "", errs)
    seconds = int(spec["expirationSeconds"])
    sa = await handler.rest.get(res, info.namespace, info.name)
    bound = None
    ref = spec.get("boundObjectRef")
    if ref:
        kind, api_version = ref.get("kind") or "", ref.get("apiVersion") or ""
        storage = BOUND_KINDS.get(kind) if api_version.rpartition("/")[0] == "" else None
        if storage is None:
            raise errors.BadRequest(f"cannot bind token to object of type {_gvk_string(api_version, kind)}")
        name = ref.get("name", "")
        key = f"/registry/{storage}/{name}" if kind == "Node" else f"/registry/{storage}/{info.namespace}/{name}"
        kv = await handler.state.store.get(key)
        if kv is None:
            raise errors.NotFound(storage.split("/")[1], "", name)
        obj = orjson.loads(kv.value)
        if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName") != info.name:
            raise errors.BadRequest(f'cannot bind token for serviceaccount "{info.name}" to pod running with '
                                    "different serviceaccount name.")
        uid = obj["metadata"].get("uid", "")
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.Conflict(kind, "", name, f"the UID in the bound object reference ({ref['uid']}) does not "
                                                  "match the UID in record. The object might have been deleted and "
                                                  "then recreated")
        bound = {"kind": kind, "name": name, "uid": uid}
        if kind == "Pod" and (obj.get("spec") or {}).get("nodeName"):
            node = obj["spec"]["nodeName"]
            nkv = await handler.state.store.get(f"/registry/core/nodes/{node}")
            if nkv is not None:
                bound["node"] = {"name": node, "uid": orjson.loads(nkv.value)["metadata"].get("uid", "")}
    audiences = spec.get("audiences") or [ISSUER]
    spec["audiences"] = audiences
    spec.setdefault("boundObjectRef", None)
    signer: TokenSigner = handler.state.extra["sa_signer"]
    now = time.time()
    token = signer.sign(claims_for(sa, audiences=audiences, seconds=seconds, bound=bound, now=now))
    exp = datetime.datetime.fromtimestamp(int(now) + seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = body.setdefault("metadata", {})
    meta.update({"name": info.name, "namespace": info.namespace, "creationTimestamp": None})
    body["status"] = {"token": token, "expirationTimestamp": exp}
    return object_response(choose(request.headers.get("Accept")), None, body, status=201)


def openid_configuration(advertise: str) -> Obj:
    return {"issuer": ISSUER, "jwks_uri": f"https://{advertise}/openid/v1/jwks", "response_types_supported":
            ["id_token"], "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["ES256"]}
