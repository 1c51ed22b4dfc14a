"""OpenAPI v3/v2 documents: schema shapes, operations, the checks real clients make, caching, and the v2 protobuf.

The protobuf form is checked by decoding it with a small reader written here from gnostic's ``OpenAPIv2.proto``
field numbers (independently of the encoder) and comparing the result with the JSON document.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import yaml

from pybernetes.api import openapi
from pybernetes.api.openapi_v2pb import encode_document
from pybernetes.api.resources import BUILTIN, Registry, Resource, Subresource

V3 = "#/components/schemas/"
V2 = "#/definitions/"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(BUILTIN)


def _crd(schema: dict | None = None, *, version: str = "v1", subs: tuple[Subresource, ...] = ()) -> Resource:
    return Resource(group="stable.example.com", version=version, kind="CronTab", plural="crontabs",
                    singular="crontab", namespaced=True, custom=True, list_kind="CronTabList",
                    openapi_schema=schema, subresources=subs)


CRD_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["cronSpec"], "properties": {
        "cronSpec": {"type": "string", "pattern": "^\\S+$"},
        "replicas": {"type": "integer", "minimum": 0},
        "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "note": {"type": "string", "nullable": True},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                  "properties": {"a": {"type": "string"}}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "properties": {"spec": {"type": "object"}}},
        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}}},
    "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _schema_nodes(s: dict[str, Any]):
    """Every schema inside a schema (property maps are names, not schemas)."""
    yield s
    for sub in (*(s.get("properties") or {}).values(), s.get("items"), s.get("additionalProperties"),
                *(s.get("allOf") or ())):
        if isinstance(sub, dict):
            yield from _schema_nodes(sub)


def _refs(node: Any) -> set[str]:
    return {n["$ref"] for n in _walk(node) if isinstance(n.get("$ref"), str)}


# --------------------------------------------------------------------------------------------------- names
@pytest.mark.parametrize(("message", "name"), [
    ("k8s.io.api.apps.v1.Deployment", "io.k8s.api.apps.v1.Deployment"),
    ("k8s.io.api.core.v1.Pod", "io.k8s.api.core.v1.Pod"),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ("k8s.io.apimachinery.pkg.api.resource.Quantity", "io.k8s.apimachinery.pkg.api.resource.Quantity"),
    ("k8s.io.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.util.intstr.IntOrString"),
    ("k8s.io.apimachinery.pkg.runtime.RawExtension", "io.k8s.apimachinery.pkg.runtime.RawExtension"),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
     "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"),
    ("k8s.io.api.rbac.v1.ClusterRole", "io.k8s.api.rbac.v1.ClusterRole"),
])
def test_definition_names_follow_go_packages(message: str, name: str) -> None:
    assert openapi.definition_name(message) == name


@pytest.mark.parametrize(("raw", "name"), [
    ("stable.example.com/v1/CronTab", "com.example.stable.v1.CronTab"),
    ("k8s.io/api/apps/v1", "io.k8s.api.apps.v1"),
    ("example/v1/Thing", "example.v1.Thing"),
])
def test_rest_friendly_name(raw: str, name: str) -> None:
    assert openapi.rest_friendly_name(raw) == name


@pytest.mark.parametrize(("s", "cap", "out"), [
    ("coordination", True, "Coordination"), ("rbac.authorization", True, "RbacAuthorization"),
    ("rbac.authorization", False, "rbacAuthorization"), ("v1beta1", True, "V1beta1"),
    ("stable.example.com", True, "StableExampleCom"), ("3d-party", False, "DParty"),
])
def test_operation_ident(s: str, cap: bool, out: str) -> None:
    assert openapi.operation_ident(s, cap) == out


# ---------------------------------------------------------------------------------------------- index
def test_index_lists_every_document_with_its_hash(registry: Registry) -> None:
    paths = openapi.v3_index(registry)["paths"]
    for p in ("api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "apis/autoscaling/v1", "apis/autoscaling/v2",
              "apis/rbac.authorization.k8s.io/v1", "apis/apiextensions.k8s.io/v1"):
        assert p in paths
    etag = openapi.v3_etag(registry, "apps", "v1")
    assert paths["apis/apps/v1"]["serverRelativeURL"] == f"/openapi/v3/apis/apps/v1?hash={etag}"
    for p, entry in paths.items():
        doc, body, etag = openapi.v3_path_document(registry, p)
        assert entry["serverRelativeURL"] == f"/openapi/v3/{p}?hash={etag}"
        assert doc["openapi"] == "3.0.0" and body.startswith(b"{")


@pytest.mark.parametrize(("group", "version"), [("apps", "v2"), ("nosuch.io", "v1"), ("", "v2")])
def test_unknown_group_version_has_no_document(registry: Registry, group: str, version: str) -> None:
    assert openapi.v3_document(registry, group, version) is None
    assert openapi.v3_etag(registry, group, version) == ""


@pytest.mark.parametrize("path", ["apis/v1", "api/apps", "apis/apps/v1/extra", "", "apis/nosuch.io", "version"])
def test_unknown_document_paths(registry: Registry, path: str) -> None:
    assert openapi.v3_path_document(registry, path) is None


@pytest.mark.parametrize(("path", "op_path", "op_id", "schema"), [
    ("api", "/api/", "getCoreAPIVersions", "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions"),
    ("apis", "/apis/", "getAPIVersions", "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList"),
    ("apis/apps", "/apis/apps/", "getAppsAPIGroup", "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup"),
    ("apis/rbac.authorization.k8s.io", "/apis/rbac.authorization.k8s.io/", "getRbacAuthorizationAPIGroup",
     "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup"),
    ("apis/coordination.k8s.io/v1", "/apis/coordination.k8s.io/v1/", "getCoordinationV1APIResources",
     "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList"),
])
def test_discovery_documents(registry: Registry, path: str, op_path: str, op_id: str, schema: str) -> None:
    doc = openapi.v3_path_document(registry, path)[0]
    get = doc["paths"][op_path]["get"]
    assert get["operationId"] == op_id
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": V3 + schema}
    assert schema in doc["components"]["schemas"]


# ------------------------------------------------------------------------------------ the client checks
def _gv_docs(registry: Registry):
    for group, versions in registry.groups():
        for version in versions:
            yield group, version, openapi.v3_document(registry, group, version)


def test_every_reference_resolves(registry: Registry) -> None:
    for group, version, doc in _gv_docs(registry):
        schemas = doc["components"]["schemas"]
        missing = {r for r in _refs(doc) if r.removeprefix(V3) not in schemas}
        assert not missing, (group, version, missing)
        assert all(r.startswith(V3) for r in _refs(doc))


def _patch_supports(doc: dict, gvk: dict[str, str], param: str) -> bool | None:
    """kubectl's v3 query param verifier: every PATCH op of the kind must declare the query parameter."""
    found = None
    for item in doc["paths"].values():
        op = item.get("patch")
        if not op or op.get("x-kubernetes-group-version-kind") != gvk:
            continue
        has = any(p["name"] == param and p["in"] == "query" for p in op.get("parameters", ()))
        found = has if found is None else found and has
    return found


def test_every_kind_declares_field_validation_and_explain_finds_it(registry: Registry) -> None:
    for group, version, doc in _gv_docs(registry):
        schemas = doc["components"]["schemas"]
        for r in registry.in_group_version(group, version):
            gvk = {"group": group, "kind": r.kind, "version": version}
            if "patch" in r.verbs:
                assert _patch_supports(doc, gvk, "fieldValidation") is True, gvk
            # kubectl explain: a schema carrying the kind's GVK.
            assert any(gvk in s.get("x-kubernetes-group-version-kind", ()) for s in schemas.values()), gvk


def test_operations_of_a_namespaced_kind(registry: Registry) -> None:
    paths = openapi.v3_document(registry, "apps", "v1")["paths"]
    ops = {(m, p): op["operationId"] for p, item in paths.items() for m, op in item.items() if m != "parameters"
           and "/deployments" in p}
    assert ops == {
        ("get", "/apis/apps/v1/deployments"): "listAppsV1DeploymentForAllNamespaces",
        ("get", "/apis/apps/v1/namespaces/{namespace}/deployments"): "listAppsV1NamespacedDeployment",
        ("post", "/apis/apps/v1/namespaces/{namespace}/deployments"): "createAppsV1NamespacedDeployment",
        ("delete", "/apis/apps/v1/namespaces/{namespace}/deployments"): "deleteAppsV1CollectionNamespacedDeployment",
        ("get", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"): "readAppsV1NamespacedDeployment",
        ("put", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"): "replaceAppsV1NamespacedDeployment",
        ("patch", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"): "patchAppsV1NamespacedDeployment",
        ("delete", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"): "deleteAppsV1NamespacedDeployment",
        ("get", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"):
            "readAppsV1NamespacedDeploymentScale",
        ("put", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"):
            "replaceAppsV1NamespacedDeploymentScale",
        ("patch", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"):
            "patchAppsV1NamespacedDeploymentScale",
        ("get", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"):
            "readAppsV1NamespacedDeploymentStatus",
        ("put", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"):
            "replaceAppsV1NamespacedDeploymentStatus",
        ("patch", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"):
            "patchAppsV1NamespacedDeploymentStatus",
        ("get", "/apis/apps/v1/watch/deployments"): "watchAppsV1DeploymentListForAllNamespaces",
        ("get", "/apis/apps/v1/watch/namespaces/{namespace}/deployments"): "watchAppsV1NamespacedDeploymentList",
        ("get", "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}"): "watchAppsV1NamespacedDeployment",
    }


def _names(params: list[dict]) -> list[str]:
    return [p["name"] for p in params]


def test_parameters_shared_by_a_path_move_to_the_path_item(registry: Registry) -> None:
    paths = openapi.v3_document(registry, "apps", "v1")["paths"]
    item = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert _names(item["parameters"]) == ["name", "namespace", "pretty"]
    assert all(p["required"] for p in item["parameters"] if p["in"] == "path")
    assert _names(item["patch"]["parameters"]) == ["dryRun", "fieldManager", "fieldValidation", "force"]
    assert _names(item["put"]["parameters"]) == ["dryRun", "fieldManager", "fieldValidation"]
    assert _names(item["delete"]["parameters"]) == ["dryRun", "gracePeriodSeconds",
                                                    "ignoreStoreReadErrorWithClusterBreakingPotential",
                                                    "orphanDependents", "propagationPolicy"]
    assert "parameters" not in item["get"]
    coll = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert "watch" in _names(coll["get"]["parameters"])
    assert {"watch", "allowWatchBookmarks"}.isdisjoint(_names(coll["delete"]["parameters"]))
    # A path with one operation keeps every parameter on the path item, as upstream does.
    all_ns = paths["/apis/apps/v1/deployments"]
    assert "parameters" not in all_ns["get"] and "labelSelector" in _names(all_ns["parameters"])
    assert {"schema": {"type": "boolean", "uniqueItems": True}, "in": "query", "name": "watch"} in all_ns["parameters"]


@pytest.mark.parametrize(("method", "path", "op_id", "kind", "action"), [
    ("post", "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "createCoreV1NamespacedPodEviction",
     ("policy", "Eviction", "v1"), "post"),
    ("post", "/api/v1/namespaces/{namespace}/pods/{name}/binding", "createCoreV1NamespacedPodBinding",
     ("", "Binding", "v1"), "post"),
    ("get", "/api/v1/namespaces/{namespace}/pods/{name}/exec", "connectCoreV1GetNamespacedPodExec",
     ("", "PodExecOptions", "v1"), "connect"),
    ("post", "/api/v1/namespaces/{namespace}/pods/{name}/portforward", "connectCoreV1PostNamespacedPodPortforward",
     ("", "PodPortForwardOptions", "v1"), "connect"),
    ("get", "/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}", "connectCoreV1GetNamespacedPodProxyWithPath",
     ("", "PodProxyOptions", "v1"), "connect"),
    ("get", "/api/v1/nodes/{name}/proxy", "connectCoreV1GetNodeProxy", ("", "NodeProxyOptions", "v1"), "connect"),
    ("get", "/api/v1/namespaces/{namespace}/pods/{name}/log", "readCoreV1NamespacedPodLog", ("", "Pod", "v1"), "get"),
    ("patch", "/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers",
     "patchCoreV1NamespacedPodEphemeralcontainers", ("", "Pod", "v1"), "patch"),
    ("post", "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
     "createCoreV1NamespacedServiceAccountToken", ("authentication.k8s.io", "TokenRequest", "v1"), "post"),
    ("put", "/api/v1/namespaces/{name}/finalize", "replaceCoreV1NamespaceFinalize", ("", "Namespace", "v1"), "put"),
    ("get", "/api/v1/nodes", "listCoreV1Node", ("", "Node", "v1"), "list"),
    ("get", "/api/v1/watch/nodes/{name}", "watchCoreV1Node", ("", "Node", "v1"), "watch"),
    ("post", "/api/v1/namespaces/{namespace}/bindings", "createCoreV1NamespacedBinding", ("", "Binding", "v1"),
     "post"),
])
def test_core_operations(registry: Registry, method: str, path: str, op_id: str, kind: tuple, action: str) -> None:
    op = openapi.v3_document(registry, "", "v1")["paths"][path][method]
    assert op["operationId"] == op_id
    assert op["x-kubernetes-group-version-kind"] == dict(zip(("group", "kind", "version"), kind, strict=True))
    assert op["x-kubernetes-action"] == action
    assert op["tags"] == ["core_v1"]


def test_connect_and_log_parameters_come_from_their_options(registry: Registry) -> None:
    paths = openapi.v3_document(registry, "", "v1")["paths"]
    exec_item = paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    assert {"command", "container", "stdin", "stdout", "stderr", "tty"} <= set(_names(exec_item["parameters"]))
    log = paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]
    assert {"follow", "tailLines", "sinceTime", "timestamps", "previous"} <= set(_names(log["parameters"]))
    assert log["get"]["responses"]["200"]["content"]["text/plain"]["schema"] == {"type": "string"}
    assert "/api/v1/namespaces/{namespace}/bindings/{name}" not in paths       # create-only kinds


def test_create_only_cluster_kind(registry: Registry) -> None:
    paths = openapi.v3_document(registry, "authorization.k8s.io", "v1")["paths"]
    item = paths["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(item) == {"post", "parameters"}
    assert item["post"]["operationId"] == "createAuthorizationV1SelfSubjectAccessReview"
    assert item["post"]["requestBody"]["required"] is True


def test_request_bodies_and_responses(registry: Registry) -> None:
    item = openapi.v3_document(registry, "apps", "v1")["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    deployment = {"$ref": V3 + "io.k8s.api.apps.v1.Deployment"}
    assert item["post"]["requestBody"] == {"content": {"*/*": {"schema": deployment}}, "required": True}
    assert set(item["post"]["responses"]) == {"200", "201", "202", "401"}
    assert item["delete"]["requestBody"]["content"]["*/*"]["schema"]["$ref"].endswith("meta.v1.DeleteOptions")
    assert "required" not in item["delete"]["requestBody"]
    listing = item["get"]["responses"]["200"]["content"]
    assert set(listing) == {"application/json", "application/json;stream=watch", "application/vnd.kubernetes.protobuf",
                            "application/vnd.kubernetes.protobuf;stream=watch", "application/yaml"}
    assert listing["application/json"]["schema"] == {"$ref": V3 + "io.k8s.api.apps.v1.DeploymentList"}


@pytest.mark.parametrize(("options", "expected"), [
    ("ListOptions", ["labelSelector", "fieldSelector", "watch", "allowWatchBookmarks", "resourceVersion",
                     "resourceVersionMatch", "timeoutSeconds", "limit", "continue", "sendInitialEvents"]),
    ("CreateOptions", ["dryRun", "fieldManager", "fieldValidation"]),
    ("PatchOptions", ["dryRun", "force", "fieldManager", "fieldValidation"]),
    ("UpdateOptions", ["dryRun", "fieldManager", "fieldValidation"]),
])
def test_options_parameters(options: str, expected: list[str]) -> None:
    # Fields newer than 1.33 may follow (the facts are upstream's development line, e.g. ListOptions.shardSelector).
    assert [p[0] for p in openapi.options_params(options)][:len(expected)] == expected
    assert all(p[1] == "query" for p in openapi.options_params(options))


# ---------------------------------------------------------------------------------------------- schemas
def _schema(registry: Registry, group: str, version: str, name: str) -> dict:
    return openapi.v3_document(registry, group, version)["components"]["schemas"][name]


@pytest.mark.parametrize(("group", "name", "prop", "expected"), [
    ("apps", "io.k8s.api.apps.v1.Deployment", "spec",
     {"allOf": [{"$ref": V3 + "io.k8s.api.apps.v1.DeploymentSpec"}], "default": {}}),
    ("apps", "io.k8s.api.apps.v1.DeploymentSpec", "selector",
     {"$ref": V3 + "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"}),
    ("apps", "io.k8s.api.apps.v1.DeploymentSpec", "strategy",
     {"allOf": [{"$ref": V3 + "io.k8s.api.apps.v1.DeploymentStrategy"}], "default": {},
      "x-kubernetes-patch-strategy": "retainKeys"}),
    ("apps", "io.k8s.api.apps.v1.DeploymentSpec", "replicas", {"type": "integer", "format": "int32"}),
    ("apps", "io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge",
     {"$ref": V3 + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}),
    ("", "io.k8s.api.core.v1.PodSpec", "containers",
     {"type": "array", "items": {"allOf": [{"$ref": V3 + "io.k8s.api.core.v1.Container"}], "default": {}},
      "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map",
      "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}),
    ("", "io.k8s.api.core.v1.Container", "imagePullPolicy",
     {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]}),
    ("", "io.k8s.api.core.v1.Container", "name", {"type": "string", "default": ""}),
    ("", "io.k8s.api.core.v1.Container", "args",
     {"type": "array", "items": {"type": "string", "default": ""}, "x-kubernetes-list-type": "atomic"}),
    ("", "io.k8s.api.core.v1.ContainerPort", "protocol",
     {"type": "string", "enum": ["SCTP", "TCP", "UDP"], "default": "TCP"}),
    ("", "io.k8s.api.core.v1.Secret", "data",
     {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}}),
    ("", "io.k8s.api.core.v1.ResourceRequirements", "limits",
     {"type": "object", "additionalProperties": {"$ref": V3 + "io.k8s.apimachinery.pkg.api.resource.Quantity"}}),
    ("", "io.k8s.api.core.v1.ServiceSpec", "selector",
     {"type": "object", "additionalProperties": {"type": "string", "default": ""}, "x-kubernetes-map-type": "atomic"}),
    ("", "io.k8s.api.core.v1.PersistentVolumeSpec", "claimRef",
     {"$ref": V3 + "io.k8s.api.core.v1.ObjectReference", "x-kubernetes-map-type": "granular"}),
    ("", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers",
     {"type": "array", "items": {"type": "string", "default": ""}, "x-kubernetes-list-type": "set",
      "x-kubernetes-patch-strategy": "merge"}),
    ("", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp",
     {"$ref": V3 + "io.k8s.apimachinery.pkg.apis.meta.v1.Time"}),
    ("", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "generation", {"type": "integer", "format": "int64"}),
    ("", "io.k8s.api.core.v1.Pod", "kind", {"type": "string"}),
])
def test_property_schemas(registry: Registry, group: str, name: str, prop: str, expected: dict) -> None:
    version = "v1"
    pv = openapi.v3_document(registry, group, version)["components"]["schemas"][name]["properties"][prop]
    if "$ref" in expected and "x-kubernetes-map-type" in expected:       # a $ref with siblings is wrapped
        expected = {"allOf": [{"$ref": expected.pop("$ref")}], **expected}
    assert pv == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("io.k8s.apimachinery.pkg.util.intstr.IntOrString",
     {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}),
    ("io.k8s.apimachinery.pkg.api.resource.Quantity", {"oneOf": [{"type": "string"}, {"type": "number"}]}),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", {"type": "string", "format": "date-time"}),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", {"type": "string", "format": "date-time"}),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", {"type": "object"}),
    ("io.k8s.apimachinery.pkg.runtime.RawExtension", {"type": "object"}),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Patch", {"type": "object"}),
])
def test_special_definitions(registry: Registry, name: str, expected: dict) -> None:
    assert _schema(registry, "", "v1", name) == expected


@pytest.mark.parametrize(("group", "name", "required"), [
    ("apps", "io.k8s.api.apps.v1.DeploymentSpec", ["selector", "template"]),
    ("apps", "io.k8s.api.apps.v1.Deployment", None),                  # +k8s:required is not kube-openapi's
    ("", "io.k8s.api.core.v1.Container", ["name"]),
    ("", "io.k8s.api.core.v1.PodSpec", ["containers"]),
    ("", "io.k8s.api.core.v1.PodList", ["items"]),
    ("", "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", ["apiVersion", "kind", "name", "uid"]),
    ("", "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", ["type", "object"]),
    ("", "io.k8s.api.core.v1.NodeSystemInfo", ["machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
                                               "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
                                               "operatingSystem", "architecture"]),
])
def test_required(registry: Registry, group: str, name: str, required: list[str] | None) -> None:
    assert _schema(registry, group, "v1", name).get("required") == required


@pytest.mark.parametrize(("group", "name", "gvks"), [
    ("apps", "io.k8s.api.apps.v1.Deployment", [{"group": "apps", "kind": "Deployment", "version": "v1"}]),
    ("apps", "io.k8s.api.apps.v1.DeploymentList", [{"group": "apps", "kind": "DeploymentList", "version": "v1"}]),
    ("apps", "io.k8s.api.autoscaling.v1.Scale", [{"group": "autoscaling", "kind": "Scale", "version": "v1"}]),
    ("", "io.k8s.apimachinery.pkg.apis.meta.v1.Status", [{"group": "", "kind": "Status", "version": "v1"}]),
])
def test_group_version_kind_extension(registry: Registry, group: str, name: str, gvks: list) -> None:
    assert _schema(registry, group, "v1", name)["x-kubernetes-group-version-kind"] == gvks


def test_options_kinds_list_every_served_group_version(registry: Registry) -> None:
    gvks = _schema(registry, "apps", "v1", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")[
        "x-kubernetes-group-version-kind"]
    assert gvks[0] == {"group": "", "kind": "DeleteOptions", "version": "v1"}
    assert {"group": "apps", "kind": "DeleteOptions", "version": "v1"} in gvks
    assert {"group": "autoscaling", "kind": "DeleteOptions", "version": "v2"} in gvks
    assert gvks == sorted(gvks, key=lambda g: (g["group"], g["version"]))


def test_a_document_holds_exactly_what_its_kinds_reach(registry: Registry) -> None:
    schemas = openapi.v3_document(registry, "coordination.k8s.io", "v1")["components"]["schemas"]
    assert "io.k8s.api.coordination.v1.Lease" in schemas and "io.k8s.api.coordination.v1.LeaseSpec" in schemas
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" in schemas
    assert not any(n.startswith("io.k8s.api.core.") or n.startswith("io.k8s.api.apps.") for n in schemas)


def test_kind_without_schema_facts_is_served_opaque(registry: Registry) -> None:
    schemas = openapi.v3_document(registry, "apiregistration.k8s.io", "v1")["components"]["schemas"]
    svc = schemas["io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService"]
    assert svc["x-kubernetes-preserve-unknown-fields"] is True
    assert svc["properties"]["metadata"] == {"$ref": V3 + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    assert "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceList" in schemas


# ------------------------------------------------------------------------------------- custom resources
def test_custom_resource_document() -> None:
    reg = Registry(BUILTIN)
    reg.add(_crd(CRD_SCHEMA, subs=(Subresource("status", ("get", "patch", "update")),
                                   Subresource("scale", ("get", "patch", "update")))))
    assert "apis/stable.example.com/v1" in openapi.v3_index(reg)["paths"]
    assert "apis/stable.example.com" in openapi.v3_index(reg)["paths"]
    doc = openapi.v3_document(reg, "stable.example.com", "v1")
    schemas = doc["components"]["schemas"]
    kind = schemas["com.example.stable.v1.CronTab"]
    assert kind["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}]
    assert kind["properties"]["metadata"] == {"$ref": V3 + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    assert kind["properties"]["apiVersion"] == {"type": "string"}
    spec = kind["properties"]["spec"]["properties"]
    assert spec["cronSpec"] == {"type": "string", "pattern": "^\\S+$"}               # v3 keeps value validation
    assert spec["template"]["required"] == ["kind", "apiVersion"]                      # embedded resource
    assert "metadata" in spec["template"]["properties"]
    assert CRD_SCHEMA["properties"]["spec"]["properties"]["template"].get("required") is None   # not mutated
    lst = schemas["com.example.stable.v1.CronTabList"]
    assert lst["required"] == ["items"]
    assert lst["properties"]["items"]["items"] == {"$ref": V3 + "com.example.stable.v1.CronTab"}
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta" in schemas
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas
    paths = doc["paths"]
    assert not any("/watch/" in p for p in paths)                                      # the CRD builder has none
    item = paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]
    assert item["patch"]["operationId"] == "patchStableExampleComV1NamespacedCronTab"
    assert "application/strategic-merge-patch+json" not in item["patch"]["requestBody"]["content"]
    scale = paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale"]
    assert scale["get"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    status = paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status"]
    assert status["put"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": V3 + "com.example.stable.v1.CronTab"}
    gvk = {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
    assert _patch_supports(doc, gvk, "fieldValidation") is True
    assert not {r for r in _refs(doc) if r.removeprefix(V3) not in schemas}


def test_custom_resource_v2_is_reduced_for_kubectl() -> None:
    v2 = openapi.crd_schema(_crd(CRD_SCHEMA), v3=False)
    spec = v2["properties"]["spec"]
    assert spec["properties"]["cronSpec"] == {"type": "string"}                         # value validation dropped
    assert "type" not in spec["properties"]["note"]                                     # nullable: untyped
    assert spec["properties"]["extra"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert spec["properties"]["port"] == {"x-kubernetes-int-or-string": True}
    assert spec["required"] == ["cronSpec"]
    bare = openapi.crd_schema(_crd({"type": "object", "x-kubernetes-preserve-unknown-fields": True}), v3=False)
    assert bare == {"type": "object", "x-kubernetes-group-version-kind": [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}]}
    assert openapi.crd_schema(_crd(None), v3=True)["type"] == "object"


# ------------------------------------------------------------------------------------------------ caching
def test_documents_are_cached_per_generation_and_hashes_follow_content() -> None:
    reg = Registry(BUILTIN)
    apps = openapi.v3_document(reg, "apps", "v1")
    assert openapi.v3_document(reg, "apps", "v1") is apps
    assert openapi.v3_index(reg) is openapi.v3_index(reg)
    assert openapi.v2_protobuf(reg) is openapi.v2_protobuf(reg)
    body, v2_hash = openapi.v2_json(reg)
    assert openapi.v2_json(reg)[0] is body and len(v2_hash) == 128
    apps_hash = openapi.v3_etag(reg, "apps", "v1")
    reg.add(_crd(CRD_SCHEMA))
    crd_hash = openapi.v3_etag(reg, "stable.example.com", "v1")
    assert openapi.v3_document(reg, "apps", "v1") is not apps                      # rebuilt for the new generation
    assert openapi.v3_etag(reg, "apps", "v1") == apps_hash                         # ... with the same content
    changed = {**CRD_SCHEMA, "properties": {**CRD_SCHEMA["properties"], "extra": {"type": "string"}}}
    reg.remove("stable.example.com", "v1", "crontabs")
    assert openapi.v3_document(reg, "stable.example.com", "v1") is None
    reg.add(_crd(changed))
    assert openapi.v3_etag(reg, "stable.example.com", "v1") not in ("", crd_hash)
    assert openapi.v3_index(reg)["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].endswith(
        openapi.v3_etag(reg, "stable.example.com", "v1"))


def test_second_version_of_a_custom_resource() -> None:
    reg = Registry(BUILTIN)
    reg.add(_crd(CRD_SCHEMA))
    reg.add(replace(_crd(None, version="v2")))
    assert "apis/stable.example.com/v2" in openapi.v3_index(reg)["paths"]
    names = set(openapi.v2_document(reg)["definitions"])
    assert {"com.example.stable.v1.CronTab", "com.example.stable.v2.CronTab",
            "com.example.stable.v2.CronTabList"} <= names


# --------------------------------------------------------------------------------------------------- v2
def test_v2_document_is_valid_for_kubectl(registry: Registry) -> None:
    """The checks kube-openapi's ``proto.NewOpenAPIData`` makes when kubectl 1.27/1.28 parse definitions."""
    doc = openapi.v2_document(registry)
    assert doc["swagger"] == "2.0"
    defs = doc["definitions"]
    missing = {r for r in _refs(doc) if r.removeprefix(V2) not in defs}
    assert not missing
    assert all(r.startswith(V2) for r in _refs(doc))
    for node in (n for d in defs.values() for n in _schema_nodes(d)):
        assert "allOf" not in node and "oneOf" not in node and "default" not in node
        typ = node.get("type")
        if typ == "array":
            assert isinstance(node.get("items"), dict), node
        assert typ in (None, "object", "array", "string", "integer", "number", "boolean") or not isinstance(typ, str)
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {"type": "string", "format": "int-or-string"}
    assert defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] == {"type": "string"}
    assert defs["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"] == {
        "$ref": V2 + "io.k8s.api.apps.v1.DeploymentSpec"}


def test_v2_operations(registry: Registry) -> None:
    item = openapi.v2_document(registry)["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["consumes"] == ["application/apply-patch+yaml", "application/json-patch+json",
                                 "application/merge-patch+json", "application/strategic-merge-patch+json"]
    assert _names(patch["parameters"]) == ["body", "dryRun", "fieldManager", "fieldValidation", "force"]
    assert patch["parameters"][0] == {"in": "body", "name": "body", "required": True,
                                      "schema": {"$ref": V2 + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
    assert patch["parameters"][3] == {"in": "query", "name": "fieldValidation", "type": "string", "uniqueItems": True}
    assert patch["responses"]["200"] == {"description": "OK", "schema": {"$ref": V2 + "io.k8s.api.apps.v1.Deployment"}}
    assert item["parameters"][0] == {"in": "path", "name": "name", "type": "string", "uniqueItems": True,
                                     "required": True}
    assert item["delete"]["parameters"][0]["required"] is False


# ------------------------------------------------------------------------------- protobuf (independent reader)
def _fields(buf: bytes) -> list[tuple[int, Any]]:
    """Decode one protobuf message into (field number, value): ints for varints, bytes for length-delimited."""
    out, i = [], 0
    while i < len(buf):
        key, i = _uvarint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _uvarint(buf, i)
        elif wire == 2:
            n, i = _uvarint(buf, i)
            value, i = buf[i:i + n], i + n
            assert len(value) == n, "truncated"
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise AssertionError(f"wire type {wire}")
        out.append((number, value))
    return out


def _uvarint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _one(fs: list, number: int) -> Any:
    vals = [v for n, v in fs if n == number]
    assert len(vals) <= 1
    return vals[0] if vals else None


def _all(fs: list, number: int) -> list:
    return [v for n, v in fs if n == number]


def _str(fs: list, number: int) -> str | None:
    v = _one(fs, number)
    return v.decode() if v is not None else None


def _named(buf: bytes, dec) -> tuple[str, Any]:
    fs = _fields(buf)
    return _str(fs, 1), dec(_one(fs, 2) or b"")


def _yaml_any(buf: bytes) -> Any:                   # Any{2 yaml}; kubectl YAML-decodes it
    return yaml.safe_load(_str(_fields(buf), 2))


def _ext(fs: list, number: int) -> dict[str, Any]:
    return dict(_named(b, _yaml_any) for b in _all(fs, number))


def _dec_schema(buf: bytes) -> dict[str, Any]:
    fs, s = _fields(buf), {}
    for key, num in (("$ref", 1), ("format", 2), ("title", 3), ("description", 4)):
        if (v := _str(fs, num)) is not None:
            s[key] = v
    if req := [v.decode() for v in _all(fs, 19)]:
        s["required"] = req
    if enum := [_yaml_any(v) for v in _all(fs, 20)]:
        s["enum"] = enum
    if (ap := _one(fs, 21)) is not None:
        apf = _fields(ap)
        s["additionalProperties"] = _dec_schema(_one(apf, 1)) if _one(apf, 1) is not None else bool(_one(apf, 2))
    if (t := _one(fs, 22)) is not None:
        types = [v.decode() for v in _all(_fields(t), 1)]
        s["type"] = types[0] if len(types) == 1 else types
    if (items := _one(fs, 23)) is not None:
        s["items"] = _dec_schema(_all(_fields(items), 1)[0])
    if (props := _one(fs, 25)) is not None:
        s["properties"] = dict(_named(b, _dec_schema) for b in _all(_fields(props), 1))
    s.update(_ext(fs, 31))
    return s


def _dec_param(buf: bytes) -> dict[str, Any]:
    param = _fields(_one(_fields(buf), 1))                          # ParametersItem.parameter
    if (body := _one(param, 1)) is not None:
        bf = _fields(body)
        return {"in": _str(bf, 3), "name": _str(bf, 2), "required": bool(_one(bf, 4)),
                "schema": _dec_schema(_one(bf, 5))}
    nb = _fields(_one(param, 2))
    (kind, sub), = nb
    sf = _fields(sub)
    type_num, unique_num = (6, 20) if kind == 3 else (5, 19)        # query vs path sub-schema numbering
    out = {"in": _str(sf, 2), "name": _str(sf, 4), "type": _str(sf, type_num)}
    if _one(sf, unique_num):
        out["uniqueItems"] = True
    if _one(sf, 1):
        out["required"] = True
    assert {"query": 3, "path": 4}[out["in"]] == kind
    return out


def _dec_response(buf: bytes) -> dict[str, Any]:
    rf = _fields(_one(_fields(buf), 1))
    out: dict[str, Any] = {"description": _str(rf, 1)}
    if (si := _one(rf, 2)) is not None:
        out["schema"] = _dec_schema(_one(_fields(si), 1))
    return out


def _dec_op(buf: bytes) -> dict[str, Any]:
    fs = _fields(buf)
    out: dict[str, Any] = {"consumes": [v.decode() for v in _all(fs, 7)], "produces": [v.decode() for v in _all(fs, 6)],
                           "schemes": [v.decode() for v in _all(fs, 10)], "operationId": _str(fs, 5)}
    if params := [_dec_param(p) for p in _all(fs, 8)]:
        out["parameters"] = params
    out["responses"] = dict(_named(b, _dec_response) for b in _all(_fields(_one(fs, 9)), 1))
    out["tags"] = [v.decode() for v in _all(fs, 1)]
    out.update(_ext(fs, 13))
    return out


def _dec_path_item(buf: bytes) -> dict[str, Any]:
    fs, out = _fields(buf), {}
    for method, num in (("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("options", 6), ("head", 7),
                        ("patch", 8)):
        if (op := _one(fs, num)) is not None:
            out[method] = _dec_op(op)
    if params := [_dec_param(p) for p in _all(fs, 9)]:
        out["parameters"] = params
    return out


def _dec_document(buf: bytes) -> dict[str, Any]:
    fs = _fields(buf)
    info = _fields(_one(fs, 2))
    sec_defs = {}
    for b in _all(_fields(_one(fs, 13) or b""), 1):
        name, item = _named(b, _fields)
        key = _fields(_one(item, 2))                                  # ApiKeySecurity
        sec_defs[name] = {"description": _str(key, 4), "in": _str(key, 3), "name": _str(key, 2), "type": _str(key, 1)}
    security = [dict(_named(b, lambda v: [x.decode() for x in _all(_fields(v), 1)]) for b in _all(_fields(req), 1))
                for req in _all(fs, 12)]
    return {"swagger": _str(fs, 1), "info": {"title": _str(info, 1), "version": _str(info, 2)},
            "paths": dict(_named(b, _dec_path_item) for b in _all(_fields(_one(fs, 8) or b""), 2)),
            "definitions": dict(_named(b, _dec_schema) for b in _all(_fields(_one(fs, 9) or b""), 1)),
            "securityDefinitions": sec_defs, "security": security}


def _normalise(node: Any) -> Any:
    """The JSON document as the reader sees it: dict key order does not matter."""
    if isinstance(node, dict):
        return {k: _normalise(v) for k, v in sorted(node.items())}
    if isinstance(node, list):
        return [_normalise(v) for v in node]
    return node


def test_v2_protobuf_decodes_to_the_json_document() -> None:
    reg = Registry(BUILTIN)
    reg.add(_crd(CRD_SCHEMA, subs=(Subresource("status", ("get", "patch", "update")),)))
    doc = openapi.v2_document(reg)
    decoded = _dec_document(openapi.v2_protobuf(reg))
    assert decoded.keys() == doc.keys()
    for key in doc:
        assert _normalise(decoded[key]) == _normalise(doc[key]), key


def test_v2_protobuf_vendor_extensions_read_as_kubectl_reads_them(registry: Registry) -> None:
    decoded = _dec_document(openapi.v2_protobuf(registry))
    patch = decoded["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "kind": "Pod", "version": "v1"}
    assert "fieldValidation" in _names(patch["parameters"])
    pod = decoded["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]


@pytest.mark.parametrize(("schema", "expected"), [
    ({"type": "object", "additionalProperties": False}, {"type": "object", "additionalProperties": False}),
    ({"type": "object", "additionalProperties": True}, {"type": "object", "additionalProperties": True}),
    ({"type": "array", "items": {"type": "integer", "format": "int64"}},
     {"type": "array", "items": {"type": "integer", "format": "int64"}}),
    ({"type": "object", "properties": {}}, {"type": "object", "properties": {}}),
    ({"type": "string", "enum": ["a", "b: c", "ü"], "x-kubernetes-list-type": "atomic"},
     {"type": "string", "enum": ["a", "b: c", "ü"], "x-kubernetes-list-type": "atomic"}),
    ({"$ref": V2 + "X", "description": "d"}, {"$ref": V2 + "X", "description": "d"}),
])
def test_schema_encoding_round_trips(schema: dict, expected: dict) -> None:
    buf = encode_document({"swagger": "2.0", "info": {"title": "t", "version": "v"}, "definitions": {"X": schema}})
    assert _dec_document(buf)["definitions"]["X"] == expected
