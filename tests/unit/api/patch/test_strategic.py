"""Strategic merge patch: upstream's own vectors, the patches kubectl sends, and upstream's error statuses."""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import orjson
import pytest
import yaml

from pybernetes.api.patch import GENERIC_INVALID, PatchError, strategic
from pybernetes.api.typeinfo import ANY, TypeInfo, from_openapi, of_kind

HERE = pathlib.Path(__file__).resolve().parent
SHARED = pathlib.Path(__file__).resolve().parents[4] / ".." / "shared"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def canon(value: Any) -> bytes:
    """Exact comparison: JSON types kept apart (1 is not 1.0 or true), list order significant."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


# --- upstream's vectors, over its test struct ---------------------------------------------------------------

class Fake:
    """The TypeInfo surface strategic.py reads, for types that exist only in upstream's tests."""

    openapi = None

    def __init__(self, shape: str, *, elem: Any = None, strategy: str | None = None, merge_key: str | None = None,
                 message: str | None = None) -> None:
        self.shape, self._elem, self.message = shape, elem, message
        self.patch_strategy, self.patch_merge_key = strategy, merge_key
        self.fields: dict[str, Any] = {}

    def field(self, name: str) -> Any:
        return self.fields.get(name) if self.shape == "struct" else None

    def elem(self) -> Any:
        return self._elem if self._elem is not None else ANY


def merge_item() -> Fake:
    """MergeItem from patch_test.go, with its json names and patchStrategy/patchMergeKey tags."""
    item = Fake("struct", message="strategicpatch.MergeItem")
    retain = Fake("struct", message="strategicpatch.RetainKeysMergeItem", strategy="retainKeys")
    pointer = Fake("struct", message="strategicpatch.MergeItem", strategy="merge", merge_key="name")
    scalar = Fake("scalar")
    simple_map = Fake("map", elem=scalar)
    common = {"name": scalar, "value": scalar, "other": scalar, "simpleMap": simple_map,
              "mergingList": Fake("list", elem=item, strategy="merge", merge_key="name"),
              "nonMergingList": Fake("list", elem=item),
              "mergingIntList": Fake("list", elem=scalar, strategy="merge")}
    item.fields = {**common, "nonMergingIntList": Fake("list", elem=scalar),
                   "mergeItemPtr": pointer,                                  # *MergeItem, tagged like a list
                   "replacingItem": Fake("any", strategy="replace"),       # runtime.RawExtension
                   "jsonItem": Fake("struct", message="strategicpatch.jsonItem"),
                   "retainKeysMap": retain,
                   "retainKeysMergingList": Fake("list", elem=item, strategy="merge,retainKeys", merge_key="name")}
    pointer.fields = item.fields
    retain.fields = common
    return item


MERGE_ITEM = merge_item()
UPSTREAM = yaml.safe_load((HERE / "testdata" / "strategic_upstream.yaml").read_text())


@pytest.mark.parametrize("case", UPSTREAM, ids=[c["name"] for c in UPSTREAM])
def test_upstream_vectors(case: dict[str, Any]) -> None:
    doc, patch = copy.deepcopy(case["doc"]), copy.deepcopy(case["patch"])
    if "error" in case:
        with pytest.raises(PatchError) as info:
            strategic.apply(doc, patch, MERGE_ITEM)  # type: ignore[arg-type]
        assert case["error"] in info.value.detail
    else:
        assert canon(strategic.apply(doc, patch, MERGE_ITEM)) == canon(case["want"])  # type: ignore[arg-type]
    assert (doc, patch) == (case["doc"], case["patch"]), "an input was mutated"


# --- what kubectl sends, on real types ----------------------------------------------------------------------

DEPLOYMENT = of_kind("apps/v1", "Deployment")
POD = of_kind("v1", "Pod")
SERVICE = of_kind("v1", "Service")
PDB = of_kind("policy/v1", "PodDisruptionBudget")


def container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra, "resources": {}, "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}


def live_deployment() -> dict[str, Any]:
    """A Deployment as the server holds it after `kubectl apply` and defaulting."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "6f1c0f0e-1", "resourceVersion": "42",
                     "generation": 1, "labels": {"app": "web", "tier": "front"},
                     "annotations": {"deployment.kubernetes.io/revision": "1", LAST_APPLIED: "{}\n"},
                     "finalizers": ["example.com/a", "example.com/b"]},
        "spec": {
            "replicas": 3, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        container("web", "nginx:1.20", args=["--a"], env=[{"name": "A", "value": "1"}],
                                  ports=[{"containerPort": 80, "protocol": "TCP"},
                                         {"containerPort": 8080, "protocol": "TCP"}]),
                        container("sidecar", "busybox")],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                    "securityContext": {}, "schedulerName": "default-scheduler"}}},
        "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3}}


def containers(d: dict[str, Any]) -> list[dict[str, Any]]:
    return d["spec"]["template"]["spec"]["containers"]  # type: ignore[no-any-return]


def edit_set_image(d: dict[str, Any]) -> None:
    containers(d)[0]["image"] = "nginx:1.21"


def edit_restart(d: dict[str, Any]) -> None:
    d["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"}


def edit_apply_scale_and_image(d: dict[str, Any]) -> None:
    d["metadata"]["annotations"][LAST_APPLIED] = '{"kind":"Deployment"}\n'
    d["spec"]["replicas"] = 2
    containers(d)[0]["image"] = "nginx:1.21"


def edit_apply_drop_sidecar_add_env(d: dict[str, Any]) -> None:
    web = containers(d)[0]
    web["env"].append({"name": "B", "value": "2"})
    d["spec"]["template"]["spec"]["containers"] = [web]


def edit_apply_drop_port(d: dict[str, Any]) -> None:
    del containers(d)[0]["ports"][1]


def edit_apply_insert_container(d: dict[str, Any]) -> None:
    containers(d).insert(1, {"image": "redis:7", "name": "cache"})


def edit_apply_reorder(d: dict[str, Any]) -> None:
    containers(d).reverse()


def edit_apply_recreate(d: dict[str, Any]) -> None:
    d["spec"]["strategy"] = {"type": "Recreate"}


def edit_apply_volume_source(d: dict[str, Any]) -> None:
    d["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "configMap": {"name": "cfg"}}]


def edit_apply_args(d: dict[str, Any]) -> None:
    containers(d)[0]["args"] = ["--b"]


def edit_drop_label(d: dict[str, Any]) -> None:
    del d["metadata"]["labels"]["tier"]


def edit_add_finalizers(d: dict[str, Any]) -> None:
    # the patch's elements come first, in its order; the server-only one after them
    d["metadata"]["finalizers"] = ["example.com/c", "example.com/a", "example.com/b"]


def edit_remove_finalizer(d: dict[str, Any]) -> None:
    d["metadata"]["finalizers"] = ["example.com/b"]


def edit_reorder_finalizers(d: dict[str, Any]) -> None:
    d["metadata"]["finalizers"].reverse()


def edit_replace_labels(d: dict[str, Any]) -> None:
    d["metadata"]["labels"] = {"app": "web"}


def edit_nothing(d: dict[str, Any]) -> None:
    pass


ORDER_BOTH = [{"name": "web"}, {"name": "sidecar"}]

KUBECTL = [
    ("set image (kubectl 1.32, transcript 12)",
     {"spec": {"template": {"spec": {"$setElementOrder/containers": ORDER_BOTH,
                                     "containers": [{"image": "nginx:1.21", "name": "web"}]}}}}, edit_set_image),
    ("set image, older kubectl without $setElementOrder",
     {"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.21", "name": "web"}]}}}}, edit_set_image),
    ("set image naming one container only in $setElementOrder",
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}],
                                     "containers": [{"image": "nginx:1.21", "name": "web"}]}}}}, edit_set_image),
    ("rollout restart",
     {"spec": {"template": {"metadata": {"annotations": {
         "kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"}}}}}, edit_restart),
    ("apply: replicas and image, with the last-applied annotation",
     {"metadata": {"annotations": {LAST_APPLIED: '{"kind":"Deployment"}\n'}},
      "spec": {"replicas": 2, "template": {"spec": {"$setElementOrder/containers": ORDER_BOTH,
                                                    "containers": [{"image": "nginx:1.21", "name": "web"}]}}}},
     edit_apply_scale_and_image),
    ("apply: delete a container and add an env var",
     {"spec": {"template": {"spec": {
         "$setElementOrder/containers": [{"name": "web"}],
         "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "B"}], "env": [{"name": "B", "value": "2"}],
                         "name": "web"},
                        {"$patch": "delete", "name": "sidecar"}]}}}}, edit_apply_drop_sidecar_add_env),
    ("apply: delete a port (merge key containerPort)",
     {"spec": {"template": {"spec": {
         "$setElementOrder/containers": ORDER_BOTH,
         "containers": [{"$setElementOrder/ports": [{"containerPort": 80}], "name": "web",
                         "ports": [{"$patch": "delete", "containerPort": 8080}]}]}}}}, edit_apply_drop_port),
    ("apply: add a container between two",
     {"spec": {"template": {"spec": {
         "$setElementOrder/containers": [{"name": "web"}, {"name": "cache"}, {"name": "sidecar"}],
         "containers": [{"image": "redis:7", "name": "cache"}]}}}}, edit_apply_insert_container),
    ("apply: reorder containers",
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}}}},
     edit_apply_reorder),
    ("apply: switch the strategy union with $retainKeys",
     {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}},
     edit_apply_recreate),
    ("apply: switch a volume's source with $retainKeys",
     {"spec": {"template": {"spec": {
         "$setElementOrder/volumes": [{"name": "data"}],
         "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "name": "data"}]}}}},
     edit_apply_volume_source),
    ("apply: args have no strategy and are replaced",
     {"spec": {"template": {"spec": {"$setElementOrder/containers": ORDER_BOTH,
                                     "containers": [{"args": ["--b"], "name": "web"}]}}}}, edit_apply_args),
    ("apply: drop a label", {"metadata": {"labels": {"tier": None}}}, edit_drop_label),
    ("finalizers merge as a set", {"metadata": {"finalizers": ["example.com/c", "example.com/a"]}},
     edit_add_finalizers),
    ("finalizers: $deleteFromPrimitiveList with $setElementOrder",
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"],
                   "$setElementOrder/finalizers": ["example.com/b"]}}, edit_remove_finalizer),
    ("finalizers: $setElementOrder alone reorders",
     {"metadata": {"$setElementOrder/finalizers": ["example.com/b", "example.com/a"]}}, edit_reorder_finalizers),
    ("$patch: replace on a map", {"metadata": {"labels": {"$patch": "replace", "app": "web"}}}, edit_replace_labels),
    ("null patch", None, edit_nothing),
    ("empty patch", {}, edit_nothing),
]


@pytest.mark.parametrize(("patch", "edit"), [pytest.param(p, e, id=n) for n, p, e in KUBECTL])
def test_kubectl_patches_on_a_deployment(patch: Any, edit: Any) -> None:
    live, patch_before = live_deployment(), copy.deepcopy(patch)
    want = live_deployment()
    edit(want)
    assert canon(strategic.apply(live, patch, DEPLOYMENT)) == canon(want)
    assert live == live_deployment() and patch == patch_before, "an input was mutated"


def test_result_shares_nothing_with_inputs() -> None:
    live = live_deployment()
    patch = {"spec": {"template": {"spec": {"volumes": [{"name": "new", "emptyDir": {"medium": "Memory"}}]}}}}
    got = strategic.apply(live, patch, DEPLOYMENT)
    got["spec"]["template"]["spec"]["volumes"][1]["emptyDir"]["medium"] = ""
    containers(got)[0]["env"].clear()
    assert live == live_deployment()
    assert patch["spec"]["template"]["spec"]["volumes"][0]["emptyDir"] == {"medium": "Memory"}


def live_service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.43.0.12",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}]}}


def test_service_ports_merge_by_port() -> None:
    patch = {"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                      "ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}
    got = strategic.apply(live_service(), patch, SERVICE)
    assert got["spec"]["ports"] == [live_service()["spec"]["ports"][0],
                                    {"name": "https", "port": 443, "targetPort": 8443}]
    got = strategic.apply(got, {"spec": {"ports": [{"$patch": "delete", "port": 80}]}}, SERVICE)
    assert got["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": 8443}]
    # the selector is a plain map: merged, and null deletes
    got = strategic.apply(got, {"spec": {"selector": {"app": None, "role": "api"}}}, SERVICE)
    assert got["spec"]["selector"] == {"role": "api"}


def test_pod_maps_merge_and_lists_without_strategy_replace() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"nodeSelector": {"disk": "ssd", "zone": "a"},
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                    "containers": [{"name": "c", "image": "i", "resources": {"limits": {"memory": "64Mi"}}}]}}
    patch = {"spec": {"nodeSelector": {"zone": None, "gpu": "yes"},
                      "tolerations": [{"key": "b", "operator": "Exists"}],
                      "containers": [{"name": "c", "resources": {"limits": {"cpu": "500m"}}}]}}
    got = strategic.apply(pod, patch, POD)
    assert got["spec"] == {"nodeSelector": {"disk": "ssd", "gpu": "yes"},
                           "tolerations": [{"key": "b", "operator": "Exists"}],
                           "containers": [{"name": "c", "image": "i",
                                           "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}}]}


def test_replace_strategy_takes_the_patch_as_is() -> None:
    """PodDisruptionBudget.spec.selector is tagged patchStrategy=replace: no merge, no null pruning."""
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}
    got = strategic.apply(pdb, {"spec": {"selector": {"matchLabels": {"tier": "db", "x": None}}}}, PDB)
    assert got["spec"] == {"minAvailable": 1, "selector": {"matchLabels": {"tier": "db", "x": None}}}


def test_fields_the_type_does_not_know_merge_like_a_merge_patch() -> None:
    live = live_deployment()
    live["spec"]["x-extra"] = {"a": {"c": 2}, "l": [1, 2], "drop": 1}
    patch = {"spec": {"x-extra": {"a": {"b": 1}, "l": [3], "drop": None, "new": {"n": None, "k": "v"}}}}
    got = strategic.apply(live, patch, DEPLOYMENT)
    assert got["spec"]["x-extra"] == {"a": {"c": 2, "b": 1}, "l": [3], "new": {"k": "v"}}


def test_directives_are_dropped_from_new_values() -> None:
    live = {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "a"}]}}
    patch = {"spec": {"initContainers": [{"name": "i", "$patch": "delete"}, {"name": "j"}],
                      "affinity": {"$patch": "delete"}, "nodeSelector": {"k": None}}}
    got = strategic.apply(live, patch, POD)
    assert got["spec"] == {"containers": [{"name": "a"}], "initContainers": [{"name": "j"}], "nodeSelector": {}}


def test_go_slice_aliasing_order() -> None:
    """Upstream merges through a slice header that shares the live list's backing array: deleting one element and
    adding another under $setElementOrder leaves the server-only elements where the deletion freed room."""
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b", "image": "b"}, {"name": "d", "image": "d"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
                      "containers": [{"name": "c"}, {"name": "a", "$patch": "delete"}]}}
    got = strategic.apply(live, patch, POD)
    assert [c["name"] for c in got["spec"]["containers"]] == ["b", "d", "c"]


def test_order_of_elements_missing_from_the_order_list() -> None:
    """Go's stable sort with upstream's comparator: an element the order does not know sorts before the others."""
    rank = strategic._rank_table(["b", "a"], "", str)
    assert strategic._sort_by(["x", "a", "b"], rank, "", str) == ["b", "a", "x"]
    items = [{"k": "x"}, {"k": "a"}, {"k": "d", "$patch": "delete"}, {"k": "b"}]
    assert strategic._sort_by(items, strategic._rank_table([{"k": "b"}, {"k": "a"}], "k", dict), "k", dict) == [
        {"k": "b"}, {"k": "a"}, {"k": "x"}, {"k": "d", "$patch": "delete"}]


# --- errors --------------------------------------------------------------------------------------------------

def spec_patch(**pod_spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": pod_spec}}}


ERRORS = [
    ({"metadata": {"labels": {"$patch": "merge", "a": "b"}}}, 500,
     "unknown patch type: merge in map: map[$patch:merge a:b]"),
    ({"metadata": {"labels": {"$patch": 1}}}, 500, "unknown patch type: %!s(int64=1) in map: map[$patch:1]"),
    (spec_patch(containers=[{"$patch": "merge", "name": "web"}]), 500,
     "merging lists cannot yet be specified in the patch"),
    (spec_patch(containers=[{"$patch": "frob", "name": "web"}]), 500,
     "unknown patch type: frob in map: map[$patch:frob name:web]"),
    (spec_patch(containers=[{"image": "x"}]), 500, "map: map[image:x] does not contain declared merge key: name"),
    (spec_patch(containers=[{"$patch": "delete"}]), 500,
     "map: map[$patch:delete] does not contain declared merge key: name"),
    (spec_patch(containers=[{"name": "web", "ports": [{"protocol": "UDP"}]}]), 500,
     "map: map[protocol:UDP] does not contain declared merge key: containerPort"),
    ({"spec": {"strategy": {"$retainKeys": "type"}}}, 400, "invalid patch format of retainKeys"),
    ({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}, 400,
     "invalid patch format of retainKeys"),
    ({"metadata": {"$setElementOrderX/finalizers": []}}, 400, "invalid patch format of setElementOrder list"),
    ({"metadata": {"$setElementOrder": []}}, 400, "invalid patch format of setElementOrder list"),
    ({"metadata": {"$setElementOrder/finalizers": "a"}}, 500, "expected a []interface {}, but received a string"),
    ({"metadata": {"$deleteFromPrimitiveListX/finalizers": ["a"]}}, 400, "invalid patch format of primitive list"),
    (spec_patch(**{"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                   "containers": [{"name": "web", "image": "x"}, {"name": "sidecar", "image": "y"}]}), 500,
     "The order in patch list:\n[map[image:x name:web] map[image:y name:sidecar]]\n doesn't match "
     "$setElementOrder list:\n[map[name:sidecar] map[name:web]]\n"),
    (spec_patch(**{"$setElementOrder/nope": []}), 500,
     'unable to find api field in struct PodSpec for the json field "nope"'),
    ({"metadata": {"finalizers": [1]}}, 500,
     "list element types are not identical: [[example.com/a example.com/b] [1]]"),
    ({"metadata": {"finalizers": [["a"]]}}, 500,
     "list element types are not identical: [[example.com/a example.com/b] [[a]]]"),
    ({"metadata": {"finalizers": [None]}}, 500,
     "list element types are not identical: [[example.com/a example.com/b] [<nil>]]"),
    ([], 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ("x", 400, "json: cannot unmarshal string into Go value of type map[string]interface {}"),
]


@pytest.mark.parametrize(("patch", "code", "message"), ERRORS)
def test_errors(patch: Any, code: int, message: str) -> None:
    live = live_deployment()
    with pytest.raises(PatchError) as info:
        strategic.apply(live, patch, DEPLOYMENT)
    assert (info.value.code, info.value.message) == (code, message)
    assert info.value.reason == {400: "BadRequest", 500: ""}[code]
    assert live == live_deployment()


def test_strict_decoding_wants_an_object() -> None:
    assert strategic.strict_errors({"a": None}) == strategic.strict_errors(None) == []
    with pytest.raises(PatchError) as info:
        strategic.strict_errors([1])
    assert (info.value.code, info.value.message) == (
        400, "json: cannot unmarshal array into Go value of type map[string]interface {}")


def test_list_of_lists_is_422_without_detail() -> None:
    live = live_deployment()
    live["metadata"]["finalizers"] = []
    with pytest.raises(PatchError) as info:
        strategic.apply(live, {"metadata": {"finalizers": [["a"]]}}, DEPLOYMENT)
    err = info.value
    assert (err.code, err.reason, err.message, err.detail) == (422, "Invalid", GENERIC_INVALID,
                                                               "lists of lists are not supported")


def test_custom_resources_are_refused_with_415() -> None:
    crd_type = from_openapi({"type": "object", "properties": {"spec": {"type": "object"}}})
    assert not strategic.supported(crd_type)
    assert strategic.supported(DEPLOYMENT)
    with pytest.raises(PatchError) as info:
        strategic.apply({"spec": {}}, {"spec": {"a": 1}}, crd_type)
    assert (info.value.code, info.value.reason, info.value.message) == (
        415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


# --- every built-in kind -------------------------------------------------------------------------------------

def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _fixtures() -> list[tuple[str, dict[str, Any], TypeInfo]]:
    out = []
    for path in sorted((SHARED / "k8s-api" / "testdata").glob("*.json")):
        obj = orjson.loads(path.read_bytes())
        ti = of_kind(obj.get("apiVersion", ""), obj.get("kind", "")) if isinstance(obj, dict) else None
        if ti is not None:
            out.append((path.stem, _without_nulls(obj), ti))
    return out


FIXTURES = _fixtures()


def test_fixtures_cover_the_api() -> None:
    assert len(FIXTURES) > 150


@pytest.mark.parametrize(("obj", "ti"), [pytest.param(o, t, id=n) for n, o, t in FIXTURES])
def test_an_object_merged_into_itself_is_unchanged(obj: dict[str, Any], ti: TypeInfo) -> None:
    """Upstream's round-trip fixtures fill every field: this walks each kind's whole type."""
    assert canon(strategic.apply(obj, obj, ti)) == canon(obj)
    assert canon(strategic.apply(obj, {}, ti)) == canon(obj)
