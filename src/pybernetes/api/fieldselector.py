"""Field selectors, as apimachinery ``pkg/fields`` (v0.33), and each kind's selectable fields.

A field selector (``?fieldSelector=spec.nodeName=n1,status.phase!=Failed``) is a conjunction of ``field=value`` /
``field!=value`` terms, with ``\\``, ``,`` and ``=`` backslash-escaped in values; parse errors raise
``ValueError`` with upstream's exact text (the API server's 400). Parsed selectors are cached: list and watch
requests repeat the same few.

Terms match against a small per-kind set of "selectable fields" (:data:`FIELD_LABELS`). Which labels a kind
accepts, and the 400 message for any other, follow upstream's field-label conversion functions
(``pkg/apis/*/v1/conversion.go``); the values follow the registries' ``ToSelectableFields``
(``pkg/registry/*/strategy.go``). Label selectors live in :mod:`pybernetes.api.selectors`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from pybernetes.api.selection import EQUALS, NOT_EQUALS

_ESCAPE = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\="})


def escape_field_value(s: str) -> str:
    """EscapeValue: ``\\`` ``,`` ``=`` are backslash-escaped in a field selector value."""
    return s.translate(_ESCAPE)


def unescape_field_value(s: str) -> str:
    """UnescapeValue; raises ``ValueError`` with upstream's message on a bad escape or a bare ``,``/``=``."""
    if "\\" not in s and "," not in s and "=" not in s:
        return s
    out: list[str] = []
    slash = False
    for c in s:
        if slash:
            if c not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            slash = False
        elif c == "\\":
            slash = True
        elif c in ",=":
            # Go prints the rune with %v: its code point.
            raise ValueError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if slash:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """An immutable field selector: terms ``(field, "=" | "!=", value)`` that must all hold.

    A missing field reads as ``""`` (so ``spec.nodeName=`` selects unscheduled pods), as upstream's ``Fields.Get``.
    """

    terms: tuple[tuple[str, str, str], ...] = ()

    @property
    def requirements(self) -> list[tuple[str, str, str]]:
        return list(self.terms)

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: Mapping[str, str]) -> bool:
        for f, op, v in self.terms:
            if (fields.get(f, "") == v) != (op == EQUALS):
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        for f, op, v in self.terms:
            if f == field and op == EQUALS:
                return v
        return None

    def transform(self, fn: Callable[[str, str], tuple[str, str]]) -> FieldSelector:
        """Rewrite each term's (field, value); a term mapped to ("", "") is dropped (matches everything)."""
        out = []
        for f, op, v in self.terms:
            nf, nv = fn(f, v)
            if nf or nv:
                out.append((nf, op, nv))
        return FieldSelector(tuple(out))

    def __str__(self) -> str:
        return ",".join(f"{f}{op}{escape_field_value(v)}" for f, op, v in self.terms)


def _split_terms(s: str) -> list[str]:
    terms, start, slash = [], 0, False
    for i, c in enumerate(s):
        if slash:
            slash = False
        elif c == "\\":
            slash = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


@lru_cache(maxsize=1024)
def _parse_field_selector(s: str) -> FieldSelector:
    terms: list[tuple[str, str, str]] = []
    for part in sorted(_split_terms(s)) if s else ():
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise ValueError(f"invalid selector: '{s}'; can't understand '{part}'")
        lhs, op, rhs = split
        value = unescape_field_value(rhs)
        if lhs or value:            # a term of empty field and value is the everything-selector
            terms.append((lhs, NOT_EQUALS if op == "!=" else EQUALS, value))
    return FieldSelector(tuple(terms))


def parse_field_selector(s: str, *, group: str | None = None, kind: str | None = None) -> FieldSelector:
    """fields.ParseSelector: ``a=b``, ``a==b``, ``a!=b``, comma-separated; ``\\,`` ``\\=`` ``\\\\`` escapes.

    With ``kind`` (and its ``group``), also checks and converts the field labels as the API server does for a
    list/watch of that kind (see :func:`convert_field_selector`).
    """
    sel = _parse_field_selector(s)
    return convert_field_selector(sel, group=group or "", kind=kind) if kind is not None else sel


# -- selectable fields per kind ----------------------------------------------------------------------------------


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _b(v: Any) -> str:
    return "true" if v is True else "false"


def _i(v: Any) -> str:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else "0"


def _meta_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    m = obj.get("metadata") or {}
    return {"metadata.name": _s(m.get("name")), "metadata.namespace": _s(m.get("namespace"))}


def _pod_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    pod_ips = status.get("podIPs") or []
    pod_ip = _s(pod_ips[0].get("ip")) if pod_ips and isinstance(pod_ips[0], Mapping) else _s(status.get("podIP"))
    f = _meta_fields(obj)
    f.update({
        "spec.nodeName": _s(spec.get("nodeName")),
        "spec.restartPolicy": _s(spec.get("restartPolicy")),
        "spec.schedulerName": _s(spec.get("schedulerName")),
        "spec.serviceAccountName": _s(spec.get("serviceAccountName")),
        "spec.hostNetwork": _b(spec.get("hostNetwork")),
        "status.phase": _s(status.get("phase")),
        "status.podIP": pod_ip,
        "status.nominatedNodeName": _s(status.get("nominatedNodeName")),
    })
    return f


def _node_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"metadata.name": _s(_get(obj, "metadata", "name")),
            "spec.unschedulable": _b(_get(obj, "spec", "unschedulable"))}


def _namespace_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"metadata.name": _s(_get(obj, "metadata", "name")), "status.phase": _s(_get(obj, "status", "phase"))}


def _with(extra: Callable[[Mapping[str, Any]], dict[str, str]]) -> Callable[[Mapping[str, Any]], dict[str, str]]:
    def fields(obj: Mapping[str, Any]) -> dict[str, str]:
        f = _meta_fields(obj)
        f.update(extra(obj))
        return f
    return fields


def _event_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    """Core Event fields; an events.k8s.io/v1 shaped object (``regarding``, ...) is read in its own names."""
    if "regarding" in obj or "reportingController" in obj or "deprecatedSource" in obj:
        ref = obj.get("regarding") or {}
        reporting = _s(obj.get("reportingController"))
        source = _s(_get(obj, "deprecatedSource", "component"))
    else:
        ref = obj.get("involvedObject") or {}
        reporting = _s(obj.get("reportingComponent"))
        source = _s(_get(obj, "source", "component"))
    f = _meta_fields(obj)
    f.update({label: _s(ref.get(label[15:])) for label in _EVENT_LABELS})
    f.update({"reason": _s(obj.get("reason")), "reportingComponent": reporting, "source": source or reporting,
              "type": _s(obj.get("type"))})
    return f


def _signer_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"metadata.name": _s(_get(obj, "metadata", "name")), "spec.signerName": _s(_get(obj, "spec", "signerName"))}


FieldsFn = Callable[[Mapping[str, Any]], dict[str, str]]

#: Selectable fields per built-in (group, kind): the values a field selector is matched against.
FIELD_LABELS: dict[tuple[str, str], FieldsFn] = {
    ("", "Pod"): _pod_fields,
    ("", "Node"): _node_fields,
    ("", "Namespace"): _namespace_fields,
    ("", "Event"): _event_fields,
    ("events.k8s.io", "Event"): _event_fields,
    ("", "Secret"): _with(lambda o: {"type": _s(o.get("type"))}),
    ("", "Service"): _with(lambda o: {"spec.clusterIP": _s(_get(o, "spec", "clusterIP")),
                                      "spec.type": _s(_get(o, "spec", "type"))}),
    ("", "ReplicationController"): _with(lambda o: {"status.replicas": _i(_get(o, "status", "replicas"))}),
    ("apps", "ReplicaSet"): _with(lambda o: {"status.replicas": _i(_get(o, "status", "replicas"))}),
    ("batch", "Job"): _with(lambda o: {"status.successful": _i(_get(o, "status", "succeeded"))}),
    ("certificates.k8s.io", "CertificateSigningRequest"): _signer_fields,
    ("certificates.k8s.io", "ClusterTrustBundle"): _signer_fields,
}

_EVENT_LABELS = tuple(f"involvedObject.{k}" for k in
                      ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"))
_NAME_NS = ("metadata.name", "metadata.namespace")

# Labels each kind's conversion function accepts: its selectable fields (plus Pod's "status.podIPs", accepted but
# never filled in), except events.k8s.io, which accepts only its own spellings (renamed below) and these.
_ACCEPTED: dict[tuple[str, str], frozenset[str]] = {
    key: frozenset(fn({})) for key, fn in FIELD_LABELS.items()}
_ACCEPTED[("", "Pod")] |= {"status.podIPs"}
_ACCEPTED[("events.k8s.io", "Event")] = frozenset({*_NAME_NS, "reason", "type"})
_RENAMES: dict[tuple[str, str], dict[str, str]] = {
    ("", "Pod"): {"spec.host": "spec.nodeName"},      # old v1 clients
    ("events.k8s.io", "Event"): {
        **{f"regarding.{k.split('.', 1)[1]}": k for k in _EVENT_LABELS},
        "reportingController": "reportingComponent",
    },
}


def field_labels(group: str, kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The selectable fields of ``obj``; kinds without their own set have ``metadata.name``/``metadata.namespace``."""
    return FIELD_LABELS.get((group, kind), _meta_fields)(obj)


def convert_field_label(group: str, kind: str, label: str, value: str) -> tuple[str, str]:
    """The API server's field-label conversion for one term: accepted label (renamed), or ``ValueError``.

    Kinds with their own conversion say ``field label not supported: <label>``; the others use upstream's
    default, which accepts only ``metadata.name`` and ``metadata.namespace``.
    """
    key = (group, kind)
    accepted = _ACCEPTED.get(key)
    if accepted is None:
        if label in _NAME_NS:
            return label, value
        quoted = orjson.dumps(label).decode()
        raise ValueError(f'{quoted} is not a known field selector: only "metadata.name", "metadata.namespace"')
    renamed = _RENAMES.get(key, {}).get(label)
    if renamed is not None:
        return renamed, value
    if label in accepted:
        return label, value
    raise ValueError(f"field label not supported: {label}")


def convert_field_selector(selector: FieldSelector, *, group: str, kind: str) -> FieldSelector:
    """Check every term of ``selector`` against ``kind``'s selectable fields (400 message on the first bad one)."""
    if selector.empty:
        return selector
    return selector.transform(lambda f, v: convert_field_label(group, kind, f, v))
