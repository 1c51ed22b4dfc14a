"""registries.yaml (k3s's format) and pull-secret keyrings (the kubelet's matching rules)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from pybernetes.kubelet.images.config import (
    ConfigError,
    Credential,
    RegistriesConfig,
    TLSConfig,
    endpoint_url,
    go_replacement,
    keyring_from_secrets,
    load,
)


@pytest.mark.parametrize(("address", "registry", "api"), [
    ("127.0.0.1:5000", "127.0.0.1:5000", "http://127.0.0.1:5000/v2"),
    ("localhost:5000", "localhost:5000", "http://localhost:5000/v2"),
    ("localhost:443", "localhost:443", "https://localhost:443/v2"),
    ("localhost", "localhost", "https://localhost/v2"),
    ("[::1]:5000", "[::1]:5000", "http://[::1]:5000/v2"),
    ("mirror.example.com", "mirror.example.com", "https://mirror.example.com/v2"),
    ("mirror.example.com:5000", "mirror.example.com:5000", "https://mirror.example.com:5000/v2"),
    ("http://mirror.example.com/", "mirror.example.com", "http://mirror.example.com/v2"),
    ("https://mirror.example.com/v2", "mirror.example.com", "https://mirror.example.com/v2"),
    ("https://harbor.example.com/v2/proxy-docker", "harbor.example.com", "https://harbor.example.com/v2/proxy-docker"),
    ("docker.io", "docker.io", "https://registry-1.docker.io/v2"),
    ("index.docker.io", "docker.io", "https://registry-1.docker.io/v2"),
    ("https://registry-1.docker.io", "docker.io", "https://registry-1.docker.io/v2"),
])
def test_endpoint_url(address: str, registry: str, api: str) -> None:
    assert endpoint_url(address)[:2] == (registry, api)


def apis(cfg: RegistriesConfig, registry: str) -> list[str]:
    return [e.api for e in cfg.endpoints(registry)]


def test_mirrors_then_default_endpoint() -> None:
    cfg = RegistriesConfig.parse({"mirrors": {
        "docker.io": {"endpoint": ["http://127.0.0.1:5000", "mirror.example.com", "http://127.0.0.1:5000/"]},
        "*": {"endpoint": ["https://any.example.com"]},
        "quay.io": {"endpoint": ["https://quay-mirror.example.com", "quay.io"]},
    }})
    assert apis(cfg, "docker.io") == ["http://127.0.0.1:5000/v2", "https://mirror.example.com/v2",
                                      "https://registry-1.docker.io/v2"]
    assert [e.default for e in cfg.endpoints("docker.io")] == [False, False, True]
    assert apis(cfg, "ghcr.io") == ["https://any.example.com/v2", "https://ghcr.io/v2"]
    assert apis(cfg, "quay.io") == ["https://quay-mirror.example.com/v2", "https://quay.io/v2"]
    assert apis(RegistriesConfig(), "localhost:5000") == ["http://localhost:5000/v2"]


@pytest.mark.parametrize("how", ["flag", "yaml"])
def test_disable_default_endpoint(how: str) -> None:
    data: dict = {"mirrors": {"docker.io": {"endpoint": ["http://127.0.0.1:5000"]}}}
    if how == "yaml":
        data["disable_default_endpoint"] = True
    cfg = RegistriesConfig.parse(data, disable_default_endpoint=how == "flag")
    assert apis(cfg, "docker.io") == ["http://127.0.0.1:5000/v2"]
    assert apis(cfg, "quay.io") == ["https://quay.io/v2"]         # only registries that have mirrors


def test_configs_per_endpoint_host() -> None:
    cfg = RegistriesConfig.parse({
        "mirrors": {"docker.io": {"endpoint": ["https://mirror.example.com:8443"]}},
        "configs": {
            "mirror.example.com:8443": {"auth": {"username": "m", "password": "pw"},
                                        "tls": {"ca_file": "/ca.pem", "insecure_skip_verify": False}},
            "docker.io": {"auth": {"auth": base64.b64encode(b"hub:tok:en").decode()}},
            "*": {"tls": {"insecure_skip_verify": True}},
        }})
    mirror, hub = cfg.endpoints("docker.io")
    assert mirror.credentials == (Credential(username="m", password="pw"),)
    assert mirror.tls == TLSConfig(ca_file="/ca.pem")
    assert hub.credentials[0].username == "hub" and hub.credentials[0].password == "tok:en"
    assert cfg.endpoints("ghcr.io")[0].tls == TLSConfig(insecure_skip_verify=True)


def test_rewrites_only_on_mirrors() -> None:
    cfg = RegistriesConfig.parse({"mirrors": {"docker.io": {
        "endpoint": ["https://mirror.example.com"],
        "rewrite": {"^library/(.*)": "mirrored/$1", "^rancher/(?P<rest>.*)": "r/${rest}"}}}})
    mirror, hub = cfg.endpoints("docker.io")
    assert mirror.repository("library/nginx") == "mirrored/nginx"
    assert mirror.repository("rancher/k3s") == "r/k3s"
    assert mirror.repository("team/app") == "team/app"
    assert hub.repository("library/nginx") == "library/nginx"


@pytest.mark.parametrize(("go", "py"), [("$1", r"\g<1>"), ("${1}x", r"\g<1>x"), ("${name}", r"\g<name>"),
                                        ("a$$b", "a$b"), (r"a\b", r"a\\b")])
def test_go_replacement(go: str, py: str) -> None:
    assert go_replacement(go) == py
    re.compile("(?P<name>x)").sub(py, "x")


@pytest.mark.parametrize(("data", "error"), [
    ([], "expected a mapping"),
    ({"mirrors": {"docker.io": {"endpoint": "http://x"}}}, "expected a list"),
    ({"mirrors": {"docker.io": {"endpoint": ["ftp://x"]}}}, "invalid endpoint scheme"),
    ({"mirrors": {"docker.io": {"endpoint": [], "rewrite": {"(": "x"}}}}, "invalid pattern"),
    ({"configs": {"r": {"auth": {"auth": "bm9jb2xvbg=="}}}}, "not base64 of user:password"),
    ({"configs": {"r": {"tls": {"cert_file": "/c.pem"}}}}, "go together"),
])
def test_invalid_configs(data: object, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        RegistriesConfig.parse(data)


def test_load(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text('mirrors:\n  "docker.io":\n    endpoint:\n      - "http://127.0.0.1:5000"\n')
    assert apis(load(path), "docker.io")[0] == "http://127.0.0.1:5000/v2"
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.yaml")
    path.write_text("mirrors: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(path)


# ------------------------------------------------------------------------------------------------ keyrings

def secret(auths: dict, *, kind: str = "kubernetes.io/dockerconfigjson") -> dict:
    if kind == "kubernetes.io/dockerconfigjson":
        key, doc = ".dockerconfigjson", {"auths": auths}
    else:
        key, doc = ".dockercfg", auths
    return {"type": kind, "metadata": {"name": "s"},
            "data": {key: base64.b64encode(json.dumps(doc).encode()).decode()}}


def userpass(u: str) -> dict:
    return {"username": u, "password": "pw"}


@pytest.mark.parametrize(("auths", "image", "users"), [
    ({"quay.io": userpass("q"), "quay.io/coreos": userpass("c")}, "quay.io/coreos/etcd:3", ["c", "q"]),
    ({"quay.io": userpass("q")}, "quay.io/other/app", ["q"]),
    ({"https://index.docker.io/v1/": userpass("hub")}, "nginx", ["hub"]),
    ({"https://index.docker.io/v1/": userpass("hub")}, "docker.io/team/app:1", ["hub"]),
    ({"docker.io": userpass("hub")}, "nginx:1.25", ["hub"]),
    ({"*.example.com": userpass("wild")}, "registry.example.com/app", ["wild"]),
    ({"*.example.com": userpass("wild")}, "a.b.example.com/app", []),
    ({"registry.example.com:5000": userpass("p")}, "registry.example.com/app", []),
    ({"registry.example.com:5000": userpass("p")}, "registry.example.com:5000/app", ["p"]),
    ({"http://registry.example.com/v2/team": userpass("t")}, "registry.example.com/team/app", ["t"]),
    ({"registry.example.com/team": userpass("t")}, "registry.example.com/other/app", []),
    ({"localhost:5000": {"auth": base64.b64encode(b"a:b").decode()}}, "localhost:5000/x", ["a"]),
])
def test_keyring_lookup(auths: dict, image: str, users: list[str]) -> None:
    ring = keyring_from_secrets([secret(auths)])
    assert [c.username for c in ring.lookup(image)] == users


def test_keyring_secret_kinds() -> None:
    ring = keyring_from_secrets([
        secret({"r.example.com": userpass("cfg")}, kind="kubernetes.io/dockercfg"),
        {"type": "Opaque", "data": {".dockerconfigjson": "e30="}},
        {"type": "kubernetes.io/dockerconfigjson", "data": {}},
    ])
    assert [c.username for c in ring.lookup("r.example.com/app")] == ["cfg"]
    with pytest.raises(ConfigError, match="not base64-encoded JSON"):
        keyring_from_secrets([{"type": "kubernetes.io/dockerconfigjson", "metadata": {"name": "bad"},
                               "data": {".dockerconfigjson": base64.b64encode(b"{nope").decode()}}])


def test_credentials_never_print_secrets() -> None:
    assert "pw" not in repr(Credential(username="u", password="pw"))
