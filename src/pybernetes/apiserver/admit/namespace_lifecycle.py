"""NamespaceLifecycle: no new objects in a namespace that is missing or terminating; the system namespaces
cannot be deleted (upstream ``plugin/pkg/admission/namespace/lifecycle``)."""

from __future__ import annotations

from pybernetes.api import errors
from pybernetes.apiserver.admission import Attributes
from pybernetes.apiserver.state import ServerState

IMMORTAL = frozenset({"default", "kube-system", "kube-public"})
# Kinds that are not stored and so never "created in" a namespace.
EXEMPT = frozenset({"subjectaccessreviews", "selfsubjectaccessreviews", "localsubjectaccessreviews",
                    "tokenreviews", "selfsubjectrulesreviews"})


class NamespaceLifecycle:
    name = "NamespaceLifecycle"

    async def validate(self, state: ServerState, a: Attributes) -> None:
        res = a.resource
        if a.operation == "DELETE" and res.plural == "namespaces" and not res.group and a.name in IMMORTAL:
            raise errors.Forbidden("namespaces", "", a.name, "this namespace may not be deleted")
        if a.operation != "CREATE" or not res.namespaced or res.plural in EXEMPT:
            return
        ns = await self._namespace(state, a.namespace)
        if ns is None:
            raise errors.NotFound("namespaces", "", a.namespace)
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            err = errors.Forbidden(res.plural, res.group, a.name,
                                   f"unable to create new content in namespace {a.namespace} because it is being "
                                   "terminated")
            assert err.details is not None
            err.details["causes"] = [{"reason": "NamespaceTerminating", "message": f"namespace {a.namespace} is "
                                      "being terminated", "field": "metadata.namespace"}]
            raise err

    @staticmethod
    async def _namespace(state: ServerState, name: str) -> dict | None:
        key = f"/registry/core/namespaces/{name}"
        obj = state.cache.resource("core/namespaces").objects.get(key)
        if obj is not None:
            return obj
        kv = await state.store.get(key)       # the cache may lag a namespace created a moment ago
        if kv is None:
            return None
        import orjson
        return orjson.loads(kv.value)
