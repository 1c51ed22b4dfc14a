"""Admission-time pod defaults every real cluster applies, in upstream's plugin order: ServiceAccount,
DefaultTolerationSeconds and Priority (``pybernetes.api.kinds.pod_defaults.admit_pod``), with PriorityClasses read
from the watch cache; then the ServiceAccount plugin's token volume (:func:`mount_service_account_token`)."""

from __future__ import annotations

import random
from typing import Any

from pybernetes.api.kinds.pod_defaults import admit_pod
from pybernetes.apiserver.admission import Attributes
from pybernetes.apiserver.state import ServerState

PRIORITY_CLASSES = "scheduling.k8s.io/priorityclasses"
SERVICE_ACCOUNTS = "core/serviceaccounts"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
WARN_ONLY_EXPIRATION = 3607          # upstream serviceaccount.WarnOnlyBoundTokenExpirationSeconds
AUTOMOUNT = True
"""Whether pod admission adds the token volume (as upstream's ServiceAccount admission). It projects the
``kube-root-ca.crt`` ConfigMap that the root CA publisher (controllers/rootcacert.py) keeps in every namespace."""
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"   # upstream SimpleNameGenerator's alphabet


class PodDefaults:
    name = "ServiceAccount,DefaultTolerationSeconds,Priority"

    async def mutate(self, state: ServerState, a: Attributes) -> None:
        if a.operation != "CREATE" or a.resource.storage != "core/pods" or a.subresource or a.obj is None:
            return
        classes = state.cache.resource(PRIORITY_CLASSES).objects

        def lookup(name: str) -> dict[str, Any] | None:
            return classes.get(f"/registry/{PRIORITY_CLASSES}/{name}")

        default = next((c for c in classes.values() if c.get("globalDefault")), None)
        admit_pod(a.obj, lookup=lookup, global_default=default,
                  toleration_seconds=state.config.default_toleration_seconds)
        if AUTOMOUNT:
            spec = a.obj.get("spec") or {}
            sa = state.cache.resource(SERVICE_ACCOUNTS).objects.get(
                f"/registry/{SERVICE_ACCOUNTS}/{a.namespace}/{spec.get('serviceAccountName', '')}")
            mount_service_account_token(a.obj, service_account=sa)


def token_volume_source() -> dict[str, Any]:
    """Upstream ``TokenVolumeSource``: a bound token, the cluster CA and the namespace."""
    return {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": WARN_ONLY_EXPIRATION, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}


def should_automount(pod: dict[str, Any], service_account: dict[str, Any] | None) -> bool:
    """The pod's ``automountServiceAccountToken`` wins, then the ServiceAccount's; default true."""
    spec = pod.get("spec") or {}
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if service_account is not None and service_account.get("automountServiceAccountToken") is not None:
        return bool(service_account["automountServiceAccountToken"])
    return True


def mount_service_account_token(pod: dict[str, Any], *, service_account: dict[str, Any] | None) -> None:
    """ServiceAccount admission's token volume: ``kube-api-access-<5 random>`` mounted read-only at
    /var/run/secrets/kubernetes.io/serviceaccount in every init and regular container that has nothing mounted
    there (an existing ``kube-api-access-*`` volume is reused). Mirror pods and pods that opt out are left alone."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if "kubernetes.io/config.mirror" in annotations or not should_automount(pod, service_account):
        return
    spec = pod.setdefault("spec", {})
    volumes = spec.get("volumes") or []
    existing = next((v.get("name", "") for v in volumes if v.get("name", "").startswith(TOKEN_VOLUME_PREFIX)), "")
    name = existing or TOKEN_VOLUME_PREFIX + "".join(random.choices(_NAME_CHARS, k=5))
    needed = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or ():
            mounts = c.get("volumeMounts") or []
            if any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
                continue
            mounts.append({"name": name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})
            c["volumeMounts"] = mounts
            needed = True
    if needed and not existing:
        volumes.append({"name": name, "projected": token_volume_source()})
        spec["volumes"] = volumes
