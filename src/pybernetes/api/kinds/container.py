"""Container validation: upstream ``validateContainers``/``validateInitContainers``/``validateEphemeralContainers``
and what they call (ports, env, envFrom, volume mounts, probes, lifecycle, security context, resources).

Paths and messages follow ``pkg/apis/core/validation/validation.go`` of 1.33, including its quirks (for instance
a bad ``subPath`` is reported at ``volumeMounts.subPath``, not at the mount's index).
"""

from __future__ import annotations

import re
from typing import Any

from pybernetes.api.field import (
    FieldError,
    Path,
    duplicate,
    forbidden,
    invalid,
    not_found,
    not_supported,
    required,
)
from pybernetes.api.kinds.common import dns_label, nonnegative, port_num, port_num_or_name, protocol, qualified_name
from pybernetes.api.kinds.resource_list import validate_resource_requirements
from pybernetes.api.kinds.volumes import local_descending_path
from pybernetes.api.validation import names
from pybernetes.api.validation.known_valid import KnownValid

Obj = dict[str, Any]

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
HTTP_SCHEMES = ("HTTP", "HTTPS")
MOUNT_PROPAGATIONS = ("Bidirectional", "HostToContainer", "None")
RECURSIVE_READ_ONLY = ("Disabled", "Enabled", "IfPossible")
PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
PROC_MOUNT_TYPES = ("Default", "Unmasked")
ENV_DOWNWARD_FIELDS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                       "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
                       "status.podIPs")
# Field labels the downward API converter knows (``ConvertDownwardAPIFieldLabel``).
CONVERTIBLE_FIELDS = frozenset({
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
    "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName", "status.phase",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
})
CONTAINER_RESOURCE_FIELDS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                             "requests.ephemeral-storage", "requests.memory")
EPHEMERAL_ALLOWED = frozenset({
    "name", "image", "command", "args", "workingDir", "env", "envFrom", "volumeMounts", "volumeDevices",
    "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin",
    "stdinOnce", "tty", "targetContainerName",
})
RELAXED_ENV_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"
HTTP_HEADER_RE = re.compile(r"^[-A-Za-z0-9]+$")
HTTP_HEADER_MSG = ("a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', "
                   "regex used for validation is '[-A-Za-z0-9]+')")
ID_RANGE_MSG = "must be between 0 and 2147483647, inclusive"
_SUBSCRIPT = re.compile(r"^(metadata\.(?:annotations|labels))\['(.*)'\]$")


def env_var_name(value: str) -> list[str]:
    """Upstream ``IsRelaxedEnvVarName`` (RelaxedEnvironmentVariableValidation is on by default in 1.33)."""
    if not value:
        return ["environment variable name must not be empty"]
    for ch in value:
        if ord(ch) > 126 or ord(ch) < 32 or ch == "=":
            return [RELAXED_ENV_MSG]
    return []


def validate_object_field_selector(ref: Obj, expressions: tuple[str, ...], path: Path) -> list[FieldError]:
    if not ref.get("apiVersion"):
        return [required(path.child("apiVersion"), "")]
    fp = ref.get("fieldPath", "")
    if not fp:
        return [required(path.child("fieldPath"), "")]
    if ref["apiVersion"] != "v1":
        return [invalid(path.child("fieldPath"), fp,
                        f"error converting fieldPath: unsupported pod version: {ref['apiVersion']}")]
    m = _SUBSCRIPT.match(fp)
    if m:
        base, sub = m[1], m[2]
        if base == "metadata.annotations":
            return qualified_name(sub.lower(), path)
        return qualified_name(sub, path)
    if fp not in CONVERTIBLE_FIELDS and fp != "spec.host":
        return [invalid(path.child("fieldPath"), fp, f"error converting fieldPath: field label not supported: {fp}")]
    if fp == "spec.host":
        fp = "spec.nodeName"
    if fp not in expressions:
        return [not_supported(path.child("fieldPath"), fp, expressions)]
    return []


def _name_ref(name: str, path: Path) -> list[FieldError]:
    return [invalid(path, name, m) for m in names.name_is_dns_subdomain(name, False)]


def _key_selector(sel: Obj, path: Path) -> list[FieldError]:
    errs = _name_ref(sel.get("name", ""), path.child("name"))
    key = sel.get("key", "")
    if not key:
        errs.append(required(path.child("key"), ""))
    else:
        errs.extend(invalid(path.child("key"), key, m) for m in names.config_map_key(key))
    return errs


def _value_from(ev: Obj, path: Path) -> list[FieldError]:
    vf = ev.get("valueFrom")
    if vf is None:
        return []
    errs: list[FieldError] = []
    n = 0
    if vf.get("fieldRef") is not None:
        n += 1
        errs.extend(validate_object_field_selector(vf["fieldRef"], ENV_DOWNWARD_FIELDS, path.child("fieldRef")))
    if (rf := vf.get("resourceFieldRef")) is not None:
        n += 1
        res = rf.get("resource", "")
        rp = path.child("resourceFieldRef")
        if not res:
            errs.append(required(rp.child("resource"), ""))
        elif res not in CONTAINER_RESOURCE_FIELDS and not res.startswith(("limits.hugepages-", "requests.hugepages-")):
            errs.append(not_supported(rp.child("resource"), res, CONTAINER_RESOURCE_FIELDS))
    if vf.get("configMapKeyRef") is not None:
        n += 1
        errs.extend(_key_selector(vf["configMapKeyRef"], path.child("configMapKeyRef")))
    if vf.get("secretKeyRef") is not None:
        n += 1
        errs.extend(_key_selector(vf["secretKeyRef"], path.child("secretKeyRef")))
    if n == 0:
        errs.append(invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                                      "`secretKeyRef`"))
    elif ev.get("value"):
        errs.append(invalid(path, "", "may not be specified when `value` is not empty"))
    elif n > 1:
        errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def validate_env(env: list | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ev in enumerate(env or ()):
        ip = path.index(i)
        name = ev.get("name", "")
        if not name:
            errs.append(required(ip.child("name"), ""))
        else:
            errs.extend(invalid(ip.child("name"), name, m) for m in env_var_name(name))
        errs.extend(_value_from(ev, ip.child("valueFrom")))
    return errs


def validate_env_from(env_from: list | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ev in enumerate(env_from or ()):
        ip = path.index(i)
        if ev.get("prefix"):
            errs.extend(invalid(ip.child("prefix"), ev["prefix"], m) for m in env_var_name(ev["prefix"]))
        n = 0
        for key in ("configMapRef", "secretRef"):
            ref = ev.get(key)
            if ref is None:
                continue
            n += 1
            name = ref.get("name", "")
            if not name:
                errs.append(required(ip.child(key, "name"), ""))
            else:
                errs.extend(invalid(ip.child(key, "name"), name, m) for m in names.name_is_dns_subdomain(name, True))
        if n == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif n > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def validate_ports(ports: list | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(ports or ()):
        ip = path.index(i)
        name = port.get("name", "")
        if name:
            msgs = names.port_name(name)
            if msgs:
                errs.extend(invalid(ip.child("name"), name, m) for m in msgs)
            elif name in seen:
                errs.append(duplicate(ip.child("name"), name))
            else:
                seen.add(name)
        cp = port.get("containerPort", 0)
        if not cp:
            errs.append(required(ip.child("containerPort"), ""))
        else:
            errs.extend(port_num(cp, ip.child("containerPort")))
        if port.get("hostPort"):
            errs.extend(port_num(port["hostPort"], ip.child("hostPort")))
        if port.get("hostIP"):
            errs.extend(invalid(ip.child("hostIP"), port["hostIP"], m) for m in names.valid_ip(port["hostIP"]))
        errs.extend(protocol(port.get("protocol"), ip.child("protocol")))
    return errs


def host_port_conflicts(containers: list, path: Path) -> list[FieldError]:
    """Upstream ``AccumulateUniqueHostPorts``: one hostPort per protocol and host IP across the list."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(c.get("ports") or ()):
            hp = port.get("hostPort", 0)
            if not hp:
                continue
            key = f"{port.get('protocol', '')}/{port.get('hostIP', '')}/{hp}"
            if key in seen:
                errs.append(duplicate(path.index(ci).child("ports").index(pi).child("hostPort"), key))
            seen.add(key)
    return errs


def validate_volume_mounts(mounts: list | None, devices: list | None, volumes: dict[str, Obj], container: Obj,
                           path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    mount_points: set[str] = set()
    dev_names = {d.get("name") for d in devices or ()}
    dev_paths = {d.get("devicePath") for d in devices or ()}
    for i, m in enumerate(mounts or ()):
        ip = path.index(i)
        name, mp = m.get("name", ""), m.get("mountPath", "")
        if not name:
            errs.append(required(ip.child("name"), ""))
        if name not in volumes:
            errs.append(not_found(ip.child("name"), name))
        if not mp:
            errs.append(required(ip.child("mountPath"), ""))
        if mp in mount_points:
            errs.append(invalid(ip.child("mountPath"), mp, "must be unique"))
        mount_points.add(mp)
        if name in dev_names:
            errs.append(invalid(ip.child("name"), name, "must not already exist in volumeDevices"))
        if mp in dev_paths:
            errs.append(invalid(ip.child("mountPath"), mp, "must not already exist as a path in volumeDevices"))
        if m.get("subPath"):
            errs.extend(local_descending_path(m["subPath"], path.child("subPath")))
        if m.get("subPathExpr"):
            if m.get("subPath"):
                errs.append(invalid(ip.child("subPathExpr"), m["subPathExpr"],
                                    "subPathExpr and subPath are mutually exclusive"))
            errs.extend(local_descending_path(m["subPathExpr"], path.child("subPathExpr")))
        prop = m.get("mountPropagation")
        if prop is not None:
            pp = path.child("mountPropagation")
            if prop not in MOUNT_PROPAGATIONS:
                errs.append(not_supported(pp, prop, MOUNT_PROPAGATIONS))
            elif prop == "Bidirectional" and not (container.get("securityContext") or {}).get("privileged"):
                errs.append(forbidden(pp, "Bidirectional mount propagation is available only to privileged "
                                          "containers"))
        rro = m.get("recursiveReadOnly")
        if rro is not None:
            rp = path.child("recursiveReadOnly")
            if rro not in RECURSIVE_READ_ONLY:
                errs.append(not_supported(rp, rro, RECURSIVE_READ_ONLY))
            elif rro != "Disabled":
                if not m.get("readOnly"):
                    errs.append(forbidden(rp, "may only be specified when readOnly is true"))
                if rro == "Enabled" and prop not in (None, "None"):
                    errs.append(forbidden(rp, "may only be specified when mountPropagation is None or not "
                                              "specified"))
    return errs


def validate_volume_devices(devices: list | None, volumes: dict[str, Obj], path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    seen_paths: set[str] = set()
    seen_names: set[str] = set()
    for i, d in enumerate(devices or ()):
        ip = path.index(i)
        name, dp = d.get("name", ""), d.get("devicePath", "")
        if not name:
            errs.append(required(ip.child("name"), ""))
        if name in seen_names:
            errs.append(invalid(ip.child("name"), name, "must be unique"))
        seen_names.add(name)
        vol = volumes.get(name)
        if vol is None or (vol.get("persistentVolumeClaim") is None and vol.get("ephemeral") is None):
            errs.append(invalid(ip.child("name"), name,
                                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
        if not dp:
            errs.append(required(ip.child("devicePath"), ""))
        if dp in seen_paths:
            errs.append(invalid(ip.child("devicePath"), dp, "must be unique"))
        seen_paths.add(dp)
    return errs


def _handler(h: Obj, path: Path, grace: int | None) -> list[FieldError]:
    errs: list[FieldError] = []
    n = 0
    for key in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        a = h.get(key)
        if a is None:
            continue
        kp = path.child(key)
        if n > 0:
            errs.append(forbidden(kp, "may not specify more than 1 handler type"))
            continue
        n += 1
        if key == "exec":
            if not a.get("command"):
                errs.append(required(kp.child("command"), ""))
        elif key == "httpGet":
            if not a.get("path"):
                errs.append(required(kp.child("path"), ""))
            errs.extend(port_num_or_name(a.get("port", 0), kp.child("port")))
            scheme = a.get("scheme", "")
            if scheme not in HTTP_SCHEMES:
                errs.append(not_supported(kp.child("scheme"), scheme, HTTP_SCHEMES))
            for hd in a.get("httpHeaders") or ():
                if not HTTP_HEADER_RE.match(hd.get("name", "")):
                    errs.append(invalid(kp.child("httpHeaders"), hd.get("name", ""), HTTP_HEADER_MSG))
        elif key == "tcpSocket":
            errs.extend(port_num_or_name(a.get("port", 0), kp.child("port")))
        elif key == "grpc":
            errs.extend(port_num(a.get("port", 0), kp.child("port")))
        elif key == "sleep":
            secs = a.get("seconds", 0)
            if grace is not None and (secs < 0 or secs > grace):
                errs.append(invalid(kp.child("seconds"), secs, "must be non-negative and less than "
                                                               f"terminationGracePeriodSeconds ({grace})"))
    if n == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def validate_probe(probe: Obj | None, path: Path, grace: int | None, *, kind: str) -> list[FieldError]:
    if probe is None:
        return []
    errs = _handler(probe, path, grace)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs.extend(nonnegative(probe.get(key, 0), path.child(key)))
    tgp = probe.get("terminationGracePeriodSeconds")
    if tgp is not None and tgp <= 0:
        errs.append(invalid(path.child("terminationGracePeriodSeconds"), tgp, "must be greater than 0"))
    if kind in ("liveness", "startup") and probe.get("successThreshold", 0) != 1:
        errs.append(invalid(path.child("successThreshold"), probe.get("successThreshold", 0), "must be 1"))
    if kind == "readiness" and tgp is not None:
        errs.append(invalid(path.child("terminationGracePeriodSeconds"), tgp, "must not be set for readinessProbes"))
    return errs


def validate_lifecycle(lc: Obj | None, path: Path, grace: int | None) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("postStart", "preStop"):
        if lc and lc.get(key) is not None:
            errs.extend(_handler(lc[key], path.child(key), grace))
    return errs


def validate_profile(p: Obj | None, path: Path, what: str) -> list[FieldError]:
    """seccompProfile (``what="seccomp"``) or appArmorProfile (``what="AppArmor"``)."""
    if p is None:
        return []
    errs: list[FieldError] = []
    t = p.get("type", "")
    field_name = "seccompProfile" if what == "seccomp" else "appArmorProfile"
    if not t:
        errs.append(required(path.child("type"), f"type is required when {field_name} is set"))
    elif t not in PROFILE_TYPES:
        errs.append(not_supported(path.child("type"), t, PROFILE_TYPES))
    lp = p.get("localhostProfile")
    if t == "Localhost":
        if lp is None:
            errs.append(required(path.child("localhostProfile"), f"must be set when {what} type is Localhost"))
        elif what == "seccomp":
            errs.extend(local_descending_path(lp, path.child("localhostProfile")))
        elif not lp.strip():
            errs.append(required(path.child("localhostProfile"), "must be set when AppArmor type is Localhost"))
    elif lp is not None:
        errs.append(invalid(path.child("localhostProfile"), lp, f"can only be set when {what} type is Localhost"))
    return errs


def id_range(value: Any, path: Path) -> list[FieldError]:
    if isinstance(value, int) and not 0 <= value <= 2147483647:
        return [invalid(path, value, ID_RANGE_MSG)]
    return []


def validate_security_context(sc: Obj | None, path: Path, *, host_users: bool = True) -> list[FieldError]:
    if not sc:
        return []
    errs: list[FieldError] = []
    if sc.get("runAsUser") is not None:
        errs.extend(id_range(sc["runAsUser"], path.child("runAsUser")))
    if sc.get("runAsGroup") is not None:
        errs.extend(id_range(sc["runAsGroup"], path.child("runAsGroup")))
    pm = sc.get("procMount")
    if pm is not None:
        if pm not in PROC_MOUNT_TYPES:
            errs.append(not_supported(path.child("procMount"), pm, PROC_MOUNT_TYPES))
        elif host_users and pm == "Unmasked":
            errs.append(invalid(path.child("procMount"), pm, "`hostUsers` must be false to use `Unmasked`"))
    errs.extend(validate_profile(sc.get("seccompProfile"), path.child("seccompProfile"), "seccomp"))
    if sc.get("allowPrivilegeEscalation") is False:
        if sc.get("privileged"):
            errs.append(invalid(path, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
        for cap in (sc.get("capabilities") or {}).get("add") or ():
            if cap == "CAP_SYS_ADMIN":
                errs.append(invalid(path, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                                              "CAP_SYS_ADMIN"))
    errs.extend(validate_profile(sc.get("appArmorProfile"), path.child("appArmorProfile"), "AppArmor"))
    return errs


_CONTAINER_VALID = KnownValid()
_VOLUME_REFS = ("volumeMounts", "volumeDevices")


def validate_container_common(c: Obj, path: Path, volumes: dict[str, Obj], *, claim_names: set[str],
                              host_users: bool = True) -> list[FieldError]:
    """Upstream ``validateContainerCommon``. Replicas repeat their containers but for the mounts of their own
    (randomly named) token volume: a container valid apart from its volume references is remembered, and only
    those references, which depend on the pod's volumes, are checked again."""
    if claim_names:                            # resource claims are checked against the pod's: not remembered
        return _container_errors(c, path, volumes, claim_names=claim_names, host_users=host_users)
    key = _CONTAINER_VALID.key((host_users, {k: v for k, v in c.items() if k not in _VOLUME_REFS}))
    if _CONTAINER_VALID.known(key):
        return _volume_refs(c, path, volumes)
    errs = _container_errors(c, path, volumes, claim_names=claim_names, host_users=host_users)
    if not errs:
        _CONTAINER_VALID.add(key)
    return errs


def _volume_refs(c: Obj, path: Path, volumes: dict[str, Obj]) -> list[FieldError]:
    errs = validate_volume_mounts(c.get("volumeMounts"), c.get("volumeDevices"), volumes, c,
                                  path.child("volumeMounts"))
    if c.get("volumeDevices"):
        errs.extend(validate_volume_devices(c["volumeDevices"], volumes, path.child("volumeDevices")))
    return errs


def _container_errors(c: Obj, path: Path, volumes: dict[str, Obj], *, claim_names: set[str],
                      host_users: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name = c.get("name", "")
    if not name:
        errs.append(required(path.child("name"), ""))
    else:
        errs.extend(dns_label(name, path.child("name")))
    if not c.get("image"):
        errs.append(required(path.child("image"), ""))
    tmp = c.get("terminationMessagePolicy", "")
    if not tmp:
        errs.append(required(path.child("terminationMessagePolicy"), ""))
    elif tmp not in TERMINATION_MESSAGE_POLICIES:
        errs.append(not_supported(path.child("terminationMessagePolicy"), tmp, TERMINATION_MESSAGE_POLICIES))
    errs.extend(validate_ports(c.get("ports"), path.child("ports")))
    errs.extend(validate_env(c.get("env"), path.child("env")))
    errs.extend(validate_env_from(c.get("envFrom"), path.child("envFrom")))
    errs.extend(_volume_refs(c, path, volumes))
    ipp = c.get("imagePullPolicy", "")
    if not ipp:
        errs.append(required(path.child("imagePullPolicy"), ""))
    elif ipp not in PULL_POLICIES:
        errs.append(not_supported(path.child("imagePullPolicy"), ipp, PULL_POLICIES))
    errs.extend(validate_resource_requirements(c.get("resources"), path.child("resources"), claim_names=claim_names))
    for i, rp in enumerate(c.get("resizePolicy") or ()):
        ip = path.child("resizePolicy").index(i)
        if rp.get("resourceName") not in ("cpu", "memory"):
            errs.append(not_supported(ip.child("resourceName"), rp.get("resourceName"), ("cpu", "memory")))
        if rp.get("restartPolicy") not in ("NotRequired", "RestartContainer"):
            errs.append(not_supported(ip.child("restartPolicy"), rp.get("restartPolicy"),
                                      ("NotRequired", "RestartContainer")))
    errs.extend(validate_security_context(c.get("securityContext"), path.child("securityContext"),
                                          host_users=host_users))
    return errs


def _probes(c: Obj, path: Path, grace: int | None) -> list[FieldError]:
    errs = validate_lifecycle(c.get("lifecycle"), path.child("lifecycle"), grace)
    errs.extend(validate_probe(c.get("livenessProbe"), path.child("livenessProbe"), grace, kind="liveness"))
    errs.extend(validate_probe(c.get("readinessProbe"), path.child("readinessProbe"), grace, kind="readiness"))
    errs.extend(validate_probe(c.get("startupProbe"), path.child("startupProbe"), grace, kind="startup"))
    return errs


def validate_containers(containers: list | None, path: Path, volumes: dict[str, Obj], *, grace: int | None,
                        claim_names: set[str], host_users: bool = True) -> list[FieldError]:
    if not containers:
        return [required(path, "")]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        ip = path.index(i)
        errs.extend(validate_container_common(c, ip, volumes, claim_names=claim_names, host_users=host_users))
        errs.extend(_probes(c, ip, grace))
        name = c.get("name", "")
        if name in seen:
            errs.append(duplicate(ip.child("name"), name))
        else:
            seen.add(name)
        if c.get("restartPolicy") is not None:
            errs.append(forbidden(ip.child("restartPolicy"), "may not be set for non-init containers"))
    errs.extend(host_port_conflicts(containers, path))
    return errs


def validate_init_containers(inits: list | None, regular: list | None, path: Path, volumes: dict[str, Obj], *,
                             grace: int | None, claim_names: set[str], host_users: bool = True) -> list[FieldError]:
    errs: list[FieldError] = []
    seen = {c.get("name", "") for c in regular or ()}
    for i, c in enumerate(inits or ()):
        ip = path.index(i)
        errs.extend(validate_container_common(c, ip, volumes, claim_names=claim_names, host_users=host_users))
        restart_always = False
        rp = c.get("restartPolicy")
        if rp is not None:
            if rp != "Always":
                errs.append(not_supported(ip.child("restartPolicy"), rp, ("Always",)))
            restart_always = rp == "Always"
        name = c.get("name", "")
        if name in seen:
            errs.append(duplicate(ip.child("name"), name))
        elif name:
            seen.add(name)
        errs.extend(host_port_conflicts([c], path))
        if restart_always:
            errs.extend(_probes(c, ip, grace))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(key) is not None:
                    errs.append(forbidden(ip.child(key), "may not be set for init containers without "
                                                         "restartPolicy=Always"))
        if c.get("resizePolicy"):
            errs.append(invalid(ip.child("resizePolicy"), c["resizePolicy"], "must not be set for init containers"))
    return errs


def _is_zero(v: Any) -> bool:
    return v is None or v == "" or v == 0 or v is False or v == {} or v == []


def validate_ephemeral_containers(ephemeral: list | None, spec: Obj, path: Path, volumes: dict[str, Obj], *,
                                  claim_names: set[str], host_users: bool = True) -> list[FieldError]:
    errs: list[FieldError] = []
    others = {c.get("name", "") for key in ("containers", "initContainers") for c in spec.get(key) or ()}
    seen: set[str] = set()
    for i, ec in enumerate(ephemeral or ()):
        ip = path.index(i)
        errs.extend(validate_container_common(ec, ip, volumes, claim_names=claim_names, host_users=host_users))
        errs.extend(image_whitespace(ec, ip))
        name = ec.get("name", "")
        if name in others:
            errs.append(invalid(ip.child("name"), name,
                                "must be unique among all containers, init containers and ephemeral containers"))
        elif name in seen:
            errs.append(duplicate(ip.child("name"), name))
        else:
            seen.add(name)
        target = ec.get("targetContainerName", "")
        if target and target not in others:
            errs.append(not_found(ip.child("targetContainerName"), target))
        for key, value in ec.items():
            if key not in EPHEMERAL_ALLOWED and not _is_zero(value):
                errs.append(forbidden(ip.child(key), "cannot be set for an Ephemeral Container"))
        for j, vm in enumerate(ec.get("volumeMounts") or ()):
            for key in ("subPath", "subPathExpr"):
                if vm.get(key):
                    errs.append(forbidden(ip.child("volumeMounts").index(j).child(key),
                                          "cannot be set for an Ephemeral Container"))
    return errs


def image_whitespace(c: Obj, path: Path) -> list[FieldError]:
    """Upstream ``validateContainerOnlyForPod``: pods (unlike templates) reject surrounding whitespace."""
    image = c.get("image", "")
    if image and image != image.strip():
        return [invalid(path.child("image"), image, "must not have leading or trailing whitespace")]
    return []
