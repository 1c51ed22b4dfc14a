"""``POST pods/NAME/eviction``: a pod deletion that respects PodDisruptionBudgets (what ``kubectl drain`` uses).

As upstream's ``EvictionREST`` (``pkg/registry/core/pod/storage/eviction.go``):

- A pod that has already caused its disruption (Succeeded, Failed, Pending, or already terminating) is deleted
  without looking at budgets.
- Otherwise the one PDB selecting the pod decides (more than one is a 500; none lets the eviction through). An
  unready pod does not count as healthy, so evicting it spends no budget when the PDB is already satisfied (or
  its ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``); the delete is then pinned to the pod's
  resourceVersion, so a pod that turned ready meanwhile is not evicted on stale grounds (→ 429, retry).
- Spending budget is a compare-and-swap on the PDB status: ``disruptionsAllowed`` is decremented and the pod
  recorded in ``disruptedPods`` (so the disruption controller does not count it as healthy while it
  terminates). A lost race re-reads the PDB and checks again, so two concurrent evictions cannot both spend
  the last disruption.
- Before the delete, the pod gets the ``DisruptionTarget`` condition (reason ``EvictionByEvictionAPI``).
"""

from __future__ import annotations

import copy
import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pybernetes.api import errors
from pybernetes.api.decode import BodyError, cannot_handle, parse_body
from pybernetes.api.errors import APIError, BadRequest, MethodNotAllowed
from pybernetes.api.meta import format_rfc3339
from pybernetes.api.resources import Resource
from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.api.typeinfo import of_kind
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.handlers import media_type
from pybernetes.apiserver.negotiation import choose
from pybernetes.apiserver.options import DeleteOptions, ListOptions, WriteOptions
from pybernetes.apiserver.requestinfo import RequestInfo
from pybernetes.apiserver.respond import object_response

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler

Obj = dict[str, Any]

# Upstream MaxDisruptedPodSize: evictions approved but not yet seen by the disruption controller.
MAX_DISRUPTED_PODS = 2000
# Upstream retries a conflicting delete of a PDB-exempt pod (EvictionsRetry: 20 steps).
IGNORE_PDB_TRIES = 20
EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_PDBS = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
# The manager name upstream's loopback client gives the PDB status write.
FIELD_MANAGER = "kube-apiserver"


# ------------------------------------------------------------------ pure decisions
def is_pod_ready(pod: Obj) -> bool:
    """Upstream ``podutil.IsPodReady``: the Ready condition is True."""
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def can_ignore_pdb(pod: Obj) -> bool:
    """A pod that is terminal, Pending or already terminating has caused its disruption: no budget to check."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def matching_pdbs(pdbs: list[Obj], pod: Obj) -> list[Obj]:
    """PDBs of the pod's namespace whose selector matches its labels; a nil, empty or invalid selector matches
    nothing here (unlike elsewhere), so a stray PDB cannot block every eviction."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    out = []
    for pdb in pdbs:
        try:
            sel = label_selector_from_dict((pdb.get("spec") or {}).get("selector"))
        except ValueError:
            continue
        if sel.empty or not sel.matches(labels):
            continue
        out.append(pdb)
    return out


def unhealthy_pod_is_free(pdb: Obj, pod: Obj) -> bool:
    """An unready pod may go without spending budget: always under ``AlwaysAllow``, else (the default
    ``IfHealthyBudget``) when the budget is currently met."""
    if is_pod_ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    st = pdb.get("status") or {}
    desired = st.get("desiredHealthy") or 0
    return desired > 0 and (st.get("currentHealthy") or 0) >= desired


def too_many_requests(pdb_name: str) -> APIError:
    """The PDB has changed since the disruption controller last looked: ask the client to come back."""
    return APIError(VIOLATION, code=429, reason="TooManyRequests", details={
        "causes": [{"reason": DISRUPTION_BUDGET_CAUSE,
                    "message": f"The disruption budget {pdb_name} is still being processed by the server."}],
        "retryAfterSeconds": 10}, headers={"Retry-After": "10"})


def check_and_decrement(pdb: Obj, pod_name: str, *, now: datetime.datetime, dry_run: bool) -> Obj:
    """The PDB with one disruption spent on ``pod_name`` (a copy), or the APIError that forbids it."""
    meta = pdb.get("metadata") or {}
    name = meta.get("name", "")
    st = pdb.get("status") or {}
    if (st.get("observedGeneration") or 0) < (meta.get("generation") or 0):
        raise too_many_requests(name)
    allowed = st.get("disruptionsAllowed") or 0
    if allowed < 0:
        raise errors.Forbidden("poddisruptionbudget", "policy", name, "pdb disruptions allowed is negative")
    if len(st.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise errors.Forbidden("poddisruptionbudget", "policy", name,
                               "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
    if allowed == 0:
        raise APIError(VIOLATION, code=429, reason="TooManyRequests", details={"causes": [{
            "reason": DISRUPTION_BUDGET_CAUSE,
            "message": f"The disruption budget {name} needs {st.get('desiredHealthy') or 0} healthy pods and has "
                       f"{st.get('currentHealthy') or 0} currently"}]})
    new = copy.deepcopy(pdb)
    nst = new.setdefault("status", {})
    nst["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        _set_disruption_allowed_condition(nst, now)
    if not dry_run:
        disrupted = nst.get("disruptedPods") or {}
        disrupted[pod_name] = format_rfc3339(now)
        nst["disruptedPods"] = disrupted
    return new


def _set_disruption_allowed_condition(st: Obj, now: datetime.datetime) -> None:
    """Upstream ``UpdateDisruptionAllowedCondition`` for a budget that just ran out."""
    conds = st.setdefault("conditions", [])
    for i, c in enumerate(conds):
        if c.get("type") == "DisruptionAllowed":
            ltt = c.get("lastTransitionTime") if c.get("status") == "False" else None
            conds[i] = _condition(st, ltt or format_rfc3339(now))
            return
    conds.append(_condition(st, format_rfc3339(now)))


def _condition(st: Obj, ltt: str) -> Obj:
    """A metav1.Condition in the Go field order."""
    return {"type": "DisruptionAllowed", "status": "False", "observedGeneration": st.get("observedGeneration") or 0,
            "lastTransitionTime": ltt, "reason": "InsufficientPods", "message": ""}


def add_disruption_target(pod: Obj, *, now: datetime.datetime) -> Obj:
    """The pod with ``DisruptionTarget=True`` (EvictionByEvictionAPI), as upstream sets before deleting."""
    st = pod.setdefault("status", {})
    conds = st.setdefault("conditions", [])
    want = {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
            "message": "Eviction API: evicting"}
    for c in conds:
        if c.get("type") == "DisruptionTarget":
            if c.get("status") != "True":
                c["lastTransitionTime"] = format_rfc3339(now)
            c.update({k: v for k, v in want.items() if k != "type"})
            return pod
    conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                  "lastTransitionTime": format_rfc3339(now), "reason": want["reason"], "message": want["message"]})
    return pod


# ------------------------------------------------------------------ request handling
async def decode_eviction(handler: ResourceHandler, request: web.Request, res: Resource, opts: WriteOptions) -> Obj:
    """The Eviction body, policy/v1 or policy/v1beta1 (both are accepted upstream), checked field by field."""
    ct = media_type(request) or "application/json"
    body = await handler.read_body(request)
    dups: list[str] = []
    try:
        obj = parse_body(body, ct, duplicates=dups)
    except BodyError as e:
        raise BadRequest(e.for_kind("Eviction")) from None
    if not isinstance(obj, dict):
        raise BadRequest(cannot_handle("Eviction", "v1", "the body must be a JSON object"))
    api_version = obj.get("apiVersion") if obj.get("apiVersion") in EVICTION_VERSIONS else "policy/v1"
    ti = of_kind(str(api_version), "Eviction") or of_kind("policy/v1", "Eviction")
    assert ti is not None
    handler.check_kind(obj, "Eviction", str(api_version), res)
    handler.check_fields(obj, ti, mode=opts.field_validation, kind="Eviction",
                         version=str(api_version).rpartition("/")[2], duplicates=dups)
    return obj


def delete_options_of(eviction: Obj, opts: WriteOptions) -> DeleteOptions:
    """The eviction's deleteOptions, with the request's dryRun pushed in (upstream ``propagateDryRun``)."""
    raw = eviction.get("deleteOptions")
    if raw is not None and not isinstance(raw, dict):
        raise BadRequest("deleteOptions must be an object")
    raw = dict(raw or {})
    body_dry = raw.get("dryRun") or []
    if body_dry and opts.dry_run != ("All" in body_dry):
        raise BadRequest(f"Non-matching dry-run options in request and content: "
                         f"{'[All]' if opts.dry_run else '[]'} and [{' '.join(body_dry)}]")
    if not body_dry and opts.dry_run:
        raw["dryRun"] = ["All"]
    return DeleteOptions.parse({}, raw)


async def eviction(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                   user: UserInfo) -> web.StreamResponse:
    if info.verb != "create":
        raise MethodNotAllowed("pods/eviction", "", info.verb)
    opts = handler.write_options(request)
    body = await decode_eviction(handler, request, res, opts)
    if (body.get("metadata") or {}).get("name", "") != info.name:
        raise BadRequest("name in URL does not match name in Eviction object")
    dopts = delete_options_of(body, opts)
    await Evictor(handler, res, user).evict(info.namespace, info.name, dopts)
    out = choose(request.headers.get("Accept"), allow_as=())
    return object_response(out, None, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                       "code": 201}, status=201)


class Evictor:
    """One eviction: read the pod, consult its budget, spend it, delete. Raises the APIError the client sees."""

    def __init__(self, handler: ResourceHandler, pods: Resource, user: UserInfo) -> None:
        self.handler = handler
        self.rest = handler.rest
        self.pods = pods
        self.user = user
        pdbs = handler.state.resources.get("policy", "v1", "poddisruptionbudgets")
        assert pdbs is not None
        self.pdbs = pdbs

    @staticmethod
    def now() -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    async def evict(self, ns: str, name: str, dopts: DeleteOptions) -> None:
        pinned_by_client = bool(dopts.preconditions.get("resourceVersion"))
        for attempt in range(IGNORE_PDB_TRIES):
            pod = await self.rest.get(self.pods, ns, name)
            if not can_ignore_pdb(pod):
                break
            try:
                pinned = dopts if pinned_by_client or _terminal_or_deleting(pod) else _pinned(dopts, pod)
                await self.delete(ns, name, pinned)
                return
            except errors.Conflict:
                # The pod changed under us (it may have started running): look again, unless the client pinned
                # a resourceVersion itself; then the conflict is its answer.
                if pinned_by_client or attempt == IGNORE_PDB_TRIES - 1:
                    raise
        pdbs = matching_pdbs(await self._list_pdbs(ns), pod)
        if len(pdbs) > 1:
            raise APIError(MULTIPLE_PDBS, code=500, reason="")
        pin = False
        if pdbs:
            pdb = pdbs[0]
            if unhealthy_pod_is_free(pdb, pod):
                pin = True
            else:
                await self._spend(pdb, name, dry_run=dopts.dry_run)
        if pin and not pinned_by_client:
            try:
                await self.delete(ns, name, _pinned(dopts, pod))
            except errors.Conflict:
                raise too_many_requests(pdbs[0]["metadata"]["name"]) from None
            return
        await self.delete(ns, name, dopts)

    async def _list_pdbs(self, ns: str) -> list[Obj]:
        lst = await self.rest.list(self.pdbs, ns, ListOptions())
        return list(lst.get("items") or [])

    async def _spend(self, pdb: Obj, pod_name: str, *, dry_run: bool) -> None:
        meta = pdb["metadata"]
        if dry_run:
            check_and_decrement(pdb, pod_name, now=self.now(), dry_run=True)
            return

        def decrement(current: Obj) -> Obj:
            return check_and_decrement(current, pod_name, now=self.now(), dry_run=False)

        try:
            await self.rest.guaranteed_update(self.pdbs, meta.get("namespace", ""), meta["name"], decrement,
                                              opts=WriteOptions(field_manager=FIELD_MANAGER), user=self.user,
                                              subresource="status")
        except errors.Conflict:
            raise APIError(f'Timeout: couldn\'t update PodDisruptionBudget "{meta["name"]}" due to conflicts',
                           code=504, reason="Timeout", details={"retryAfterSeconds": 10},
                           headers={"Retry-After": "10"}) from None

    async def delete(self, ns: str, name: str, dopts: DeleteOptions) -> None:
        """Mark the pod ``DisruptionTarget`` (honouring the delete preconditions), then delete it."""
        if not dopts.dry_run:
            pre = dopts.preconditions

            def mark(pod: Obj) -> Obj:
                meta = pod.get("metadata") or {}
                if pre.get("uid") and pre["uid"] != meta.get("uid"):
                    raise errors.Conflict("pods", "", name, f"Precondition failed: UID in precondition: "
                                          f"{pre['uid']}, UID in object meta: {meta.get('uid')}")
                if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
                    raise errors.Conflict("pods", "", name, f"Precondition failed: ResourceVersion in "
                                          f"precondition: {pre['resourceVersion']}, ResourceVersion in object "
                                          f"meta: {meta.get('resourceVersion')}")
                return add_disruption_target(pod, now=self.now())

            updated = await self.rest.guaranteed_update(self.pods, ns, name, mark,
                                                        opts=WriteOptions(field_manager=FIELD_MANAGER),
                                                        user=self.user, subresource="status")
            if pre.get("resourceVersion"):
                dopts = copy.copy(dopts)
                dopts.preconditions = {**pre, "resourceVersion": updated["metadata"]["resourceVersion"]}
        await self.rest.delete(self.pods, ns, name, dopts, user=self.user)


def _terminal_or_deleting(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _pinned(dopts: DeleteOptions, pod: Obj) -> DeleteOptions:
    """Delete only the pod as it was read, so a pod that changed (e.g. turned ready) meanwhile is not evicted."""
    out = copy.copy(dopts)
    out.preconditions = {**dopts.preconditions, "resourceVersion": pod["metadata"]["resourceVersion"]}
    return out
