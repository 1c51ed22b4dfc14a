"""`kubectl api-resources`, `api-versions`, `explain` and `version`: discovery and OpenAPI as kubectl reads them."""

from __future__ import annotations

import json
import re

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"
SAMPLE_VERSIONS = ["1.32", "1.27", "1.30", "1.33"]

# (name, short names, apiVersion, namespaced, kind) for every resource the API must serve (issue 2), as upstream.
RESOURCES = [
    ("bindings", "", "v1", "true", "Binding"),
    ("configmaps", "cm", "v1", "true", "ConfigMap"),
    ("endpoints", "ep", "v1", "true", "Endpoints"),
    ("events", "ev", "v1", "true", "Event"),
    ("limitranges", "limits", "v1", "true", "LimitRange"),
    ("namespaces", "ns", "v1", "false", "Namespace"),
    ("nodes", "no", "v1", "false", "Node"),
    ("persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"),
    ("persistentvolumes", "pv", "v1", "false", "PersistentVolume"),
    ("pods", "po", "v1", "true", "Pod"),
    ("replicationcontrollers", "rc", "v1", "true", "ReplicationController"),
    ("resourcequotas", "quota", "v1", "true", "ResourceQuota"),
    ("secrets", "", "v1", "true", "Secret"),
    ("serviceaccounts", "sa", "v1", "true", "ServiceAccount"),
    ("services", "svc", "v1", "true", "Service"),
    ("customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", "false", "CustomResourceDefinition"),
    ("apiservices", "", "apiregistration.k8s.io/v1", "false", "APIService"),
    ("controllerrevisions", "", "apps/v1", "true", "ControllerRevision"),
    ("daemonsets", "ds", "apps/v1", "true", "DaemonSet"),
    ("deployments", "deploy", "apps/v1", "true", "Deployment"),
    ("replicasets", "rs", "apps/v1", "true", "ReplicaSet"),
    ("statefulsets", "sts", "apps/v1", "true", "StatefulSet"),
    ("tokenreviews", "", "authentication.k8s.io/v1", "false", "TokenReview"),
    ("selfsubjectaccessreviews", "", "authorization.k8s.io/v1", "false", "SelfSubjectAccessReview"),
    ("subjectaccessreviews", "", "authorization.k8s.io/v1", "false", "SubjectAccessReview"),
    ("horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"),
    ("cronjobs", "cj", "batch/v1", "true", "CronJob"),
    ("jobs", "", "batch/v1", "true", "Job"),
    ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
    ("endpointslices", "", "discovery.k8s.io/v1", "true", "EndpointSlice"),
    ("events", "ev", "events.k8s.io/v1", "true", "Event"),
    ("ingressclasses", "", "networking.k8s.io/v1", "false", "IngressClass"),
    ("ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"),
    ("networkpolicies", "netpol", "networking.k8s.io/v1", "true", "NetworkPolicy"),
    ("poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget"),
    ("clusterrolebindings", "", "rbac.authorization.k8s.io/v1", "false", "ClusterRoleBinding"),
    ("clusterroles", "", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"),
    ("rolebindings", "", "rbac.authorization.k8s.io/v1", "true", "RoleBinding"),
    ("roles", "", "rbac.authorization.k8s.io/v1", "true", "Role"),
    ("priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"),
    ("storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass"),
]

GROUP_VERSIONS = [
    "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1", "apps/v1", "authentication.k8s.io/v1",
    "authorization.k8s.io/v1", "autoscaling/v1", "autoscaling/v2", "batch/v1", "coordination.k8s.io/v1",
    "discovery.k8s.io/v1", "events.k8s.io/v1", "networking.k8s.io/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
    "scheduling.k8s.io/v1", "storage.k8s.io/v1", "v1",
]

CRUD = "create,delete,deletecollection,get,list,patch,update,watch"


def rows(text: str) -> list[dict[str, str]]:
    """kubectl's table as dicts, cut at the header's column starts (SHORTNAMES cells may be empty)."""
    lines = text.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    names = [lines[0][s:e].strip() for s, e in bounds]
    return [{n: line[s:e].strip() for n, (s, e) in zip(names, bounds, strict=True)} for line in lines[1:] if line]


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_api_resources(server: Server, version: str) -> None:
    out = server.kubectl("api-resources", version=version).stdout
    assert out.splitlines()[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    served = {(r["NAME"], r["SHORTNAMES"], r["APIVERSION"], r["NAMESPACED"], r["KIND"]) for r in rows(out)}
    missing = [r for r in RESOURCES if r not in served]
    assert not missing, f"not served as upstream: {missing}"
    # Only the preferred version of a group is listed.
    assert not any(r["APIVERSION"] == "autoscaling/v1" for r in rows(out))


def test_api_resources_wide_filters_and_names(server: Server) -> None:
    wide = {(r["NAME"], r["APIVERSION"]): r for r in rows(server.kubectl("api-resources", "-o", "wide",
                                                                          version=V).stdout)}
    assert wide[("deployments", "apps/v1")]["VERBS"] == CRUD
    assert wide[("deployments", "apps/v1")]["CATEGORIES"] == "all"
    assert wide[("pods", "v1")]["CATEGORIES"] == "all"
    assert wide[("configmaps", "v1")]["CATEGORIES"] == ""
    assert wide[("bindings", "v1")]["VERBS"] == "create"
    assert wide[("selfsubjectaccessreviews", "authorization.k8s.io/v1")]["VERBS"] == "create"
    assert wide[("namespaces", "v1")]["VERBS"] == "create,delete,get,list,patch,update,watch"

    out = server.kubectl("api-resources", "--api-group=apps", "-o", "name", version=V).stdout
    assert out.split() == ["controllerrevisions.apps", "daemonsets.apps", "deployments.apps", "replicasets.apps",
                           "statefulsets.apps"]
    cluster = server.kubectl("api-resources", "--namespaced=false", "-o", "name", version=V).stdout.split()
    for name in ("namespaces", "nodes", "persistentvolumes", "clusterroles.rbac.authorization.k8s.io",
                 "storageclasses.storage.k8s.io", "priorityclasses.scheduling.k8s.io"):
        assert name in cluster
    assert "pods" not in cluster and "deployments.apps" not in cluster
    listable = server.kubectl("api-resources", "--verbs=list", "-o", "name", version=V).stdout.split()
    assert "pods" in listable and "bindings" not in listable and "tokenreviews.authentication.k8s.io" not in listable


@pytest.mark.parametrize("version", ["1.32", "1.27"])
def test_api_versions(server: Server, version: str) -> None:
    served = server.kubectl("api-versions", version=version).stdout.split()
    assert served == sorted(served)
    assert set(GROUP_VERSIONS) <= set(served)


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_explain_deployment_template(server: Server, version: str) -> None:
    out = server.kubectl("explain", "deployment.spec.template", version=version).stdout
    lines = out.splitlines()
    assert lines[:3] == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1"]
    assert "FIELD: template <PodTemplateSpec>" in lines
    fields = re.findall(r"^  (\w+)\t<(\S+)>", out, re.M)
    assert fields == [("metadata", "ObjectMeta"), ("spec", "PodSpec")]


def test_explain_fields_types_and_enums(server: Server) -> None:
    out = server.kubectl("explain", "pods.spec.containers.imagePullPolicy", version=V).stdout
    assert "FIELD: imagePullPolicy <string>" in out
    assert re.search(r"ENUM:\n    Always\n    IfNotPresent\n    Never\n", out)
    out = server.kubectl("explain", "deployment.spec", version=V).stdout
    fields = dict(re.findall(r"^  (\w+)\t(.+)$", out, re.M))
    assert fields["replicas"] == "<integer>" and fields["paused"] == "<boolean>"
    assert fields["selector"] == "<LabelSelector> -required-"
    assert fields["template"] == "<PodTemplateSpec> -required-"
    assert fields["strategy"] == "<DeploymentStrategy>"
    out = server.kubectl("explain", "services", version=V).stdout
    assert out.splitlines()[:2] == ["KIND:       Service", "VERSION:    v1"]
    assert dict(re.findall(r"^  (\w+)\t<(.+?)>", out, re.M)) == {
        "apiVersion": "string", "kind": "string", "metadata": "ObjectMeta", "spec": "ServiceSpec",
        "status": "ServiceStatus"}
    out = server.kubectl("explain", "configmap.data", version=V).stdout
    assert "FIELD: data <map[string]string>" in out


def test_explain_recursive_and_errors(server: Server) -> None:
    out = server.kubectl("explain", "deployment.spec.template", "--recursive", version=V).stdout
    assert re.search(r"^    labels\t<map\[string\]string>$", out, re.M)
    assert re.search(r"^    containers\t<\[\]Container> -required-$", out, re.M)
    assert re.search(r"^      image\t<string>$", out, re.M)
    p = server.kubectl("explain", "deployment.spec.nope", version=V, check=False)
    assert p.returncode == 1 and p.stderr.strip() == 'error: field "nope" does not exist'
    p = server.kubectl("explain", "nosuchkind", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == "the server doesn't have a resource type \"nosuchkind\""


@pytest.mark.parametrize("version", ["1.32", "1.27", "1.33"])
def test_version(server: Server, version: str) -> None:
    out = json.loads(server.kubectl("version", "-o", "json", version=version).stdout)
    sv = out["serverVersion"]
    assert sv["major"] == "1" and sv["minor"] == "33"
    assert re.match(r"v1\.33\.\d+", sv["gitVersion"])
    assert sv["platform"] == "linux/amd64" and sv["gitTreeState"] == "clean"
    assert out["clientVersion"]["minor"] == version.split(".")[1]
    lines = server.kubectl("version", version=version).stdout.splitlines()
    if version == "1.27":  # 1.27 still prints the whole version.Info struct
        assert lines[-1].startswith(f'Server Version: version.Info{{Major:"1", Minor:"33", '
                                    f'GitVersion:"{sv["gitVersion"]}", ')
    else:
        assert lines[-1] == f"Server Version: {sv['gitVersion']}"


def test_auth_whoami_can_i_and_cluster_info(server: Server) -> None:
    out = server.kubectl("auth", "whoami", "-o", "json", version=V).stdout
    status = json.loads(out)["status"]["userInfo"]
    assert "system:masters" in status["groups"] and "system:authenticated" in status["groups"]
    p = server.kubectl("auth", "can-i", "create", "deployments", version=V)
    assert p.stdout == "yes\n"
    out = server.kubectl("cluster-info", version=V).stdout
    assert out.startswith(f"Kubernetes control plane is running at {server.url}\n")
