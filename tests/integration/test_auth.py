"""Authentication and RBAC end to end with the real kubectl: ServiceAccount tokens from ``kubectl create token``
(accepted, forbidden until a RoleBinding grants ``view``, revoked with their ServiceAccount, refused for a foreign
audience), ``kubectl auth can-i --as``, impersonation by the admin and refused for others, client-certificate
users and their groups, and the ServiceAccount issuer's JWKS."""

from __future__ import annotations

import base64
import pathlib
import subprocess
from collections.abc import Iterator

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pybernetes.apiserver import kubeconfig
from pybernetes.apiserver.certs import ensure_pki, issue_client
from tests.harness import Server, kubectl_binary

pytestmark = pytest.mark.integration
# kubectl 1.28+ on a 401: its discovery client drops the Status message
UNAUTHORIZED = "You must be logged in to the server"


class User:
    """kubectl as someone else: a kubeconfig of its own (token or client certificate), same server and CA."""

    def __init__(self, server: Server, path: pathlib.Path, *, token: str | None = None,
                 cert: tuple[bytes, bytes] | None = None) -> None:
        self.server = server
        self.path = path
        ca = (server.data_dir / "tls" / "server-ca.crt").read_bytes()
        kubeconfig.write(path, kubeconfig.render(server=server.url, ca_pem=ca, token=token,
                                                 cert_pem=cert[0] if cert else None,
                                                 key_pem=cert[1] if cert else None))

    def kubectl(self, *args: str, version: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
        cache = self.path.parent / f"cache-{self.path.stem}-{version or 'default'}"
        cmd = [kubectl_binary(version), "--kubeconfig", str(self.path), "--cache-dir", str(cache), *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env={"HOME": str(self.path.parent), "PATH": "/usr/bin:/bin"})
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p


def b64url(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@pytest.fixture()
def robot(server: Server, ns: str, tmp_path: pathlib.Path) -> Iterator[tuple[str, str]]:
    """A ServiceAccount ``robot`` in the test namespace and a token for it from ``kubectl create token``."""
    server.kubectl("-n", ns, "create", "serviceaccount", "robot")
    token = server.kubectl("-n", ns, "create", "token", "robot").stdout.strip()
    assert token.count(".") == 2
    yield f"system:serviceaccount:{ns}:robot", token


def test_service_account_token_is_forbidden_until_bound_to_view(server: Server, ns: str, robot: tuple[str, str],
                                                                tmp_path: pathlib.Path) -> None:
    name, token = robot
    sa = User(server, tmp_path / "robot.kubeconfig", token=token)
    p = sa.kubectl("-n", ns, "get", "pods")
    assert p.returncode == 1
    assert f'Error from server (Forbidden): pods is forbidden: User "{name}" cannot list resource "pods" in API ' \
           f'group "" in the namespace "{ns}"' in p.stderr
    server.kubectl("-n", ns, "create", "rolebinding", "robot-view", "--clusterrole=view",
                   f"--serviceaccount={ns}:robot")
    p = sa.kubectl("-n", ns, "get", "pods", check=True)
    assert f"No resources found in {ns} namespace." in p.stderr
    sa.kubectl("-n", ns, "get", "serviceaccounts", "robot", check=True)
    # view: no writes, no secrets, nothing in other namespaces, nothing cluster-scoped
    for args in (("create", "configmap", "x"), ("get", "secrets")):
        p = sa.kubectl("-n", ns, *args)
        assert p.returncode == 1 and "is forbidden" in p.stderr, (args, p.stderr)
    p = sa.kubectl("-n", "default", "get", "pods")
    assert p.returncode == 1 and 'cannot list resource "pods" in API group "" in the namespace "default"' in p.stderr
    p = sa.kubectl("get", "nodes")
    assert p.returncode == 1 and 'cannot list resource "nodes" in API group "" at the cluster scope' in p.stderr
    # the token's own view of itself
    assert sa.kubectl("-n", ns, "auth", "can-i", "list", "pods").stdout == "yes\n"
    p = sa.kubectl("-n", ns, "auth", "can-i", "delete", "pods")
    assert (p.returncode, p.stdout) == (1, "no\n")
    who = orjson.loads(sa.kubectl("auth", "whoami", "-o", "json", check=True).stdout)
    assert who["status"]["userInfo"]["username"] == name
    assert set(who["status"]["userInfo"]["groups"]) >= {"system:serviceaccounts", f"system:serviceaccounts:{ns}",
                                                        "system:authenticated"}


def test_service_account_tokens_are_revoked_and_audience_bound(server: Server, ns: str, robot: tuple[str, str],
                                                               tmp_path: pathlib.Path) -> None:
    _, token = robot
    server.kubectl("-n", ns, "create", "rolebinding", "robot-view", "--clusterrole=view",
                   f"--serviceaccount={ns}:robot")
    sa = User(server, tmp_path / "robot.kubeconfig", token=token)
    sa.kubectl("-n", ns, "get", "pods", check=True)
    foreign = server.kubectl("-n", ns, "create", "token", "robot", "--audience=vault").stdout.strip()
    p = User(server, tmp_path / "vault.kubeconfig", token=foreign).kubectl("-n", ns, "get", "pods")
    assert p.returncode == 1 and UNAUTHORIZED in p.stderr
    p = server.kubectl("-n", ns, "create", "token", "robot", "--duration=5m", check=False)
    assert p.returncode == 1
    assert 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 300: may not ' \
           'specify a duration less than 10 minutes' in p.stderr
    server.kubectl("-n", ns, "delete", "serviceaccount", "robot")
    p = sa.kubectl("-n", ns, "get", "pods")
    assert p.returncode == 1 and UNAUTHORIZED in p.stderr
    server.kubectl("-n", ns, "create", "serviceaccount", "robot")          # same name, another object
    p = sa.kubectl("-n", ns, "get", "pods")
    assert p.returncode == 1 and UNAUTHORIZED in p.stderr


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_auth_can_i_as_a_service_account(server: Server, ns: str, version: str) -> None:
    sa = f"system:serviceaccount:{ns}:builder"
    server.kubectl("-n", ns, "create", "serviceaccount", "builder")

    def can(*args: str) -> str:
        p = server.kubectl("-n", ns, "auth", "can-i", *args, f"--as={sa}", version=version, check=False)
        assert p.returncode == (0 if p.stdout == "yes\n" else 1), p.stderr
        return p.stdout.strip()

    assert can("list", "pods") == "no"
    server.kubectl("-n", ns, "create", "rolebinding", "b-view", "--clusterrole=view", f"--serviceaccount={ns}:builder")
    assert (can("list", "pods"), can("get", "deployments.apps"), can("watch", "services")) == ("yes", "yes", "yes")
    assert (can("delete", "pods"), can("list", "secrets"), can("create", "deployments.apps")) == ("no", "no", "no")
    assert can("list", "pods", "--all-namespaces") == "no"
    server.kubectl("-n", ns, "create", "role", "scaler", "--verb=get,update,patch", "--resource=deployments/scale")
    server.kubectl("-n", ns, "create", "rolebinding", "b-scale", "--role=scaler", f"--serviceaccount={ns}:builder")
    assert can("update", "deployments.apps", "--subresource=scale") == "yes"
    assert can("update", "deployments.apps") == "no"


def test_impersonation_by_the_admin_and_refused_for_others(server: Server, ns: str, robot: tuple[str, str],
                                                           tmp_path: pathlib.Path) -> None:
    robot_name, token = robot
    p = server.kubectl("-n", ns, "get", "pods", "--as=jane", check=False)
    assert p.returncode == 1
    assert f'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "{ns}"' \
        in p.stderr
    server.kubectl("-n", ns, "create", "rolebinding", "jane-edit", "--clusterrole=edit", "--user=jane")
    server.kubectl("-n", ns, "create", "configmap", "by-jane", "--from-literal=a=1", "--as=jane")
    who = orjson.loads(server.kubectl("auth", "whoami", "-o", "json", "--as=jane", "--as-group=devs").stdout)
    assert who["status"]["userInfo"]["username"] == "jane"
    assert who["status"]["userInfo"]["groups"] == ["devs", "system:authenticated"]
    # a non-admin may not impersonate
    server.kubectl("-n", ns, "create", "rolebinding", "robot-view", "--clusterrole=view",
                   f"--serviceaccount={ns}:robot")
    sa = User(server, tmp_path / "robot.kubeconfig", token=token)
    p = sa.kubectl("-n", ns, "get", "configmaps", "--as=jane")
    assert p.returncode == 1 and "Error from server (Forbidden)" in p.stderr   # its discovery is refused too
    p = sa.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/configmaps", "--as=jane")
    assert p.returncode == 1
    assert f'Error from server (Forbidden): users "jane" is forbidden: User "{robot_name}" cannot impersonate ' \
           'resource "users" in API group "" at the cluster scope' in p.stderr
    # until RBAC lets it impersonate that one user
    server.kubectl("create", "clusterrole", f"impersonate-jane-{ns}", "--verb=impersonate", "--resource=users",
                   "--resource-name=jane")
    server.kubectl("create", "clusterrolebinding", f"robot-impersonates-{ns}", f"--clusterrole=impersonate-jane-{ns}",
                   f"--serviceaccount={ns}:robot")
    try:
        assert "by-jane" in sa.kubectl("-n", ns, "get", "configmaps", "--as=jane", check=True).stdout
        p = sa.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/configmaps", "--as=bob")
        assert p.returncode == 1 and 'users "bob" is forbidden' in p.stderr
        p = sa.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/configmaps", "--as=jane",
                       "--as-group=system:masters")
        assert p.returncode == 1 and 'groups "system:masters" is forbidden' in p.stderr
    finally:
        server.kubectl("delete", "clusterrolebinding", f"robot-impersonates-{ns}")
        server.kubectl("delete", "clusterrole", f"impersonate-jane-{ns}")


def test_client_certificate_users_get_rbac_answers(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    jane = User(server, tmp_path / "jane.kubeconfig", cert=issue_client(server.data_dir, cn="jane", org="dev"))
    who = orjson.loads(jane.kubectl("auth", "whoami", "-o", "json", check=True).stdout)
    assert who["status"]["userInfo"]["username"] == "jane"
    assert who["status"]["userInfo"]["groups"] == ["dev", "system:authenticated"]
    p = jane.kubectl("-n", ns, "get", "pods")
    assert p.returncode == 1 and 'User "jane" cannot list resource "pods"' in p.stderr
    assert jane.kubectl("-n", ns, "auth", "can-i", "create", "deployments").stdout == "no\n"
    server.kubectl("-n", ns, "create", "rolebinding", "dev-edit", "--clusterrole=edit", "--group=dev")
    assert jane.kubectl("-n", ns, "auth", "can-i", "create", "deployments").stdout == "yes\n"
    jane.kubectl("-n", ns, "create", "deployment", "web", "--image=busybox", check=True)
    assert jane.kubectl("-n", ns, "get", "deployments", "-o", "name", check=True).stdout == "deployment.apps/web\n"
    p = jane.kubectl("-n", ns, "create", "rolebinding", "escalate", "--clusterrole=admin", "--user=jane")
    assert p.returncode == 1 and "is forbidden" in p.stderr       # edit does not manage RBAC
    p = jane.kubectl("-n", "kube-system", "get", "pods")
    assert p.returncode == 1 and "is forbidden" in p.stderr
    # a certificate from another CA is not a user at all
    other = tmp_path / "other"
    ensure_pki(other)
    stranger = User(server, tmp_path / "stranger.kubeconfig", cert=issue_client(other, cn="jane", org="dev"))
    # A raw GET, not `get pods`: over a refused handshake kubectl's discovery retries for ~50 s before it gives up.
    p = stranger.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods")
    # Upstream requests client certificates without verifying them in TLS and answers 401; we refuse the TLS
    # handshake. Either way the stranger gets nothing.
    assert p.returncode == 1 and "No resources found" not in p.stderr
    refused = p.stderr.startswith("Unable to connect to the server: ") and any(
        m in p.stderr for m in ("EOF", "connection reset", "tls"))      # TLS 1.3: the alert may come after "Finished"
    assert UNAUTHORIZED in p.stderr or refused, p.stderr
    assert jane.kubectl("-n", ns, "get", "deployments", "-o", "name").returncode == 0   # the server is fine


def test_the_issuer_publishes_its_keys_and_they_verify_tokens(server: Server, ns: str,
                                                              robot: tuple[str, str]) -> None:
    _, token = robot
    jwks = orjson.loads(server.kubectl("get", "--raw", "/openid/v1/jwks").stdout)
    conf = orjson.loads(server.kubectl("get", "--raw", "/.well-known/openid-configuration").stdout)
    assert conf["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert conf["jwks_uri"].endswith("/openid/v1/jwks")
    assert "ES256" in conf["id_token_signing_alg_values_supported"]
    header_b64, payload_b64, sig_b64 = token.split(".")
    header = orjson.loads(b64url(header_b64))
    (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    x, y = (int.from_bytes(b64url(key[c]), "big") for c in ("x", "y"))
    pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    sig = b64url(sig_b64)
    pub.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
               f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = orjson.loads(b64url(payload_b64))
    assert claims["iss"] == conf["issuer"] and claims["sub"] == f"system:serviceaccount:{ns}:robot"
    assert claims["kubernetes.io"]["namespace"] == ns
