"""Tables of PDB, Lease, PriorityClass, RuntimeClass, CSR, flow control, APIService and admission kinds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.resources import Resource
from pybernetes.api.tables import to_table
from pybernetes.api.tables.controlplane import PRINTERS, csr_condition, go_label_selector

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def obj(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "x", "creationTimestamp": "2025-03-01T11:50:00Z"}, **fields}


def cells(group: str, kind: str, o: dict[str, Any]) -> list[Any]:
    return PRINTERS[(group, kind)].cells(o, NOW)


@pytest.mark.parametrize(("spec", "status", "want"), [
    ({"minAvailable": 2}, {"disruptionsAllowed": 1}, ["x", "2", "N/A", 1, "10m"]),
    ({"maxUnavailable": "25%"}, {}, ["x", "N/A", "25%", 0, "10m"]),
    ({}, {}, ["x", "N/A", "N/A", 0, "10m"]),
])
def test_pdb(spec: dict[str, Any], status: dict[str, Any], want: list[Any]) -> None:
    assert cells("policy", "PodDisruptionBudget", obj(spec=spec, status=status)) == want


def test_lease_priority_runtime_class() -> None:
    assert cells("coordination.k8s.io", "Lease", obj(spec={"holderIdentity": "node-1"})) == ["x", "node-1", "10m"]
    assert cells("coordination.k8s.io", "Lease", obj(spec={})) == ["x", "", "10m"]
    pc = obj(value=1000000, globalDefault=True, preemptionPolicy="Never")
    assert cells("scheduling.k8s.io", "PriorityClass", pc) == ["x", 1000000, True, "10m", "Never"]
    assert cells("scheduling.k8s.io", "PriorityClass", obj(value=0)) == ["x", 0, False, "10m", ""]
    assert cells("node.k8s.io", "RuntimeClass", obj(handler="runc")) == ["x", "runc", "10m"]


@pytest.mark.parametrize(("conditions", "cert", "want"), [
    ([], None, "Pending"),
    ([{"type": "Approved"}], None, "Approved"),
    ([{"type": "Approved"}], "LS0t", "Approved,Issued"),
    ([{"type": "Approved"}, {"type": "Denied"}], None, "Denied"),
    ([{"type": "Approved"}, {"type": "Failed"}], None, "Approved,Failed"),
])
def test_csr_condition(conditions: list[dict[str, str]], cert: str | None, want: str) -> None:
    status: dict[str, Any] = {"conditions": conditions}
    if cert:
        status["certificate"] = cert
    assert csr_condition({"status": status}) == want


def test_csr_row() -> None:
    csr = obj(spec={"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice",
                    "expirationSeconds": 86400, "request": "..."}, status={})
    assert cells("certificates.k8s.io", "CertificateSigningRequest", csr) == [
        "x", "10m", "kubernetes.io/kube-apiserver-client", "alice", "24h", "Pending"]
    assert cells("certificates.k8s.io", "CertificateSigningRequest", obj(spec={})) == [
        "x", "10m", "<none>", "", "<none>", "Pending"]


def test_flow_control() -> None:
    fs = obj(spec={"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 9000,
                   "distinguisherMethod": {"type": "ByUser"}},
             status={"conditions": [{"type": "Dangling", "status": "False"}]})
    assert cells("flowcontrol.apiserver.k8s.io", "FlowSchema", fs) == ["x", "workload-low", 9000, "ByUser", "10m",
                                                                       "False"]
    assert cells("flowcontrol.apiserver.k8s.io", "FlowSchema", obj(spec={}))[3:] == ["<none>", "10m", "?"]
    plc = obj(spec={"type": "Limited", "limited": {"nominalConcurrencyShares": 30, "limitResponse": {
        "type": "Queue", "queuing": {"queues": 64, "handSize": 6, "queueLengthLimit": 50}}}})
    assert cells("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", plc) == [
        "x", "Limited", 30, 64, 6, 50, "10m"]
    reject = obj(spec={"type": "Limited", "limited": {"nominalConcurrencyShares": 5,
                                                      "limitResponse": {"type": "Reject"}}})
    assert cells("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", reject)[2:6] == [
        5, "<none>", "<none>", "<none>"]
    exempt = obj(spec={"type": "Exempt", "exempt": {}})
    assert cells("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", exempt)[1:6] == [
        "Exempt", "<none>", "<none>", "<none>", "<none>"]


def test_flow_schemas_are_sorted_by_precedence_then_name() -> None:
    res = Resource(group="flowcontrol.apiserver.k8s.io", version="v1", kind="FlowSchema", plural="flowschemas",
                   singular="flowschema", namespaced=False)
    items = []
    for name, prec in (("global-default", 9900), ("exempt", 1), ("catch-all", 10000), ("b", 500), ("a", 500)):
        items.append({"metadata": {"name": name}, "spec": {"matchingPrecedence": prec}})
    table = to_table(res, items, now=NOW)
    assert [r["cells"][0] for r in table["rows"]] == ["exempt", "a", "b", "global-default", "catch-all"]
    assert items[0]["metadata"]["name"] == "global-default"      # the input list is left alone


@pytest.mark.parametrize(("svc", "conditions", "want"), [
    (None, [{"type": "Available", "status": "True", "reason": "Local"}], ["x", "Local", "True", "10m"]),
    ({"namespace": "kube-system", "name": "metrics-server", "port": 443},
     [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}],
     ["x", "kube-system/metrics-server", "False (MissingEndpoints)", "10m"]),
    ({"namespace": "ns", "name": "s"}, [{"type": "Available", "status": "Unknown"}], ["x", "ns/s", "Unknown", "10m"]),
    ({"namespace": "ns", "name": "s"}, [], ["x", "ns/s", "Unknown", "10m"]),
])
def test_api_service(svc: dict[str, Any] | None, conditions: list[dict[str, str]], want: list[Any]) -> None:
    spec: dict[str, Any] = {"group": "metrics.k8s.io", "version": "v1beta1"}
    if svc is not None:
        spec["service"] = svc
    assert cells("apiregistration.k8s.io", "APIService", obj(spec=spec, status={"conditions": conditions})) == want


def test_admission() -> None:
    group = "admissionregistration.k8s.io"
    assert cells(group, "ValidatingWebhookConfiguration", obj(webhooks=[{}, {}])) == ["x", 2, "10m"]
    assert cells(group, "MutatingWebhookConfiguration", obj()) == ["x", 0, "10m"]
    vap = obj(spec={"validations": [{"expression": "true"}],
                    "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}})
    assert cells(group, "ValidatingAdmissionPolicy", vap) == ["x", 1, "v1/ConfigMap", "10m"]
    assert cells(group, "ValidatingAdmissionPolicy", obj(spec={})) == ["x", 0, "<unset>", "10m"]
    binding = PRINTERS[(group, "ValidatingAdmissionPolicyBinding")]
    for ref, want in ((None, "<unset>"), ({"name": "p", "namespace": "ns"}, "ns/p"), ({"name": "p"}, "*/p"),
                      ({"selector": {"matchLabels": {"a": "b"}}},
                       "&LabelSelector{MatchLabels:map[string]string{a: b,},"
                       "MatchExpressions:[]LabelSelectorRequirement{},}")):
        spec: dict[str, Any] = {"policyName": "pol"}
        if ref is not None:
            spec["paramRef"] = ref
        assert binding.cells(obj(spec=spec), NOW) == ["x", "pol", want, "10m"]
    assert (group, "MutatingAdmissionPolicy") not in PRINTERS      # alpha in 1.33


def test_go_label_selector() -> None:
    sel = {"matchLabels": {"z": "1", "a": "2"},
           "matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}]}
    assert go_label_selector(sel) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 2,z: 1,},MatchExpressions:[]LabelSelectorRequirement{"
        "LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}")
