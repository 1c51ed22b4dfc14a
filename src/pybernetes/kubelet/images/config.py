"""Where images come from and with which credentials: k3s's ``registries.yaml`` and pods' ``imagePullSecrets``.

``registries.yaml`` (k3s's format, read from ``--registry-config``, default ``/etc/pybernetes/registries.yaml``)::

    mirrors:
      docker.io:
        endpoint: ["http://127.0.0.1:5000"]
        rewrite: {"^library/(.*)": "mirrored/$1"}
      "*":
        endpoint: ["https://mirror.example.com"]
    configs:
      mirror.example.com:
        auth: {username: u, password: p}          # or auth: base64(u:p), or identitytoken: …
        tls: {insecure_skip_verify: false, ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem}

:meth:`RegistriesConfig.endpoints` turns that into the ordered list of places to try, as containerd's hosts
resolution does for k3s: the mirror endpoints in order, then the registry itself (the *default endpoint*, never
rewritten), unless ``disable_default_endpoint``. An endpoint without a scheme is ``https``, except a loopback
host on a port other than 443, which is ``http``; its path is ``/v2`` unless it names another one (then that path
is the API root, k3s's "override path"). ``configs`` are looked up by the endpoint's host (``docker.io`` also
answers for ``registry-1.docker.io``); ``*`` holds defaults for both maps.

One pybernetes extension, ignored by k3s: a top-level ``disable_default_endpoint: true`` does what k3s's
``--disable-default-registry-endpoint`` flag does — registries that have a ``mirrors`` entry are pulled from
their mirrors only (air-gapped nodes, and tests that must never reach the internet).

Pull secrets (``kubernetes.io/dockerconfigjson`` and ``kubernetes.io/dockercfg``) become a :class:`Keyring`,
matched against an image as the kubelet's credential keyring does: host globs per label (``*.example.com``),
equal ports, path prefixes, most specific first, and ``index.docker.io``/``docker.io`` entries for Docker Hub.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import ipaddress
import json
import pathlib
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from pybernetes.kubelet.images.reference import DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, InvalidReference, parse

DEFAULT_PATH = pathlib.Path("/etc/pybernetes/registries.yaml")
DOCKER_HUB_HOST = "registry-1.docker.io"
DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
_HUB_NAMES = frozenset({DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_HOST})


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Credential:
    """One set of registry credentials (CRI's ``AuthConfig``)."""

    username: str = ""
    password: str = ""
    identity_token: str = ""           # an OAuth2 refresh token: exchanged at the token endpoint with a POST
    registry_token: str = ""           # a bearer token sent as is

    def __repr__(self) -> str:         # never print secrets in logs or test failures
        return f"Credential(username={self.username!r})"

    @classmethod
    def from_auth(cls, *, username: str = "", password: str = "", auth: str = "", identity_token: str = "",
                  registry_token: str = "") -> Credential:
        """``auth`` (base64 of ``user:password``) wins over ``username``/``password``, as in Docker's config."""
        if auth:
            username, password = decode_auth(auth)
        return cls(username=username, password=password, identity_token=identity_token,
                   registry_token=registry_token)

    @classmethod
    def from_cri(cls, m: Mapping[str, str]) -> Credential:
        """From a CRI-style mapping (``username``, ``password``, ``auth``, ``identitytoken``, ``registrytoken``)."""
        return cls.from_auth(username=m.get("username", ""), password=m.get("password", ""),
                             auth=m.get("auth", ""),
                             identity_token=m.get("identitytoken", m.get("identity_token", "")),
                             registry_token=m.get("registrytoken", m.get("registry_token", "")))


def decode_auth(auth: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(auth.strip(), validate=False).decode()
    except (binascii.Error, UnicodeDecodeError) as e:
        raise ConfigError(f"auth is not base64 of user:password: {e}") from None
    user, sep, password = text.partition(":")
    if not sep:
        raise ConfigError("auth is not base64 of user:password")
    return user, password


@dataclass(frozen=True, slots=True)
class TLSConfig:
    insecure_skip_verify: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


@dataclass(frozen=True, slots=True)
class HostConfig:
    credential: Credential | None = None
    tls: TLSConfig | None = None


@dataclass(frozen=True, slots=True)
class Mirror:
    endpoints: tuple[str, ...] = ()
    rewrites: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One place to fetch a registry's content from: ``api`` is the API root (``http://127.0.0.1:5000/v2``)."""

    api: str
    registry: str                      # the registry this endpoint serves (``docker.io``)
    host: str                          # the endpoint's own host[:port]
    default: bool = False              # the registry itself (never rewritten) rather than a mirror
    credentials: tuple[Credential, ...] = ()
    tls: TLSConfig | None = None
    rewrites: tuple[tuple[re.Pattern[str], str], ...] = ()

    def repository(self, path: str) -> str:
        """The repository path to ask this endpoint for: the first matching rewrite applied (mirrors only)."""
        for pattern, repl in self.rewrites:
            if pattern.search(path):
                return pattern.sub(repl, path, count=1)
        return path

    def with_credentials(self, creds: Iterable[Credential]) -> Endpoint:
        return Endpoint(api=self.api, registry=self.registry, host=self.host, default=self.default,
                        credentials=(*creds, *self.credentials), tls=self.tls, rewrites=self.rewrites)


def _split_port(host: str) -> tuple[str, str]:
    """``host:port`` → (host, port); IPv6 literals in brackets; no port → ""."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest.lstrip(":")
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, ""


def is_loopback(host: str) -> bool:
    name, _ = _split_port(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint_url(address: str) -> tuple[str, str, str]:
    """``(registry name, api root URL, host)`` of an endpoint address, as k3s normalises it."""
    if "://" not in address:
        address = "//" + address
    u = urllib.parse.urlsplit(address)
    if not u.netloc:
        raise ConfigError(f"invalid endpoint {address.lstrip('/')!r}")
    scheme = u.scheme
    if not scheme:
        _, port = _split_port(u.netloc)
        scheme = "http" if is_loopback(u.netloc) and port not in ("", "443") else "https"
    if scheme not in ("http", "https"):
        raise ConfigError(f"invalid endpoint scheme {scheme!r} in {address!r}")
    host = u.netloc
    registry = host
    if host in (DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN):
        host = DOCKER_HUB_HOST
    if host == DOCKER_HUB_HOST:
        registry = DEFAULT_DOMAIN
    path = u.path.rstrip("/")
    if path in ("", "/v2"):
        path = "/v2"
    return registry, f"{scheme}://{host}{path}", host


def go_replacement(repl: str) -> str:
    """A Go ``regexp`` replacement (``$1``, ``${1}``, ``${name}``) in Python's ``re.sub`` syntax."""
    out = repl.replace("\\", "\\\\")
    out = re.sub(r"\$\{(\w+)\}", r"\\g<\1>", out)
    out = re.sub(r"\$(\d+)", r"\\g<\1>", out)
    return out.replace("$$", "$")


@dataclass(frozen=True, slots=True)
class RegistriesConfig:
    mirrors: Mapping[str, Mirror] = field(default_factory=dict)
    configs: Mapping[str, HostConfig] = field(default_factory=dict)
    disable_default_endpoint: bool = False
    _cache: dict[str, tuple[Endpoint, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, data: object, *, disable_default_endpoint: bool = False) -> RegistriesConfig:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError("registries config: expected a mapping with mirrors and configs")
        mirrors: dict[str, Mirror] = {}
        for name, m in (data.get("mirrors") or {}).items():
            if not isinstance(m, dict):
                raise ConfigError(f"mirrors.{name}: expected a mapping")
            eps = m.get("endpoint") or []
            if isinstance(eps, str) or not isinstance(eps, list):
                raise ConfigError(f"mirrors.{name}.endpoint: expected a list")
            rewrites = m.get("rewrite") or {}
            if not isinstance(rewrites, dict):
                raise ConfigError(f"mirrors.{name}.rewrite: expected a mapping")
            for pattern in rewrites:
                try:
                    re.compile(str(pattern))
                except re.error as e:
                    raise ConfigError(f"mirrors.{name}.rewrite: invalid pattern {pattern!r}: {e}") from None
            for ep in eps:
                endpoint_url(str(ep))
            mirrors[str(name)] = Mirror(endpoints=tuple(str(e) for e in eps),
                                        rewrites=tuple((str(k), str(v)) for k, v in rewrites.items()))
        configs: dict[str, HostConfig] = {}
        for host, c in (data.get("configs") or {}).items():
            if not isinstance(c, dict):
                raise ConfigError(f"configs.{host}: expected a mapping")
            configs[str(host)] = _host_config(str(host), c)
        disable = disable_default_endpoint or bool(data.get("disable_default_endpoint", False))
        return cls(mirrors=mirrors, configs=configs, disable_default_endpoint=disable)

    def endpoints(self, registry: str) -> tuple[Endpoint, ...]:
        """The endpoints to try for ``registry`` (``docker.io``, ``localhost:5000``), in order (cached)."""
        eps = self._cache.get(registry)
        if eps is None:
            eps = self._cache[registry] = _endpoints(self, registry)
        return eps

    def host_config(self, host: str) -> HostConfig:
        """The ``configs`` entry for an endpoint host or registry name (``*`` when there is none); Docker Hub's
        names (``docker.io``, ``index.docker.io``, ``registry-1.docker.io``) share one entry."""
        keys = (DOCKER_HUB_HOST, DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN) if host in _HUB_NAMES else (host,)
        for key in keys:
            if key in self.configs:
                return self.configs[key]
        return self.configs.get("*") or HostConfig()


def _host_config(host: str, c: Mapping[str, Any]) -> HostConfig:
    cred = None
    auth = c.get("auth")
    if auth is not None:
        if not isinstance(auth, dict):
            raise ConfigError(f"configs.{host}.auth: expected a mapping")
        try:
            cred = Credential.from_auth(username=str(auth.get("username") or ""),
                                        password=str(auth.get("password") or ""), auth=str(auth.get("auth") or ""),
                                        identity_token=str(auth.get("identitytoken") or auth.get("identity_token")
                                                           or ""))
        except ConfigError as e:
            raise ConfigError(f"configs.{host}.auth: {e}") from None
    tls = None
    t = c.get("tls")
    if t is not None:
        if not isinstance(t, dict):
            raise ConfigError(f"configs.{host}.tls: expected a mapping")
        tls = TLSConfig(insecure_skip_verify=bool(t.get("insecure_skip_verify", False)),
                        ca_file=str(t.get("ca_file") or ""), cert_file=str(t.get("cert_file") or ""),
                        key_file=str(t.get("key_file") or ""))
        if bool(tls.cert_file) != bool(tls.key_file):
            raise ConfigError(f"configs.{host}.tls: cert_file and key_file go together")
    return HostConfig(credential=cred, tls=tls)


def _endpoints(cfg: RegistriesConfig, registry: str) -> tuple[Endpoint, ...]:
    mirror = cfg.mirrors.get(registry) or cfg.mirrors.get("*") or Mirror()
    rewrites = tuple((re.compile(p), go_replacement(r)) for p, r in mirror.rewrites)
    _, default_api, default_host = endpoint_url(registry)
    out: list[Endpoint] = []
    seen: set[str] = set()
    for address in mirror.endpoints:
        _, api, host = endpoint_url(address)
        if api in seen:
            continue
        seen.add(api)
        if api == default_api:         # the registry itself listed as a mirror: it is the default endpoint
            continue
        hc = cfg.host_config(host)
        out.append(Endpoint(api=api, registry=registry, host=host, credentials=_creds(hc), tls=hc.tls,
                            rewrites=rewrites))
    if not cfg.disable_default_endpoint or not out:
        hc = cfg.host_config(registry)
        out.append(Endpoint(api=default_api, registry=registry, host=default_host, default=True,
                            credentials=_creds(hc), tls=hc.tls))
    return tuple(out)


def _creds(hc: HostConfig) -> tuple[Credential, ...]:
    return (hc.credential,) if hc.credential else ()


def load(path: pathlib.Path | str | None = None, *, disable_default_endpoint: bool = False) -> RegistriesConfig:
    """Read ``registries.yaml``: ``path`` if given (it must exist), else :data:`DEFAULT_PATH` if present, else an
    empty config (every registry reached directly)."""
    if path is None:
        if not DEFAULT_PATH.exists():
            return RegistriesConfig(disable_default_endpoint=disable_default_endpoint)
        path = DEFAULT_PATH
    p = pathlib.Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read registry config {p}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"registry config {p} is not valid YAML: {e}") from None
    try:
        return RegistriesConfig.parse(data, disable_default_endpoint=disable_default_endpoint)
    except ConfigError as e:
        raise ConfigError(f"registry config {p}: {e}") from None


# --------------------------------------------------------------------------------------------- pull secrets

@dataclass(frozen=True, slots=True)
class Keyring:
    """Credentials by registry location (``host[:port][/path]``, globs allowed in host labels), most specific
    first — the kubelet's ``BasicDockerKeyring``."""

    entries: tuple[tuple[str, tuple[Credential, ...]], ...] = ()

    def lookup(self, image: str) -> tuple[Credential, ...]:
        """Every credential that applies to ``image`` (a normalised reference or repository), best first."""
        try:
            repo = parse(image).repository
        except InvalidReference:
            repo = image
        out: list[Credential] = []
        for key, creds in self.entries:
            if _url_match(key, repo):
                out.extend(creds)
        if out:
            return tuple(out)
        if _is_default_registry(repo):
            for key, creds in self.entries:
                if key in (LEGACY_DEFAULT_DOMAIN, DEFAULT_DOMAIN):
                    return creds
        return ()

    def __bool__(self) -> bool:
        return bool(self.entries)


def _is_default_registry(image: str) -> bool:
    first, sep, _ = image.partition("/")
    if not first:
        return False
    if not sep or first in (DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN):
        return True
    return not any(c in first for c in ".:")


def _url_match(glob: str, target: str) -> bool:
    g_host, _, g_path = glob.partition("/")
    t_host, _, t_path = target.partition("/")
    (g_name, g_port), (t_name, t_port) = _split_port(g_host), _split_port(t_host)
    if g_port != t_port:
        return False
    g_parts, t_parts = g_name.split("."), t_name.split(".")
    if len(g_parts) != len(t_parts):
        return False
    if not ("/" + t_path).startswith("/" + g_path):      # a plain string prefix, as upstream
        return False
    return all(fnmatch.fnmatchcase(t, g) for g, t in zip(g_parts, t_parts, strict=True))


def _keyring_key(location: str) -> str:
    value = location if location.startswith(("http://", "https://")) else "https://" + location
    u = urllib.parse.urlsplit(value)
    path = u.path
    if path.startswith(("/v2/", "/v1/")):
        path = path[3:]
    return u.netloc + path if path not in ("", "/") else u.netloc


def _secret_auths(secret: Mapping[str, Any]) -> Mapping[str, Any] | None:
    stype = secret.get("type", "")
    data = secret.get("data") or {}
    key = {DOCKERCONFIGJSON: ".dockerconfigjson", DOCKERCFG: ".dockercfg"}.get(stype)
    if key is None or not data.get(key):
        return None
    try:
        doc = json.loads(base64.b64decode(data[key]))
    except (ValueError, binascii.Error) as e:
        name = (secret.get("metadata") or {}).get("name", "")
        raise ConfigError(f"secret {name!r}: {key} is not base64-encoded JSON: {e}") from None
    auths = doc.get("auths") if stype == DOCKERCONFIGJSON else doc
    return auths if isinstance(auths, dict) else {}


def keyring_from_secrets(secrets: Iterable[Mapping[str, Any]]) -> Keyring:
    """A pod's ``imagePullSecrets`` (the Secret objects, ``data`` base64 as the API serves it) → :class:`Keyring`.

    Secrets of other types, or without their key, are ignored, as the kubelet does; a secret whose content is not
    JSON is an error (the kubelet fails the pull with it)."""
    index: dict[str, list[Credential]] = {}
    for secret in secrets:
        auths = _secret_auths(secret)
        if not auths:
            continue
        for location, entry in auths.items():
            if not isinstance(entry, dict):
                continue
            try:
                cred = Credential.from_auth(username=str(entry.get("username") or ""),
                                            password=str(entry.get("password") or ""),
                                            auth=str(entry.get("auth") or ""),
                                            identity_token=str(entry.get("identitytoken") or ""),
                                            registry_token=str(entry.get("registrytoken") or ""))
            except ConfigError:
                continue
            index.setdefault(_keyring_key(str(location)), []).append(cred)
    keys = sorted(index, reverse=True)        # reverse order: quay.io/coreos before quay.io
    return Keyring(entries=tuple((k, tuple(index[k])) for k in keys))
