"""Tables of the kinds that configure the cluster itself: PodDisruptionBudget, Lease, PriorityClass, RuntimeClass,
CertificateSigningRequest, FlowSchema, PriorityLevelConfiguration, APIService, and the admission webhook and
policy configurations (GA ones: MutatingAdmissionPolicy is alpha in 1.33 and not served).

APIService's table comes from kube-aggregator (SERVICE "Local" or "ns/name", AVAILABLE "True" or
"False (MissingEndpoints)"); the rest are upstream ``printers.go``. FlowSchema rows are sorted by matching
precedence, then name, as upstream sorts the list before printing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.tables.age import human_duration
from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import AGE, NAME, Obj, Printer, age_of, column, int_or_string

__all__ = ["PRINTERS", "csr_condition", "go_label_selector"]

_EMPTY: dict[str, Any] = {}
_SECOND = 1_000_000_000


def _name(obj: Obj) -> str:
    name: str = (obj.get("metadata") or _EMPTY).get("name", "")
    return name


def _pdb(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    lo, hi = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [_name(obj), "N/A" if lo is None else int_or_string(lo), "N/A" if hi is None else int_or_string(hi),
            (obj.get("status") or _EMPTY).get("disruptionsAllowed") or 0, age_of(obj, now)]


def _lease(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), (obj.get("spec") or _EMPTY).get("holderIdentity") or "", age_of(obj, now)]


def _priority_class(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), obj.get("value") or 0, bool(obj.get("globalDefault")), age_of(obj, now),
            obj.get("preemptionPolicy") or ""]


def _runtime_class(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), obj.get("handler") or "", age_of(obj, now)]


def csr_condition(obj: Obj) -> str:
    """``extractCSRStatus``: Denied, Approved or Pending, then ",Failed" and ",Issued" when they apply."""
    kinds = {c.get("type") for c in (obj.get("status") or _EMPTY).get("conditions") or ()}
    status = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        status += ",Failed"
    if (obj.get("status") or _EMPTY).get("certificate"):
        status += ",Issued"
    return status


def _csr(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    seconds = spec.get("expirationSeconds")
    return [_name(obj), age_of(obj, now), spec.get("signerName") or "<none>", spec.get("username") or "",
            "<none>" if seconds is None else human_duration(seconds * _SECOND), csr_condition(obj)]


def _flow_schema(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    method = spec.get("distinguisherMethod")
    dangling = "?"
    for c in (obj.get("status") or _EMPTY).get("conditions") or ():
        if c.get("type") == "Dangling":
            dangling = c.get("status") or ""
            break
    return [_name(obj), (spec.get("priorityLevelConfiguration") or _EMPTY).get("name") or "",
            spec.get("matchingPrecedence") or 0, "<none>" if method is None else method.get("type") or "",
            age_of(obj, now), dangling]


def _priority_level(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    shares: Any = "<none>"
    queues: Any = "<none>"
    hand: Any = "<none>"
    limit: Any = "<none>"
    limited = spec.get("limited")
    if limited is not None:
        shares = limited.get("nominalConcurrencyShares") or 0
        queuing = (limited.get("limitResponse") or _EMPTY).get("queuing")
        if queuing is not None:
            queues = queuing.get("queues") or 0
            hand = queuing.get("handSize") or 0
            limit = queuing.get("queueLengthLimit") or 0
    return [_name(obj), spec.get("type") or "", shares, queues, hand, limit, age_of(obj, now)]


def _api_service(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    svc = spec.get("service")
    service = "Local" if svc is None else f"{svc.get('namespace') or ''}/{svc.get('name') or ''}"
    available = "Unknown"
    for c in (obj.get("status") or _EMPTY).get("conditions") or ():
        if c.get("type") == "Available":
            status = c.get("status") or ""
            available = f"{status} ({c['reason']})" if status != "True" and c.get("reason") else status
            break
    return [_name(obj), service, available, age_of(obj, now)]


def _webhooks(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), len(obj.get("webhooks") or ()), age_of(obj, now)]


def _policy(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    kind = spec.get("paramKind")
    param = "<unset>" if kind is None else f"{kind.get('apiVersion') or ''}/{kind.get('kind') or ''}"
    return [_name(obj), len(spec.get("validations") or ()), param, age_of(obj, now)]


def go_label_selector(selector: dict[str, Any]) -> str:
    """The Go protobuf ``String()`` of a ``metav1.LabelSelector``, which upstream prints for a selector ParamRef."""
    labels = selector.get("matchLabels") or {}
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key') or ''},Operator:{e.get('operator') or ''},"
        f"Values:[{' '.join(e.get('values') or ())}],}},"
        for e in selector.get("matchExpressions") or ())
    pairs = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{pairs}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def _binding(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    ref = spec.get("paramRef")
    param = "<unset>"
    if ref is not None:
        if ref.get("name"):
            param = f"{ref.get('namespace') or '*'}/{ref['name']}"
        elif ref.get("selector") is not None:
            param = go_label_selector(ref["selector"])
    return [_name(obj), spec.get("policyName") or "", param, age_of(obj, now)]


_WEBHOOK_COLUMNS = (
    NAME,
    column("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
    AGE,
)
_BINDING_COLUMNS = (
    NAME,
    column("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to"),
    column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
    AGE,
)
_PARAM_KIND = column("ParamKind", "string",
                     "ParamKind specifies the kind of resources used to parameterize this policy")
_ADMISSION = "admissionregistration.k8s.io"

PRINTERS = {
    ("policy", "PodDisruptionBudget"): Printer((
        NAME,
        column("Min Available", "string", "The minimum number of pods that must be available."),
        column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
        column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
        AGE,
    ), _pdb),
    ("coordination.k8s.io", "Lease"): Printer((
        NAME,
        column("Holder", "string", DOCS["coordination.LeaseSpec.holderIdentity"]),
        AGE,
    ), _lease),
    ("scheduling.k8s.io", "PriorityClass"): Printer((
        NAME,
        column("Value", "integer", DOCS["scheduling.PriorityClass.value"]),
        column("Global-Default", "boolean", DOCS["scheduling.PriorityClass.globalDefault"]),
        AGE,
        column("PreemptionPolicy", "string", DOCS["scheduling.PriorityClass.preemptionPolicy"]),
    ), _priority_class),
    ("node.k8s.io", "RuntimeClass"): Printer((
        NAME,
        column("Handler", "string", ""),                 # upstream looks up a doc key ObjectMeta does not have
        AGE,
    ), _runtime_class),
    ("certificates.k8s.io", "CertificateSigningRequest"): Printer((
        NAME,
        AGE,
        column("SignerName", "string", DOCS["certificatesv1beta1.CertificateSigningRequestSpec.signerName"]),
        column("Requestor", "string", DOCS["certificatesv1beta1.CertificateSigningRequestSpec.request"]),
        column("RequestedDuration", "string",
               DOCS["certificatesv1beta1.CertificateSigningRequestSpec.expirationSeconds"]),
        column("Condition", "string", DOCS["certificatesv1beta1.CertificateSigningRequestStatus.conditions"]),
    ), _csr),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): Printer((
        NAME,
        column("PriorityLevel", "string", DOCS["flowcontrol.PriorityLevelConfigurationReference.name"]),
        column("MatchingPrecedence", "string", DOCS["flowcontrol.FlowSchemaSpec.matchingPrecedence"]),
        column("DistinguisherMethod", "string", DOCS["flowcontrol.FlowSchemaSpec.distinguisherMethod"]),
        AGE,
        column("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
    ), _flow_schema, sort_key=lambda o: ((o.get("spec") or _EMPTY).get("matchingPrecedence") or 0, _name(o))),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): Printer((
        NAME,
        column("Type", "string", DOCS["flowcontrol.PriorityLevelConfigurationSpec.type"]),
        column("NominalConcurrencyShares", "string",
               DOCS["flowcontrol.LimitedPriorityLevelConfiguration.nominalConcurrencyShares"]),
        column("Queues", "string", DOCS["flowcontrol.QueuingConfiguration.queues"]),
        column("HandSize", "string", DOCS["flowcontrol.QueuingConfiguration.handSize"]),
        column("QueueLengthLimit", "string", DOCS["flowcontrol.QueuingConfiguration.queueLengthLimit"]),
        AGE,
    ), _priority_level),
    ("apiregistration.k8s.io", "APIService"): Printer((
        NAME,
        column("Service", "string", "The reference to the service that hosts this API endpoint."),
        column("Available", "string", "Whether this service is available."),
        AGE,
    ), _api_service),
    (_ADMISSION, "MutatingWebhookConfiguration"): Printer(_WEBHOOK_COLUMNS, _webhooks),
    (_ADMISSION, "ValidatingWebhookConfiguration"): Printer(_WEBHOOK_COLUMNS, _webhooks),
    (_ADMISSION, "ValidatingAdmissionPolicy"): Printer((
        NAME,
        column("Validations", "integer",
               "Validations indicates the number of validation rules defined in this configuration"),
        _PARAM_KIND,
        AGE,
    ), _policy),
    (_ADMISSION, "ValidatingAdmissionPolicyBinding"): Printer(_BINDING_COLUMNS, _binding),
}
