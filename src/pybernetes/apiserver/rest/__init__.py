"""Per-resource REST additions to the generic registry (upstream ``pkg/registry/<group>/<kind>/storage``)."""

from __future__ import annotations

from pybernetes.apiserver.resthooks import HOOKS


def install() -> None:
    from pybernetes.apiserver.rest.namespaces import NamespaceHooks
    from pybernetes.apiserver.rest.pods import PodHooks
    from pybernetes.apiserver.rest.services import ServiceHooks

    HOOKS["core/pods"] = PodHooks()
    HOOKS["core/services"] = ServiceHooks()
    HOOKS["core/namespaces"] = NamespaceHooks()
