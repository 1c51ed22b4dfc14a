"""The files of configMap, secret, downwardAPI and projected volumes (pure; upstream ``MakePayload`` of the
configmap and secret plugins, ``CollectData`` of downwardapi, ``collectData`` of projected).

Each function turns a volume source plus the objects it refers to into a payload (path → contents and mode) for
:func:`~pybernetes.kubelet.volumes.atomic.write_payload`. Without ``items`` every key becomes a file named after
it; with ``items`` only the listed keys, at their ``path`` and ``mode`` (``defaultMode`` otherwise, 0644 when the
API did not default it). A listed key that does not exist fails the mount unless the source is optional.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pybernetes.kubelet.env import ConfigError, field_ref_value, resource_field_value
from pybernetes.kubelet.volumes.atomic import FileProjection

Obj = dict[str, Any]
DEFAULT_MODE = 0o644
Payload = dict[str, FileProjection]


class MountError(Exception):
    """A volume cannot be set up; the message is what upstream's ``FailedMount`` event says after
    ``MountVolume.SetUp failed for volume "<name>" : ``."""


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """A bound ServiceAccount token a projected volume asks for."""

    audience: str
    expiration_seconds: int


TokenFn = Callable[[TokenSpec], str]
"""Returns the token for a spec (the token manager's cached, rotated value)."""


def _mode(value: Any, default: int) -> int:
    return int(value) if value is not None else default


def key_payload(data: Mapping[str, bytes], items: list[Obj] | None, *, default_mode: int, optional: bool,
                missing: str) -> Payload:
    """``data`` (key → bytes) as files; ``missing`` is the message prefix for a listed key that is absent."""
    out: Payload = {}
    if not items:
        for k, v in data.items():
            out[k] = FileProjection(v, default_mode)
        return out
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise MountError(f"{missing}: {key}")
        out[item.get("path") or key] = FileProjection(data[key], _mode(item.get("mode"), default_mode))
    return out


def configmap_data(cm: Obj | None) -> dict[str, bytes]:
    if cm is None:
        return {}
    out = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return out


def secret_data(secret: Obj | None) -> dict[str, bytes]:
    if secret is None:
        return {}
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def configmap_payload(source: Obj, cm: Obj | None, *, default_mode: int | None = None) -> Payload:
    """A ``configMap`` volume (or projection). ``cm`` None means not found: empty when optional, else an error
    as upstream's watch-based manager words it."""
    optional = bool(source.get("optional"))
    if cm is None and not optional:
        raise MountError(f'configmap "{source.get("name", "")}" not found')
    mode = default_mode if default_mode is not None else _mode(source.get("defaultMode"), DEFAULT_MODE)
    return key_payload(configmap_data(cm), source.get("items"), default_mode=mode, optional=optional,
                       missing="configmap references non-existent config key")


def secret_payload(source: Obj, secret: Obj | None, *, default_mode: int | None = None,
                   name_key: str = "secretName") -> Payload:
    """A ``secret`` volume (``secretName``) or secret projection (``name``)."""
    optional = bool(source.get("optional"))
    if secret is None and not optional:
        raise MountError(f'secret "{source.get(name_key, "")}" not found')
    mode = default_mode if default_mode is not None else _mode(source.get("defaultMode"), DEFAULT_MODE)
    return key_payload(secret_data(secret), source.get("items"), default_mode=mode, optional=optional,
                       missing="references non-existent secret key")


def downward_payload(items: list[Obj] | None, pod: Obj, *, default_mode: int, pod_ips: tuple[str, ...] = (),
                     host_ips: tuple[str, ...] = (), allocatable: Mapping[str, str] | None = None) -> Payload:
    """A ``downwardAPI`` volume or projection: one file per item, from a ``fieldRef`` or ``resourceFieldRef``
    (whose ``containerName`` names the container; a missing limit is the node's allocatable)."""
    out: Payload = {}
    errors: list[str] = []
    containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or ()}
    for item in items or ():
        mode = _mode(item.get("mode"), default_mode)
        try:
            if (ref := item.get("fieldRef")) is not None:
                value = field_ref_value(ref.get("fieldPath", ""), pod, pod_ips=pod_ips, host_ips=host_ips)
            elif (ref := item.get("resourceFieldRef")) is not None:
                c = containers.get(ref.get("containerName", "")) or {}
                value = resource_field_value(ref, pod, c, allocatable=allocatable or {})
            else:
                value = ""
        except ConfigError as e:
            errors.append(str(e))
            continue
        out[item.get("path", "")] = FileProjection(value.encode(), mode)
    if errors:
        raise MountError(_aggregate(errors))
    return out


def _aggregate(errors: list[str]) -> str:
    """k8s.io/apimachinery's ``errors.NewAggregate`` message."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def token_spec(source: Obj) -> TokenSpec:
    return TokenSpec(audience=source.get("audience") or "", expiration_seconds=int(source.get("expirationSeconds")
                                                                                  or 3600))


def projected_payload(source: Obj, pod: Obj, *, configmaps: Mapping[str, Obj | None],
                      secrets: Mapping[str, Obj | None], token: TokenFn | None, pod_ips: tuple[str, ...] = (),
                      host_ips: tuple[str, ...] = (), allocatable: Mapping[str, str] | None = None,
                      token_mode: int | None = None) -> Payload:
    """A ``projected`` volume: every source's files in one directory (a later source's file replaces an earlier
    one of the same path). Errors of all sources are reported together. ``token_mode`` overrides the tokens'
    mode (upstream writes them 0600 when the pod has an fsGroup, which then adds group read)."""
    mode = _mode(source.get("defaultMode"), DEFAULT_MODE)
    out: Payload = {}
    errors: list[str] = []
    for src in source.get("sources") or ():
        try:
            if (cm := src.get("configMap")) is not None:
                out.update(configmap_payload(cm, configmaps.get(cm.get("name", "")), default_mode=mode))
            elif (sec := src.get("secret")) is not None:
                out.update(secret_payload(sec, secrets.get(sec.get("name", "")), default_mode=mode, name_key="name"))
            elif (dw := src.get("downwardAPI")) is not None:
                out.update(downward_payload(dw.get("items"), pod, default_mode=mode, pod_ips=pod_ips,
                                            host_ips=host_ips, allocatable=allocatable))
            elif (tok := src.get("serviceAccountToken")) is not None:
                if token is None:
                    raise MountError("no token source for serviceAccountToken projections")
                out[tok.get("path", "")] = FileProjection(token(token_spec(tok)).encode(),
                                                          mode if token_mode is None else token_mode)
        except MountError as e:
            errors.append(str(e))
    if errors:
        raise MountError(_aggregate(errors))
    return out


def referenced_names(volume: Obj) -> tuple[set[str], set[str]]:
    """The ConfigMap and Secret names a volume reads (for fetching them before building the payload)."""
    cms: set[str] = set()
    secs: set[str] = set()
    if (cm := volume.get("configMap")) is not None:
        cms.add(cm.get("name", ""))
    if (sec := volume.get("secret")) is not None:
        secs.add(sec.get("secretName", ""))
    for src in (volume.get("projected") or {}).get("sources") or ():
        if (cm := src.get("configMap")) is not None:
            cms.add(cm.get("name", ""))
        if (sec := src.get("secret")) is not None:
            secs.add(sec.get("name", ""))
    return cms, secs
