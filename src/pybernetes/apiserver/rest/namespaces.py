"""Namespace deletion: the namespace turns Terminating and stays until the namespace controller has emptied it
and cleared ``spec.finalizers`` through ``/finalize`` (upstream ``pkg/registry/core/namespace/storage``)."""

from __future__ import annotations

from typing import Any

from pybernetes.apiserver.resthooks import RESTHooks


class NamespaceHooks(RESTHooks):
    def on_delete(self, obj: dict[str, Any]) -> bool:
        obj.setdefault("status", {})["phase"] = "Terminating"
        return bool((obj.get("spec") or {}).get("finalizers"))
