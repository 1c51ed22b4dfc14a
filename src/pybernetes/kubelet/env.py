"""A container's environment, as upstream's kubelet builds it (``makeEnvironmentVariables`` in
``pkg/kubelet/kubelet_pods.go``, ``pkg/kubelet/envvars`` and the ``$(VAR)`` expansion of
``third_party/forked/golang/expansion``).

Order of work, as upstream: ``envFrom`` sources first (each key with its prefix; later sources win), then ``env``
in declaration order — a literal ``value`` has its ``$(VAR)`` references expanded against what is defined so far
and the Service variables (``$$`` escapes a ``$``; unknown references stay as written), a ``valueFrom`` is
resolved — then the Service variables nothing else defined. Service variables are the docker-link style ones
(``FOO_SERVICE_HOST``, ``FOO_SERVICE_PORT``, ``FOO_PORT_80_TCP_ADDR``…) for every Service with a cluster IP in the
pod's namespace when ``enableServiceLinks`` is on, and always for ``kubernetes`` in ``default`` — which is how
in-cluster clients find the API server (``KUBERNETES_SERVICE_HOST``/``_PORT``).

Failures are :class:`ConfigError` with upstream's messages (``configmap "x" not found``, ``couldn't find key y in
ConfigMap ns/x``); the pod worker reports them as the container's ``CreateContainerConfigError``.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from pybernetes.api.quantity import Quantity, parse_quantity

Obj = dict[str, Any]
MASTER_NAMESPACE = "default"
MASTER_SERVICES = frozenset({"kubernetes"})
_SUBSCRIPT = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$")


class ConfigError(Exception):
    """The container cannot be configured (a missing ConfigMap, Secret or key; an unsupported field)."""

    reason = "CreateContainerConfigError"


class Objects(Protocol):
    """Where the kubelet reads the objects a pod refers to. ``configmap``/``secret`` return None for an object
    that does not exist (and raise for other failures); ``services`` returns None until Services have been read
    once."""

    async def configmap(self, namespace: str, name: str) -> Obj | None: ...
    async def secret(self, namespace: str, name: str) -> Obj | None: ...
    def services(self) -> Iterable[Obj] | None: ...


EventFn = Callable[[str, str, str], None]
"""(type, reason, message) — an event about the pod."""


# ---------------------------------------------------------------------------------------------------- expansion

def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """Look a name up in each context in turn; an unknown name expands to itself, ``$(NAME)``."""
    def mapping(name: str) -> str:
        for ctx in contexts:
            v = ctx.get(name)
            if v is not None:
                return v
        return f"$({name})"
    return mapping


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: ``$$`` is a literal ``$``, an unclosed ``$(`` and a ``$`` before anything
    else are kept as written."""
    if "$" not in text:
        return text
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            if nxt == "$":
                out.append("$")
                advance = 1
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close == -1:
                    out.append("$(")
                    advance = 1
                else:
                    out.append(mapping(text[cursor + 2:close]))
                    advance = close - cursor
            else:
                out.append("$" + nxt)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def expand_command(container: Obj, env: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` with ``$(VAR)`` expanded from the container's final environment."""
    mapping = mapping_for(dict(env))
    return ([expand(c, mapping) for c in container.get("command") or ()],
            [expand(a, mapping) for a in container.get("args") or ()])


# ---------------------------------------------------------------------------------------------------- services

def env_var_name(name: str) -> str:
    return name.replace("-", "_").upper()


def _ip_set(svc: Obj) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def from_services(services: Iterable[Obj]) -> list[tuple[str, str]]:
    """Upstream ``envvars.FromServices``: host and first port, named ports, and the Docker link variables."""
    out: list[tuple[str, str]] = []
    for svc in services:
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        if not _ip_set(svc) or not ports:
            continue
        ip = spec["clusterIP"]
        prefix = env_var_name((svc.get("metadata") or {}).get("name", ""))
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(ports[0].get("port", 0))))
        for p in ports:
            if p.get("name"):
                out.append((f"{prefix}_SERVICE_PORT_{env_var_name(p['name'])}", str(p.get("port", 0))))
        for i, p in enumerate(ports):
            proto = (p.get("protocol") or "TCP")
            port = int(p.get("port", 0))
            url = f"{proto.lower()}://{_host_port(ip, port)}"
            if i == 0:
                out.append((f"{prefix}_PORT", url))
            pp = f"{prefix}_PORT_{port}_{proto.upper()}"
            out += [(pp, url), (f"{pp}_PROTO", proto.lower()), (f"{pp}_PORT", str(port)), (f"{pp}_ADDR", ip)]
    return out


def service_env(services: Iterable[Obj], *, namespace: str, enable_service_links: bool) -> dict[str, str]:
    """The Service variables a pod in ``namespace`` sees (upstream ``getServiceEnvVarMap``): the master services
    of ``default`` always, the namespace's own when links are enabled (a same-named one in the pod's namespace
    wins over ``default``'s)."""
    chosen: dict[str, Obj] = {}
    for svc in services:
        if not _ip_set(svc):
            continue
        meta = svc.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace", "")
        if ns == MASTER_NAMESPACE and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif ns == namespace and enable_service_links:
            chosen[name] = svc
    return dict(from_services(chosen[k] for k in sorted(chosen)))


# ---------------------------------------------------------------------------------------------------- fieldRef

def go_quote(s: str) -> str:
    """Go's ``%q`` of a string (printable characters kept, the rest escaped)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def format_map(m: Mapping[str, str]) -> str:
    """Labels or annotations as the downward API writes them: ``key="value"`` lines, sorted by key."""
    return "\n".join(f"{k}={go_quote(m[k])}" for k in sorted(m))


def _sort_ips(ips: Sequence[str]) -> list[str]:
    def family(ip: str) -> int:
        try:
            return ipaddress.ip_address(ip).version
        except ValueError:
            return 9
    return sorted(ips, key=family)


def field_ref_value(field_path: str, pod: Obj, *, pod_ips: Sequence[str] = (), host_ips: Sequence[str] = ()) -> str:
    """The value of a downward-API ``fieldRef`` (env or file)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ips = _sort_ips(pod_ips)
    simple: dict[str, Callable[[], str]] = {
        "metadata.name": lambda: meta.get("name", ""),
        "metadata.namespace": lambda: meta.get("namespace", ""),
        "metadata.uid": lambda: meta.get("uid", ""),
        "metadata.labels": lambda: format_map(meta.get("labels") or {}),
        "metadata.annotations": lambda: format_map(meta.get("annotations") or {}),
        "spec.nodeName": lambda: spec.get("nodeName", ""),
        "spec.serviceAccountName": lambda: spec.get("serviceAccountName", ""),
        "status.hostIP": lambda: host_ips[0] if host_ips else "",
        "status.hostIPs": lambda: ",".join(host_ips),
        "status.podIP": lambda: ips[0] if ips else "",
        "status.podIPs": lambda: ",".join(ips),
    }
    fn = simple.get(field_path)
    if fn is not None:
        return str(fn())
    m = _SUBSCRIPT.match(field_path)
    if m:
        source = meta.get("labels" if m.group(1) == "metadata.labels" else "annotations") or {}
        return str(source.get(m.group(2), ""))
    raise ConfigError(f"unsupported fieldPath: {field_path}")


# ---------------------------------------------------------------------------------------------------- resourceFieldRef

_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def _container_named(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    for c in (*(spec.get("containers") or ()), *(spec.get("initContainers") or ())):
        if c.get("name") == name:
            found: Obj = c
            return found
    return None


def resource_field_value(ref: Obj, pod: Obj, container: Obj, *, allocatable: Mapping[str, str]) -> str:
    """A ``resourceFieldRef``'s value: the container's request or limit (a missing limit is the node's
    allocatable, as ``defaultPodLimitsForDownwardAPI`` does) divided by ``divisor`` and rounded up."""
    if ref.get("containerName"):
        found = _container_named(pod, ref["containerName"])
        if found is None:
            raise ConfigError(f"container {ref['containerName']} not found")
        container = found
    res = ref.get("resource", "")
    kind, _, name = res.partition(".")
    if kind not in ("limits", "requests") or (name not in _RESOURCES and not name.startswith("hugepages-")):
        raise ConfigError(f"unsupported container resource : {res}")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(name)
    if value is None and kind == "limits" and name in _RESOURCES:
        value = allocatable.get(name)
    q = parse_quantity(value) if value is not None else Quantity.from_int(0)
    raw_div = ref.get("divisor")
    divisor = parse_quantity(raw_div) if raw_div not in (None, "", 0, "0") else Quantity.from_int(1)
    if divisor.is_zero():
        divisor = Quantity.from_int(1)
    if name == "cpu":
        return str(math.ceil(q.milli_value() / divisor.milli_value()))
    return str(math.ceil(q.value() / divisor.value()))


# ---------------------------------------------------------------------------------------------------- the environment

def is_env_var_name(name: str) -> bool:
    """The relaxed rule (``RelaxedEnvironmentVariableValidation``, on by default since 1.32): printable ASCII
    other than ``=``, not empty."""
    return bool(name) and all(" " <= ch <= "~" and ch != "=" for ch in name)


def _decode(secret_value: str) -> str:
    return base64.b64decode(secret_value).decode("utf-8", errors="replace")


async def make_environment(pod: Obj, container: Obj, *, objects: Objects, pod_ips: Sequence[str] = (),
                           host_ips: Sequence[str] = (), allocatable: Mapping[str, str] | None = None,
                           event: EventFn | None = None) -> list[tuple[str, str]]:
    """The container's environment as (name, value) pairs in order. Raises :class:`ConfigError`."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ns = meta.get("namespace", "")
    services = objects.services()
    if services is None:
        raise ConfigError("services have not yet been read at least once, cannot construct envvars")
    links = spec.get("enableServiceLinks")
    svc_env = service_env(services, namespace=ns, enable_service_links=links is None or bool(links))
    configmaps: dict[str, Obj] = {}
    secrets: dict[str, Obj] = {}

    async def get(kind: str, name: str, optional: bool) -> Obj | None:
        cache = configmaps if kind == "configmap" else secrets
        if name in cache:
            return cache[name]
        obj = await (objects.configmap(ns, name) if kind == "configmap" else objects.secret(ns, name))
        if obj is None:
            if optional:
                return None
            raise ConfigError(f'{kind} "{name}" not found')
        cache[name] = obj
        return obj

    env: dict[str, str] = {}
    for src in container.get("envFrom") or ():
        prefix = src.get("prefix") or ""
        for kind, key, data_key in (("configmap", "configMapRef", "data"), ("secret", "secretRef", "data")):
            ref = src.get(key)
            if ref is None:
                continue
            obj = await get(kind, ref.get("name", ""), bool(ref.get("optional")))
            if obj is None:
                continue
            invalid = []
            for k, v in (obj.get(data_key) or {}).items():
                k = prefix + k
                if not is_env_var_name(k):
                    invalid.append(k)
                    continue
                env[k] = v if kind == "configmap" else _decode(v)
            if invalid and event is not None:
                what = "configMap" if kind == "configmap" else "secret"
                event("Warning", "InvalidEnvironmentVariableNames",
                      f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {what} {ns}/{ref.get('name', '')} "
                      "were skipped since they are considered invalid environment variable names.")
    mapping = mapping_for(env, svc_env)
    for var in container.get("env") or ():
        name = var.get("name", "")
        value = var.get("value") or ""
        source = var.get("valueFrom")
        if value:
            value = expand(value, mapping)
        elif source:
            resolved = await _value_from(source, pod, container, get=get, ns=ns, pod_ips=pod_ips,
                                         host_ips=host_ips, allocatable=allocatable or {})
            if resolved is None:
                continue
            value = resolved
        env[name] = value
    out = list(env.items())
    out.extend((k, v) for k, v in svc_env.items() if k not in env)
    return out


async def _value_from(source: Obj, pod: Obj, container: Obj, *, get: Callable[..., Any], ns: str,
                      pod_ips: Sequence[str], host_ips: Sequence[str], allocatable: Mapping[str, str]) -> str | None:
    if (ref := source.get("fieldRef")) is not None:
        return field_ref_value(ref.get("fieldPath", ""), pod, pod_ips=pod_ips, host_ips=host_ips)
    if (ref := source.get("resourceFieldRef")) is not None:
        return resource_field_value(ref, pod, container, allocatable=allocatable)
    for kind, key, label in (("configmap", "configMapKeyRef", "ConfigMap"), ("secret", "secretKeyRef", "Secret")):
        ref = source.get(key)
        if ref is None:
            continue
        optional = bool(ref.get("optional"))
        name, k = ref.get("name", ""), ref.get("key", "")
        obj = await get(kind, name, optional)
        if obj is None:
            return None
        data = obj.get("data") or {}
        if k not in data:
            if optional:
                return None
            raise ConfigError(f"couldn't find key {k} in {label} {ns}/{name}")
        return str(data[k]) if kind == "configmap" else _decode(data[k])
    return ""
