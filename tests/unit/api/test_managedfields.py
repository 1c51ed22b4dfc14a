"""Managed fields on non-apply writes, checked against what real clusters record."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pybernetes.api.fieldset import FieldSet, make_path
from pybernetes.api.managedfields import (
    compare,
    decode_managed_fields,
    encode_managed_fields,
    reset_fields,
    update_managed_fields,
)
from pybernetes.api.typeinfo import from_openapi, of_kind

DEPLOY = of_kind("apps/v1", "Deployment")
POD = of_kind("v1", "Pod")
CRONJOB = of_kind("batch/v1", "CronJob")
MAIN = reset_fields(has_status_subresource=True)
STATUS = reset_fields(subresource="status", has_status_subresource=True)
T0, T1, T2 = "2024-09-30T19:31:32Z", "2024-09-30T19:40:00Z", "2024-09-30T19:50:00Z"


def container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    """A container as the API server stores it after defaulting (upstream adds resources: {} too)."""
    pull = extra.pop("pull", "Always")
    return {"name": name, "image": image, **extra, "resources": {}, "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "imagePullPolicy": pull}


def pod_spec(*containers: dict[str, Any], restart: str = "Always", links: bool = True) -> dict[str, Any]:
    spec = {"containers": list(containers), "restartPolicy": restart, "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"}
    if links:
        spec["enableServiceLinks"] = True
    return spec


KUBECTL_CREATE_DEPLOYMENT = (
    DEPLOY, "kubectl-create",
    {"apiVersion": "apps/v1", "kind": "Deployment",
     "metadata": {"name": "nginx-0930", "namespace": "default", "labels": {"app": "nginx-0930"}},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nginx-0930"}},
              "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "nginx-0930"}},
                           "spec": pod_spec(container("nginx", "nginx"), links=False)},
              "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
              "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
     "status": {}},
    '{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},'
    '"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},'
    '"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":'
    '{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},'
    '"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},'
    '"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}')

KUBECTL_RUN_POD = (
    POD, "kubectl-run",
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "nginx", "namespace": "default", "labels": {"run": "nginx"}},
     "spec": pod_spec(container("nginx", "nginx"), restart="Never"),
     "status": {"phase": "Pending", "qosClass": "BestEffort"}},
    '{"f:metadata":{"f:labels":{".":{},"f:run":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},'
    '"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{},"f:terminationMessagePath":{},'
    '"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},'
    '"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}')

PORTED_POD = (
    POD, "kubectl",
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "echo-pod", "namespace": "colin-coder", "labels": {"app": "echo-server"},
                  "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
     "spec": pod_spec(container("echo-server", "jmalloc/echo-server",
                                ports=[{"name": "http-port", "containerPort": 8080, "protocol": "TCP"}]))},
    '{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},"f:labels":'
    '{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"echo-server\\"}":{".":{},"f:image":{},'
    '"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\\"containerPort\\":8080,\\"protocol\\":\\"TCP\\"}":'
    '{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},'
    '"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},'
    '"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}')

REPLICASET_POD = (
    POD, "kube-controller-manager",
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"generateName": "test-785cb95b9f-", "namespace": "test",
                  "labels": {"k8s.kuboard.cn/name": "test", "pod-template-hash": "785cb95b9f"},
                  "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "test-785cb95b9f",
                                       "uid": "5dca312e-1f5d-498c-b717-7a57f69707b9", "controller": True,
                                       "blockOwnerDeletion": True}]},
     "spec": pod_spec(container("test", "busybox"))},
    '{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:k8s.kuboard.cn/name":{},"f:pod-template-hash":{}},'
    '"f:ownerReferences":{".":{},"k:{\\"uid\\":\\"5dca312e-1f5d-498c-b717-7a57f69707b9\\"}":{}}},"f:spec":'
    '{"f:containers":{"k:{\\"name\\":\\"test\\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},'
    '"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},'
    '"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},'
    '"f:terminationGracePeriodSeconds":{}}}')

CRONJOB_BY_CLIENT = (
    CRONJOB, "Go-http-client",
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cdk-backdoor-cronjob", "namespace": "k"},
     "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": False,
              "jobTemplate": {"metadata": {"creationTimestamp": None},
                              "spec": {"template": {"metadata": {"creationTimestamp": None},
                                                    "spec": pod_spec(container("cdk-backdoor-cronjob-container",
                                                                               "ubuntu", args=["/bin/sh", "-c"],
                                                                               pull="IfNotPresent"),
                                                                     restart="OnFailure", links=False)}}},
              "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1},
     "status": {}},
    '{"f:spec":{"f:concurrencyPolicy":{},"f:failedJobsHistoryLimit":{},"f:jobTemplate":{"f:spec":{"f:template":'
    '{"f:spec":{"f:containers":{"k:{\\"name\\":\\"cdk-backdoor-cronjob-container\\"}":{".":{},"f:args":{},'
    '"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{},"f:terminationMessagePath":{},'
    '"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},'
    '"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}},"f:schedule":{},'
    '"f:successfulJobsHistoryLimit":{},"f:suspend":{}}}')

CREATES = [KUBECTL_CREATE_DEPLOYMENT, KUBECTL_RUN_POD, PORTED_POD, REPLICASET_POD, CRONJOB_BY_CLIENT]


def without_resources(obj: Any) -> Any:
    """The same object with the Go-always-present ``resources: {}`` left out, as a Python client may send it."""
    if isinstance(obj, dict):
        return {k: without_resources(v) for k, v in obj.items() if not (k == "resources" and v == {})}
    if isinstance(obj, list):
        return [without_resources(v) for v in obj]
    return obj


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(("ti", "manager", "obj", "want"), CREATES)
def test_create_records_what_a_cluster_records(ti: Any, manager: str, obj: dict, want: str, sparse: bool) -> None:
    new = without_resources(obj) if sparse else copy.deepcopy(obj)
    update_managed_fields(None, new, manager=manager, ti=ti, now=T0, api_version=obj["apiVersion"], ignored=MAIN)
    [entry] = new["metadata"]["managedFields"]
    assert json.dumps(entry, separators=(",", ":")) == (
        f'{{"manager":"{manager}","operation":"Update","apiVersion":"{obj["apiVersion"]}","time":"{T0}",'
        f'"fieldsType":"FieldsV1","fieldsV1":{want}}}')


def stored(ti: Any, obj: dict, manager: str, now: str = T0) -> dict:
    new = copy.deepcopy(obj)
    update_managed_fields(None, new, manager=manager, ti=ti, now=now, api_version=obj["apiVersion"], ignored=MAIN)
    new["metadata"].update(uid="u-1", resourceVersion="1", creationTimestamp=T0)
    return new


def fields_of(obj: dict, manager: str, subresource: str = "") -> dict | None:
    for e in obj["metadata"].get("managedFields", ()):
        if e.get("manager") == manager and e.get("subresource", "") == subresource:
            return e["fieldsV1"]
    return None


def test_kubelet_status_write_owns_what_it_changed() -> None:
    old = stored(POD, KUBECTL_RUN_POD[2], "kubectl-run")
    old["status"]["conditions"] = [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                    "lastTransitionTime": "2023-10-26T03:22:48Z"}]
    new = copy.deepcopy(old)
    new["status"] = {
        "phase": "Running", "hostIP": "172.20.0.2", "podIP": "10.244.0.8", "podIPs": [{"ip": "10.244.0.8"}],
        "startTime": "2023-10-26T03:22:48Z", "qosClass": "BestEffort",
        "conditions": [*({"type": t, "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": "2023-10-26T03:22:51Z"}
                         for t in ("Initialized", "Ready", "ContainersReady")), *old["status"]["conditions"]],
        "containerStatuses": [{"name": "nginx", "state": {"running": {"startedAt": "2023-10-26T03:22:50Z"}},
                               "lastState": {}, "ready": True, "restartCount": 0, "image": "nginx",
                               "imageID": "x", "containerID": "containerd://1", "started": True}]}
    update_managed_fields(old, new, manager="kubelet", subresource="status", ti=POD, now=T1, api_version="v1",
                          ignored=STATUS)
    cond = '{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}'
    assert json.dumps(fields_of(new, "kubelet", "status"), separators=(",", ":")) == (
        '{"f:status":{"f:conditions":{"k:{\\"type\\":\\"ContainersReady\\"}":' + cond +
        ',"k:{\\"type\\":\\"Initialized\\"}":' + cond + ',"k:{\\"type\\":\\"Ready\\"}":' + cond + '},'
        '"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},'
        '"k:{\\"ip\\":\\"10.244.0.8\\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}')
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["kubectl-run", "kubelet"]
    assert new["metadata"]["managedFields"][0] == old["metadata"]["managedFields"][0]
    assert new["metadata"]["managedFields"][1]["subresource"] == "status"


def apply_entry(fields: list[tuple[str, ...]], manager: str = "kubectl", time: str = T0) -> dict:
    return {"manager": manager, "operation": "Apply", "apiVersion": "apps/v1", "time": time,
            "fieldsType": "FieldsV1", "fieldsV1": FieldSet(fields).to_fields_v1()}


def deployment(replicas: int = 1, image: str = "nginx", **meta: Any) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "5", **meta},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


IMAGE = make_path("spec", "template", "spec", "containers", {"name": "web"}, "image")
REPLICAS = make_path("spec", "replicas")


@pytest.mark.parametrize(("change", "kubectl_keeps", "editor_owns"), [
    # an Update takes the fields it changes from every other manager, appliers included
    (lambda o: o["spec"].update(replicas=5), [IMAGE], [REPLICAS]),
    # a removed field leaves every set; the writer then owns nothing new
    (lambda o: o["spec"].pop("replicas"), [IMAGE], None),
    # unchanged values move nothing, whatever the request says
    (lambda o: None, [IMAGE, REPLICAS], None),
    (lambda o: o["metadata"].update(resourceVersion="9", generation=4), [IMAGE, REPLICAS], None),
])
def test_update_moves_changed_fields(change: Any, kubectl_keeps: list, editor_owns: list | None) -> None:
    old = deployment(managedFields=[apply_entry([IMAGE, REPLICAS])])
    new = copy.deepcopy(old)
    change(new)
    update_managed_fields(old, new, manager="kubectl-edit", ti=DEPLOY, now=T1, api_version="apps/v1", ignored=MAIN)
    assert FieldSet.from_fields_v1(fields_of(new, "kubectl")) == FieldSet(kubectl_keeps)
    got = fields_of(new, "kubectl-edit")
    assert (FieldSet.from_fields_v1(got) if got is not None else None) == (
        FieldSet(editor_owns) if editor_owns is not None else None)
    assert new["metadata"]["managedFields"][0]["time"] == T0      # only the writer's entry gets a new time


def test_same_manager_accumulates_and_time_moves_only_on_change() -> None:
    old = stored(DEPLOY, deployment(), "ctl")
    first = old["metadata"]["managedFields"][0]
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"x": "y"}
    update_managed_fields(old, new, manager="ctl", ti=DEPLOY, now=T1, api_version="apps/v1", ignored=MAIN)
    [entry] = new["metadata"]["managedFields"]
    assert entry["time"] == T1
    assert FieldSet.from_fields_v1(entry["fieldsV1"]) == FieldSet.from_fields_v1(first["fieldsV1"]) | FieldSet(
        [make_path("metadata", "labels"), make_path("metadata", "labels", "x")])
    again = copy.deepcopy(new)
    update_managed_fields(new, again, manager="ctl", ti=DEPLOY, now=T2, api_version="apps/v1", ignored=MAIN)
    assert again["metadata"]["managedFields"] == new["metadata"]["managedFields"]


def test_status_and_server_fields_are_never_recorded() -> None:
    old = stored(DEPLOY, deployment(), "ctl")
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 3}
    new["metadata"].update(generation=2, resourceVersion="7", selfLink="/x", uid="other")
    update_managed_fields(old, new, manager="sneaky", ti=DEPLOY, now=T1, api_version="apps/v1", ignored=MAIN)
    assert fields_of(new, "sneaky") is None
    update_managed_fields(old, new, manager="ctrl", subresource="status", ti=DEPLOY, now=T1, api_version="apps/v1",
                          ignored=STATUS)
    # status is a Go struct, always there: only the replicas field is new
    assert fields_of(new, "ctrl", "status") == {"f:status": {"f:replicas": {}}}


@pytest.mark.parametrize("reset", [[], [{}], [{"manager": "", "operation": None}]])
def test_reset_with_empty_list_drops_and_stops_tracking(reset: list) -> None:
    old = stored(DEPLOY, deployment(), "ctl")
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = reset
    new["spec"]["replicas"] = 4
    update_managed_fields(old, new, manager="ctl", ti=DEPLOY, now=T1, api_version="apps/v1", ignored=MAIN)
    assert "managedFields" not in new["metadata"]
    later = copy.deepcopy(new)
    later["spec"]["replicas"] = 6
    update_managed_fields(new, later, manager="ctl", ti=DEPLOY, now=T2, api_version="apps/v1", ignored=MAIN)
    assert "managedFields" not in later["metadata"]                # untracked until the next apply


def test_client_may_replace_managed_fields_on_the_main_resource_only() -> None:
    old = stored(DEPLOY, deployment(), "ctl")
    mine = [apply_entry([REPLICAS], manager="someone-else")]
    for subresource, want in (("", ["someone-else"]), ("status", ["ctl"])):
        new = copy.deepcopy(old)
        new["metadata"]["managedFields"] = mine
        update_managed_fields(old, new, manager="x", subresource=subresource, ti=DEPLOY, now=T1,
                              api_version="apps/v1", ignored=MAIN)
        assert [e["manager"] for e in new["metadata"]["managedFields"]] == want
    bad = copy.deepcopy(old)
    bad["metadata"]["managedFields"] = [{"manager": "m", "operation": "Sideways", "apiVersion": "v1"}]
    update_managed_fields(old, bad, manager="x", ti=DEPLOY, now=T1, api_version="apps/v1", ignored=MAIN)
    assert bad["metadata"]["managedFields"] == old["metadata"]["managedFields"]     # invalid: live ones kept


def test_more_than_ten_updaters_fold_into_ancient_changes() -> None:
    old = deployment()
    old["metadata"]["labels"] = {f"l{i}": "v" for i in range(11)}
    old["metadata"]["managedFields"] = [
        {"manager": f"m{i:02d}", "operation": "Update", "apiVersion": "apps/v1", "time": f"2024-01-01T00:00:{i:02d}Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {f"f:l{i}": {}}}}} for i in range(10)]
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 2
    update_managed_fields(old, new, manager="m10", ti=DEPLOY, now=T1, api_version="apps/v1", ignored=MAIN)
    entries = new["metadata"]["managedFields"]
    assert len(entries) == 10
    bucket = next(e for e in entries if e["manager"] == "ancient-changes")
    assert bucket["time"] == "2024-01-01T00:00:01Z" and bucket["operation"] == "Update"
    assert bucket["fieldsV1"] == {"f:metadata": {"f:labels": {"f:l0": {}, "f:l1": {}}}}
    assert [e["manager"] for e in entries][:2] == ["ancient-changes", "m02"]


def test_entries_are_sorted_apply_first_then_by_time() -> None:
    managed = decode_managed_fields([
        {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": T1, "fieldsType": "FieldsV1"},
        {"manager": "a", "operation": "Update", "apiVersion": "v1", "time": T2, "fieldsType": "FieldsV1"},
        {"manager": "z", "operation": "Apply", "apiVersion": "v1", "time": T2, "fieldsType": "FieldsV1"},
        {"manager": "y", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1"},
        {"manager": "c", "operation": "Update", "apiVersion": "v1", "time": T1, "fieldsType": "FieldsV1",
         "subresource": "status"},
    ])
    assert [(e["manager"], e.get("subresource")) for e in encode_managed_fields(managed)] == [
        ("y", None), ("z", None), ("b", None), ("c", "status"), ("a", None)]


@pytest.mark.parametrize(("entry", "message"), [
    ({"operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}, "operation must be `Apply` or `Update`"),
    ({"operation": "Apply", "fieldsType": "FieldsV1"}, "apiVersion must not be empty"),
    ({"operation": "Apply", "apiVersion": "v1"}, "missing fieldsType in managed fields entry 0"),
    ({"operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV2"},
     'invalid fieldsType "FieldsV2" in managed fields entry 0'),
])
def test_decode_rejects_invalid_entries(entry: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        decode_managed_fields([entry])


def test_compare_reports_structure_like_upstream() -> None:
    old = deployment()
    new = deployment(replicas=2, labels={"a": "b"})
    new["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    del new["spec"]["template"]["metadata"]["labels"]
    del new["spec"]["selector"]                  # a non-omitempty pointer: Go sees it turn null, a modification
    c = compare(old, new, DEPLOY)
    assert c.modified == FieldSet([REPLICAS, make_path("spec", "selector")])
    labels = make_path("spec", "template", "metadata", "labels")
    assert c.removed == FieldSet([labels, (*labels, "f:app")])     # the map and what it held
    assert c.added.to_fields_v1() == {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"side"}': {
            ".": {}, "f:image": {}, "f:name": {}, "f:resources": {}}}}}}}
    assert compare(old, copy.deepcopy(old), DEPLOY).is_same()


def test_update_rejects_apply() -> None:
    with pytest.raises(ValueError):
        update_managed_fields(None, deployment(), manager="x", operation="Apply", ti=DEPLOY, now=T0,
                              api_version="apps/v1")


CERTIFICATE = from_openapi({"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "dnsNames": {"type": "array", "items": {"type": "string"}},
        "issuerRef": {"type": "object", "properties": {k: {"type": "string"} for k in ("group", "kind", "name")}},
        "secretName": {"type": "string"},
        "usages": {"type": "array", "items": {"type": "string"}}}},
    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}})


def test_custom_resource_create_records_containers_as_added() -> None:
    """Custom resources are unstructured upstream: no Go zero value, so spec itself is new ("." appears)."""
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "tls", "namespace": "default",
                         "ownerReferences": [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "i",
                                              "uid": "1f74d220-0d1c-4904-83a0-4a8e26867c34", "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {"dnsNames": ["a.example.com"], "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer",
                                                                  "name": "le"},
                     "secretName": "tls", "usages": ["digital signature", "key encipherment"]}}
    update_managed_fields(None, cert, manager="cert-manager-ingress-shim", ti=CERTIFICATE, now=T0,
                          api_version="cert-manager.io/v1", ignored=MAIN)
    assert json.dumps(cert["metadata"]["managedFields"][0]["fieldsV1"], separators=(",", ":")) == (
        '{"f:metadata":{"f:ownerReferences":{".":{},"k:{\\"uid\\":\\"1f74d220-0d1c-4904-83a0-4a8e26867c34\\"}":{}}},'
        '"f:spec":{".":{},"f:dnsNames":{},"f:issuerRef":{".":{},"f:group":{},"f:kind":{},"f:name":{}},'
        '"f:secretName":{},"f:usages":{}}}')
