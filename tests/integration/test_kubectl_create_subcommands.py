"""`kubectl create <kind>` generators. kubectl 1.32+ sends most of these bodies as protobuf, so they also test
the server's protobuf decoding of each kind."""

from __future__ import annotations

import base64
import datetime
import json
import pathlib

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"


def get_json(server: Server, ns: str, kind: str, name: str) -> dict:
    args = ["-n", ns] if ns else []
    return json.loads(server.kubectl(*args, "get", kind, name, "-o", "json", version=V).stdout)


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def test_create_namespace(server: Server) -> None:
    name = "t-create-ns-subcommand"
    assert server.kubectl("create", "namespace", name, version=V).stdout == f"namespace/{name} created\n"
    obj = get_json(server, "", "namespace", name)
    assert obj["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    assert obj["spec"] == {"finalizers": ["kubernetes"]} and obj["status"] == {"phase": "Active"}
    p = server.kubectl("create", "namespace", name, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == f'Error from server (AlreadyExists): namespaces "{name}" already exists'
    p = server.kubectl("create", "namespace", "Not_Valid", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith('The Namespace "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": '
                               "a lowercase RFC 1123 label must consist of")


def test_create_configmap_from_literals_files_and_env(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    (tmp_path / "app.properties").write_text("color=blue\nsize=3\n")
    (tmp_path / "logo.bin").write_bytes(b"\x00\xffbinary")
    (tmp_path / "vars.env").write_text("# comment\nA=1\nB=two words\n")
    out = server.kubectl("-n", ns, "create", "configmap", "lit", "--from-literal=k1=v1", "--from-literal=k2=v=2",
                         version=V).stdout
    assert out == "configmap/lit created\n"
    assert get_json(server, ns, "configmap", "lit")["data"] == {"k1": "v1", "k2": "v=2"}
    server.kubectl("-n", ns, "create", "configmap", "files", f"--from-file={tmp_path / 'app.properties'}",
                   f"--from-file=logo={tmp_path / 'logo.bin'}", version=V)
    cm = get_json(server, ns, "configmap", "files")
    assert cm["data"] == {"app.properties": "color=blue\nsize=3\n"}
    assert cm["binaryData"] == {"logo": b64(b"\x00\xffbinary")}
    server.kubectl("-n", ns, "create", "configmap", "env", f"--from-env-file={tmp_path / 'vars.env'}", version=V)
    assert get_json(server, ns, "configmap", "env")["data"] == {"A": "1", "B": "two words"}


def _self_signed(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    crt, pem = tmp_path / "tls.crt", tmp_path / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    return crt, pem


def test_create_secrets(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    out = server.kubectl("-n", ns, "create", "secret", "generic", "gen", "--from-literal=user=admin",
                         "--from-literal=password=s3cr=t", version=V).stdout
    assert out == "secret/gen created\n"
    s = get_json(server, ns, "secret", "gen")
    assert s["type"] == "Opaque" and s["data"] == {"user": b64("admin"), "password": b64("s3cr=t")}

    server.kubectl("-n", ns, "create", "secret", "docker-registry", "reg", "--docker-server=registry.test",
                   "--docker-username=u", "--docker-password=p", "--docker-email=u@example.test", version=V)
    s = get_json(server, ns, "secret", "reg")
    assert s["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(s["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.test"]["username"] == "u"
    assert config["auths"]["registry.test"]["auth"] == b64("u:p")

    crt, key = _self_signed(tmp_path)
    server.kubectl("-n", ns, "create", "secret", "tls", "tls", f"--cert={crt}", f"--key={key}", version=V)
    s = get_json(server, ns, "secret", "tls")
    assert s["type"] == "kubernetes.io/tls"
    assert base64.b64decode(s["data"]["tls.crt"]) == crt.read_bytes()
    assert base64.b64decode(s["data"]["tls.key"]) == key.read_bytes()

    p = server.kubectl("-n", ns, "create", "secret", "generic", "bad", "--from-literal=no/slash=x", version=V,
                       check=False)
    assert p.returncode == 1
    assert "no/slash" in p.stderr


def test_create_deployment(server: Server, ns: str) -> None:
    out = server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.25", "--image=busybox",
                         "--replicas=3", version=V).stdout
    assert out == "deployment.apps/web created\n"
    dep = get_json(server, ns, "deployment", "web")
    assert dep["metadata"]["labels"] == {"app": "web"}
    assert dep["spec"]["replicas"] == 3 and dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:1.25"), ("busybox", "busybox")]
    assert [c["imagePullPolicy"] for c in containers] == ["IfNotPresent", "Always"]  # :latest when untagged
    server.kubectl("-n", ns, "create", "deployment", "port", "--image=nginx", "--port=8080", version=V)
    c = get_json(server, ns, "deployment", "port")["spec"]["template"]["spec"]["containers"][0]
    assert c["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    server.kubectl("-n", ns, "create", "deployment", "cmd", "--image=busybox", "--", "sleep", "3600", version=V)
    c = get_json(server, ns, "deployment", "cmd")["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["sleep", "3600"]


def test_create_service_account_role_and_binding(server: Server, ns: str) -> None:
    assert server.kubectl("-n", ns, "create", "serviceaccount", "robot", version=V).stdout == \
        "serviceaccount/robot created\n"
    sa = get_json(server, ns, "serviceaccount", "robot")
    assert sa["metadata"]["name"] == "robot" and sa["metadata"]["namespace"] == ns

    out = server.kubectl("-n", ns, "create", "role", "reader", "--verb=get,list,watch",
                         "--resource=pods,deployments.apps", "--resource=pods/log", version=V).stdout
    assert out == "role.rbac.authorization.k8s.io/reader created\n"
    rules = get_json(server, ns, "role", "reader")["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
    ]
    server.kubectl("-n", ns, "create", "role", "one", "--verb=get", "--resource=configmaps", "--resource-name=cfg",
                   version=V)
    assert get_json(server, ns, "role", "one")["rules"] == [
        {"apiGroups": [""], "resourceNames": ["cfg"], "resources": ["configmaps"], "verbs": ["get"]}]

    out = server.kubectl("-n", ns, "create", "rolebinding", "read", "--role=reader", f"--serviceaccount={ns}:robot",
                         "--user=alice", "--group=devs", version=V).stdout
    assert out == "rolebinding.rbac.authorization.k8s.io/read created\n"
    rb = get_json(server, ns, "rolebinding", "read")
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}
    assert rb["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"},
        {"kind": "ServiceAccount", "name": "robot", "namespace": ns},
    ]
    server.kubectl("-n", ns, "create", "rolebinding", "view", "--clusterrole=view", "--user=bob", version=V)
    assert get_json(server, ns, "rolebinding", "view")["roleRef"]["kind"] == "ClusterRole"
    # The binding grants what the role says, to the service account and to whoever impersonates it.
    robot = f"system:serviceaccount:{ns}:robot"
    assert server.kubectl("-n", ns, "auth", "can-i", "list", "pods", f"--as={robot}", version=V).stdout == "yes\n"
    p = server.kubectl("-n", ns, "auth", "can-i", "delete", "pods", f"--as={robot}", version=V, check=False)
    assert (p.returncode, p.stdout) == (1, "no\n")
    p = server.kubectl("-n", ns, "get", "configmaps", f"--as={robot}", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (f'Error from server (Forbidden): configmaps is forbidden: User "{robot}" cannot list '
                                f'resource "configmaps" in API group "" in the namespace "{ns}"')


def test_create_token_authenticates_as_the_service_account(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "serviceaccount", "robot", version=V)
    token = server.kubectl("-n", ns, "create", "token", "robot", "--duration=10m", version=V).stdout.strip()
    _header, claims, _sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert payload["sub"] == f"system:serviceaccount:{ns}:robot"
    assert 590 <= payload["exp"] - payload["iat"] <= 610
    # A kubeconfig with the token alone (a client certificate would win over it, on a real server too).
    admin = yaml.safe_load(server.kubeconfig.read_text())
    config = {"apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"],
              "users": [{"name": "robot", "user": {"token": token}}],
              "contexts": [{"name": "robot", "context": {"cluster": admin["clusters"][0]["name"], "user": "robot"}}],
              "current-context": "robot"}
    path = tmp_path / "robot.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    out = server.kubectl("--kubeconfig", str(path), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}",
                         version=V).stdout
    assert out == f"system:serviceaccount:{ns}:robot"
    p = server.kubectl("--kubeconfig", str(path), "-n", ns, "get", "pods", version=V, check=False)
    assert p.returncode == 1 and "Error from server (Forbidden): pods is forbidden" in p.stderr


def test_create_invalid_role(server: Server, ns: str) -> None:
    p = server.kubectl("-n", ns, "create", "role", "bad", "--verb=get", "--resource=nosuchthings", version=V,
                       check=False)
    assert p.returncode == 1  # kubectl checks the resource against discovery
    assert p.stderr.strip() == 'the server doesn\'t have a resource type "nosuchthings"'
    assert server.kubectl("-n", ns, "get", "roles", "-o", "name", version=V).stdout == ""


@pytest.mark.parametrize(("args", "kind", "check"), [
    (["clusterrole", "{n}", "--verb=get,list", "--resource=nodes"], "clusterrole",
     lambda o: o["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]),
    (["clusterrolebinding", "{n}", "--clusterrole=view", "--user=carol"], "clusterrolebinding",
     lambda o: o["roleRef"]["name"] == "view" and o["subjects"][0]["name"] == "carol"),
    (["priorityclass", "{n}", "--value=1000", "--description=for tests"], "priorityclass",
     lambda o: o["value"] == 1000 and o["preemptionPolicy"] == "PreemptLowerPriority"
     and o["description"] == "for tests"),
], ids=["clusterrole", "clusterrolebinding", "priorityclass"])
def test_create_cluster_scoped(server: Server, ns: str, args: list[str], kind: str, check) -> None:
    name = f"{ns}-{kind}"[:63]
    argv = [a.format(n=name) for a in args]
    out = server.kubectl("create", *argv, version=V).stdout
    assert out.endswith(f"/{name} created\n")
    try:
        obj = get_json(server, "", kind, name)
        assert "namespace" not in obj["metadata"]
        assert check(obj), obj
    finally:
        server.kubectl("delete", kind, name, version=V)


def test_create_workload_and_policy_generators(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *", "--",
                   "echo", "hi", version=V)
    cj = get_json(server, ns, "cronjob", "nightly")
    assert cj["spec"]["schedule"] == "0 3 * * *"
    assert cj["spec"]["concurrencyPolicy"] == "Allow" and cj["spec"]["suspend"] is False
    server.kubectl("-n", ns, "create", "job", "once", "--from=cronjob/nightly", version=V)
    job = get_json(server, ns, "job", "once")
    assert job["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    assert job["metadata"]["ownerReferences"][0]["uid"] == cj["metadata"]["uid"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["backoffLimit"] == 6 and job["spec"]["completions"] == 1
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/controller-uid"] == job["metadata"]["uid"]  # set by the server
    assert job["spec"]["selector"]["matchLabels"] == {"batch.kubernetes.io/controller-uid": job["metadata"]["uid"]}

    server.kubectl("-n", ns, "create", "quota", "q", "--hard=pods=10,requests.cpu=2", version=V)
    assert get_json(server, ns, "resourcequota", "q")["spec"]["hard"] == {"pods": "10", "requests.cpu": "2"}
    server.kubectl("-n", ns, "create", "pdb", "pdb", "--selector=app=web", "--min-available=50%", version=V)
    pdb = get_json(server, ns, "pdb", "pdb")
    assert pdb["spec"] == {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}
    server.kubectl("-n", ns, "create", "ingress", "ing", "--class=default", "--rule=foo.test/api*=api:8080",
                   version=V)
    ing = get_json(server, ns, "ingress", "ing")
    assert ing["spec"]["ingressClassName"] == "default"
    [rule] = ing["spec"]["rules"]
    assert rule["host"] == "foo.test"
    assert rule["http"]["paths"] == [{"path": "/api", "pathType": "Prefix",
                                      "backend": {"service": {"name": "api", "port": {"number": 8080}}}}]


@pytest.mark.parametrize(("kind", "extra", "check"), [
    ("clusterip", ["--tcp=80:8080"], lambda s: s["spec"]["type"] == "ClusterIP"
     and s["spec"]["clusterIP"].startswith("10.43.")),
    ("clusterip", ["--clusterip=None"], lambda s: s["spec"]["clusterIP"] == "None"),
    ("nodeport", ["--tcp=80:8080", "--node-port=30123"], lambda s: s["spec"]["ports"][0]["nodePort"] == 30123),
    ("nodeport", ["--tcp=80:8080"], lambda s: 30000 <= s["spec"]["ports"][0]["nodePort"] <= 32767),
    ("loadbalancer", ["--tcp=443"], lambda s: s["spec"]["type"] == "LoadBalancer"
     and s["spec"]["allocateLoadBalancerNodePorts"] is True and s["status"] == {"loadBalancer": {}}),
    ("externalname", ["--external-name=db.example.test"], lambda s: s["spec"]["externalName"] == "db.example.test"
     and "clusterIP" not in s["spec"]),
], ids=["clusterip", "headless", "nodeport-fixed", "nodeport-allocated", "loadbalancer", "externalname"])
def test_create_service(server: Server, ns: str, kind: str, extra: list[str], check) -> None:
    assert server.kubectl("-n", ns, "create", "service", kind, "svc", *extra, version=V).stdout == \
        "service/svc created\n"
    svc = get_json(server, ns, "service", "svc")
    assert check(svc), svc


def test_create_service_with_taken_node_port(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "service", "nodeport", "a", "--tcp=80", "--node-port=30234", version=V)
    p = server.kubectl("-n", ns, "create", "service", "nodeport", "b", "--tcp=80", "--node-port=30234", version=V,
                       check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == ('error: failed to create NodePort service: Service "b" is invalid: '
                                "spec.ports[0].nodePort: Invalid value: 30234: provided port is already allocated")
