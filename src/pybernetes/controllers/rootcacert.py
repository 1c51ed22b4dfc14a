"""The root CA publisher (upstream ``pkg/controller/certificates/rootcacertpublisher``): every namespace has a
``kube-root-ca.crt`` ConfigMap whose ``ca.crt`` is the CA that signed the API server's serving certificate, so
pods can verify ``https://kubernetes.default.svc`` (the ServiceAccount token volume projects it to
``/var/run/secrets/kubernetes.io/serviceaccount/ca.crt``).

The work key is the namespace: a namespace appearing or changing, and the ConfigMap being changed or deleted,
enqueue it; a ConfigMap whose data or description annotation differs is put back. The CA is the one the
controller manager trusts (its kubeconfig's ``certificate-authority-data``) unless ``root_ca`` is given in the
options. Terminating namespaces are left alone, as the ServiceAccount controller does.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from pybernetes.client.resources import CONFIGMAPS, NAMESPACES
from pybernetes.client.rest import APIStatusError, is_already_exists, is_namespace_terminating
from pybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]

CONFIGMAP_NAME = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def _active(ns: Obj | None) -> bool:
    return ns is not None and (ns.get("status") or {}).get("phase", "Active") == "Active" \
        and not (ns.get("metadata") or {}).get("deletionTimestamp")


def desired_change(ns: Obj | None, cm: Obj | None, root_ca: str) -> Obj | None:
    """What to write for a namespace (pure): a new ConfigMap, an updated copy of the current one, or None."""
    if not _active(ns):
        return None
    name = (ns or {}).get("metadata", {}).get("name", "")
    if cm is None:
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": CONFIGMAP_NAME, "namespace": name,
                             "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                "data": {"ca.crt": root_ca}}
    annotations = (cm.get("metadata") or {}).get("annotations") or {}
    if cm.get("data") == {"ca.crt": root_ca} and annotations.get(DESCRIPTION_ANNOTATION) == DESCRIPTION:
        return None
    out = copy.deepcopy(cm)
    out["data"] = {"ca.crt": root_ca}
    out.pop("binaryData", None)
    out.setdefault("metadata", {}).setdefault("annotations", {})[DESCRIPTION_ANNOTATION] = DESCRIPTION
    return out


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"
    workers = 1

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        ca = ctx.options.get("root_ca") or getattr(getattr(ctx.client, "cfg", None), "ca_pem", None) or b""
        self.root_ca = ca.decode() if isinstance(ca, bytes) else str(ca)
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.configmaps = ctx.informers.informer(CONFIGMAPS)
        self.namespaces.add_handler(self._on_namespace, lambda _o, n: self._on_namespace(n), None)
        self.configmaps.add_handler(None, lambda _o, n: self._on_configmap(n), self._on_configmap)
        if not self.root_ca:
            log.warning("no root CA known; kube-root-ca.crt ConfigMaps will not be published",
                        extra={"controller": self.name})

    def _on_namespace(self, ns: Obj) -> None:
        self.enqueue((ns.get("metadata") or {}).get("name", ""))

    def _on_configmap(self, cm: Obj) -> None:
        meta = cm.get("metadata") or {}
        if meta.get("name") == CONFIGMAP_NAME:
            self.enqueue(meta.get("namespace", ""))

    async def reconcile(self, key: str) -> float | None:
        if not self.root_ca:
            return None
        change = desired_change(self.namespaces.get(key), self.configmaps.get(f"{key}/{CONFIGMAP_NAME}"),
                                self.root_ca)
        if change is None:
            return None
        try:
            if "resourceVersion" in change["metadata"]:
                await self.client.update(CONFIGMAPS, change)
            else:
                await self.client.create(CONFIGMAPS, change, key)
        except APIStatusError as e:
            if is_already_exists(e) or e.code == 404 or is_namespace_terminating(e):
                return None
            raise
        return None
