"""Server-side apply: merge, ownership, conflicts and errors, as kubectl and the Go API server see them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pybernetes.api.apply import ApplyConflict, Conflict, apply
from pybernetes.api.errors import APIError, BadRequest
from pybernetes.api.fieldset import FieldSet, make_path
from pybernetes.api.managedfields import reset_fields, update_managed_fields
from pybernetes.api.typeinfo import from_openapi, of_kind

DEPLOY = of_kind("apps/v1", "Deployment")
POD = of_kind("v1", "Pod")
MAIN = reset_fields(has_status_subresource=True)
T0, T1, T2, T3 = "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z", "2024-01-01T00:03:00Z"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def config(replicas: int | None = 3, image: str = "nginx:1.20", **spec: Any) -> dict[str, Any]:
    """``kubectl apply --server-side -f deployment.yaml`` as kubectl sends it."""
    out: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"labels": {"app": "web"}, "name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"image": image, "name": "web"}]}}, **spec}}
    if replicas is not None:
        out["spec"]["replicas"] = replicas
    return out


def do_apply(live: dict | None, cfg: dict, manager: str = "kubectl", *, force: bool = False, now: str = T1,
             ti: Any = DEPLOY, api_version: str = "apps/v1", **kw: Any) -> dict:
    out = apply(live, cfg, manager=manager, force=force, ti=ti, now=now, api_version=api_version, ignored=MAIN, **kw)
    out["metadata"].setdefault("uid", "u-1")
    return out


def created(cfg: dict, manager: str, now: str = T0) -> dict:
    """What ``kubectl create``/client-side ``kubectl apply`` leave behind (an Update by ``manager``)."""
    obj = copy.deepcopy(cfg)
    update_managed_fields(None, obj, manager=manager, ti=DEPLOY, now=now, api_version="apps/v1", ignored=MAIN)
    obj["metadata"]["uid"] = "u-1"
    return obj


def owned(obj: dict, manager: str, operation: str = "Apply", subresource: str = "") -> FieldSet | None:
    for e in obj["metadata"].get("managedFields", ()):
        if (e.get("manager"), e["operation"], e.get("subresource", "")) == (manager, operation, subresource):
            return FieldSet.from_fields_v1(e["fieldsV1"])
    return None


def entry(obj: dict, manager: str) -> dict:
    return next(e for e in obj["metadata"]["managedFields"] if e.get("manager") == manager)


REPLICAS = make_path("spec", "replicas")
IMAGE = make_path("spec", "template", "spec", "containers", {"name": "web"}, "image")
SSA_DEPLOYMENT = ('{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":'
                  '{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"web\\"}":'
                  '{".":{},"f:image":{},"f:name":{}}}}}}}')


def test_create_via_apply() -> None:
    cfg = config()
    out = apply(None, cfg, manager="kubectl", force=False, ti=DEPLOY, now=T0, api_version="apps/v1", ignored=MAIN)
    assert cfg == config()                                            # inputs are not modified
    assert {k: v for k, v in out.items() if k != "metadata"} == {k: v for k, v in cfg.items() if k != "metadata"}
    assert out["metadata"]["managedFields"] == [
        {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0, "fieldsType": "FieldsV1",
         "fieldsV1": json.loads(SSA_DEPLOYMENT)}]
    assert json.dumps(out["metadata"]["managedFields"][0]["fieldsV1"], separators=(",", ":")) == SSA_DEPLOYMENT


# A real cluster (kubectl 1.27): `kubectl run nginx`, the kubelet, then `kubectl apply --server-side` of the
# dry-run YAML. The audit log shows the request and the response; this replays the second apply.
RUN_CONFIG = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"creationTimestamp": None, "labels": {"run": "nginx"}, "name": "nginx",
                           "namespace": "default"},
              "spec": {"containers": [{"image": "nginx", "name": "nginx", "resources": {}}],
                       "dnsPolicy": "ClusterFirst", "restartPolicy": "Never"},
              "status": {}}
RUN_ANNOTATION = ('{"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":null,"labels":{"run":"nginx"},'
                  '"name":"nginx","namespace":"default"},"spec":{"containers":[{"image":"nginx","name":"nginx",'
                  '"resources":{}}],"dnsPolicy":"ClusterFirst","restartPolicy":"Never"},"status":{}}\n')
COND = {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}
RUN_MANAGED = [
    {"manager": "kubectl-last-applied", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
     "fieldsV1": {"f:metadata": {"f:annotations": {f"f:{LAST_APPLIED}": {}}}}},
    {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2023-10-26T03:24:46Z",
     "fieldsType": "FieldsV1",
     "fieldsV1": {"f:metadata": {"f:labels": {"f:run": {}}},
                  "f:spec": {"f:containers": {'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {},
                                                                       "f:resources": {}}},
                             "f:dnsPolicy": {}, "f:restartPolicy": {}}}},
    {"manager": "kubectl-run", "operation": "Update", "apiVersion": "v1", "time": "2023-10-26T03:22:48Z",
     "fieldsType": "FieldsV1",
     "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:run": {}}},
                  "f:spec": {"f:containers": {'k:{"name":"nginx"}': {
                      ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {},
                      "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                      "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {},
                      "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}},
    {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2023-10-26T03:22:51Z",
     "fieldsType": "FieldsV1",
     "fieldsV1": {"f:status": {"f:conditions": {'k:{"type":"ContainersReady"}': COND, 'k:{"type":"Initialized"}': COND,
                                                'k:{"type":"Ready"}': COND},
                               "f:containerStatuses": {}, "f:hostIP": {}, "f:phase": {}, "f:podIP": {},
                               "f:podIPs": {".": {}, 'k:{"ip":"10.244.0.8"}': {".": {}, "f:ip": {}}},
                               "f:startTime": {}}},
     "subresource": "status"}]
RUN_LIVE = {
    "kind": "Pod", "apiVersion": "v1",
    "metadata": {"name": "nginx", "namespace": "default", "uid": "2c5e7503-d9a8-43d2-8281-4d186e552c37",
                 "resourceVersion": "7520", "creationTimestamp": "2023-10-26T03:22:48Z", "labels": {"run": "nginx"},
                 "annotations": {LAST_APPLIED: RUN_ANNOTATION}, "managedFields": RUN_MANAGED},
    "spec": {"volumes": [{"name": "kube-api-access-j6ndf", "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}], "defaultMode": 420}}],
        "containers": [{"name": "nginx", "image": "nginx", "resources": {},
                        "volumeMounts": [{"name": "kube-api-access-j6ndf", "readOnly": True,
                                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "imagePullPolicy": "Always"}],
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default", "serviceAccount": "default", "nodeName": "playground-control-plane",
        "securityContext": {}, "schedulerName": "default-scheduler", "priority": 0, "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority"},
    "status": {"phase": "Running", "hostIP": "172.20.0.2", "podIP": "10.244.0.8", "podIPs": [{"ip": "10.244.0.8"}],
               "qosClass": "BestEffort"}}


def test_kubectl_server_side_apply_replayed_from_a_real_cluster() -> None:
    live = copy.deepcopy(RUN_LIVE)
    out = apply(live, RUN_CONFIG, manager="kubectl", force=False, ti=POD, now="2023-10-26T03:28:36Z",
                api_version="v1", ignored=MAIN)
    assert live == RUN_LIVE
    want = copy.deepcopy(RUN_MANAGED)
    want[1]["time"] = "2023-10-26T03:28:36Z"     # creationTimestamp: null changes the object, so the time moves
    assert out["metadata"]["managedFields"] == want
    assert out["metadata"]["annotations"][LAST_APPLIED] == RUN_ANNOTATION
    assert out["spec"] == RUN_LIVE["spec"] and out["status"] == RUN_LIVE["status"]


@pytest.mark.parametrize(("second", "want_labels", "kubectl_owns"), [
    # the applier dropped a label it alone owned: the label goes
    (config(), {"app": "web"}, [make_path("metadata", "labels", "app")]),
    # ... and a label now in nobody's configuration but owned by someone else stays
    (config(), {"app": "web", "team": "a"}, None),
])
def test_reapply_without_a_field_removes_it_unless_someone_else_owns_it(second: dict, want_labels: dict,
                                                                        kubectl_owns: list | None) -> None:
    first = config()
    first["metadata"]["labels"]["team"] = "a"
    live = do_apply(None, first, now=T0)
    if kubectl_owns is None:                       # another applier also sets team=a
        other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"team": "a"}}}
        live = do_apply(live, other, "other")
    out = do_apply(live, second, now=T2)
    assert out["metadata"]["labels"] == want_labels
    assert not owned(out, "kubectl").has(make_path("metadata", "labels", "team"))


def test_prune_keeps_co_owned_fields_and_drops_the_rest_in_one_apply() -> None:
    first = config()
    first["metadata"]["labels"].update(team="a", tier="fe")
    first["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = do_apply(None, first, now=T0)
    live["spec"]["template"]["spec"]["containers"][1]["imagePullPolicy"] = "Always"    # defaulted: unowned
    co_owner = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"team": "a"}}}
    live = do_apply(live, co_owner, "other", now=T1)
    out = do_apply(live, config(), now=T2)
    assert out["metadata"]["labels"] == {"app": "web", "team": "a"}
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]
    assert owned(out, "kubectl") == FieldSet.from_fields_v1(json.loads(SSA_DEPLOYMENT))


def test_fields_an_update_manager_also_owns_survive_the_prune() -> None:
    live = do_apply(None, config(paused=True), now=T0)
    edited = copy.deepcopy(live)
    edited["spec"]["minReadySeconds"] = 5
    edited["spec"]["paused"] = False
    update_managed_fields(live, edited, manager="kubectl-edit", ti=DEPLOY, now=T1, api_version="apps/v1",
                          ignored=MAIN)
    out = do_apply(edited, config(), now=T2)          # no longer applies paused: kubectl-edit owns it now
    assert out["spec"]["paused"] is False and out["spec"]["minReadySeconds"] == 5


def test_two_appliers_with_the_same_value_co_own_without_conflict() -> None:
    live = do_apply(None, config(replicas=3), now=T0)
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}}
    out = do_apply(live, other, "hpa-helper", now=T1)
    assert owned(out, "kubectl").has(REPLICAS) and owned(out, "hpa-helper").has(REPLICAS)
    # the first applier dropping it leaves the value (still owned) alone
    out = do_apply(out, config(replicas=None), now=T2)
    assert out["spec"]["replicas"] == 3 and not owned(out, "kubectl").has(REPLICAS)


def test_conflict_then_force() -> None:
    live = do_apply(None, config(replicas=3), now=T0)
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}}
    with pytest.raises(ApplyConflict) as e:
        do_apply(live, other, "other")
    assert e.value.code == 409 and e.value.reason == "Conflict"
    assert e.value.message == 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
    assert e.value.conflicts == [Conflict("kubectl", "apps/v1", ".spec.replicas")]
    assert e.value.to_status()["details"] == {"causes": [
        {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"', "field": ".spec.replicas"}]}
    out = do_apply(live, other, "other", force=True, now=T2)
    assert out["spec"]["replicas"] == 5
    assert owned(out, "other") == FieldSet([REPLICAS]) and not owned(out, "kubectl").has(REPLICAS)
    assert entry(out, "kubectl")["time"] == T0 and entry(out, "other")["time"] == T2


def test_kubectl_create_then_server_side_apply() -> None:
    live = created(config(), "kubectl-create")
    same = do_apply(live, config(), now=T2)           # same values: no conflict, nothing changes
    assert {k: v for k, v in same.items() if k != "metadata"} == {k: v for k, v in live.items() if k != "metadata"}
    assert "time" not in entry(same, "kubectl")       # a no-op apply never stamps the applier's time
    assert owned(same, "kubectl").has(REPLICAS) and owned(same, "kubectl-create", "Update").has(REPLICAS)
    with pytest.raises(ApplyConflict) as e:
        do_apply(live, config(replicas=5, image="nginx:1.21"), now=T2)
    assert e.value.message == ('Apply failed with 2 conflicts: conflicts with "kubectl-create" using apps/v1:\n'
                               '- .spec.replicas\n- .spec.template.spec.containers[name="web"].image')
    assert [x.path for x in e.value.conflicts] == [
        ".spec.replicas", '.spec.template.spec.containers[name="web"].image']


def test_client_side_apply_upgrades_to_server_side_apply_for_kubectl_only() -> None:
    csa = config()
    last = copy.deepcopy(csa)
    last["metadata"]["annotations"] = {}
    csa["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(last, separators=(",", ":")) + "\n"}
    live = created(csa, "kubectl-client-side-apply")
    with pytest.raises(ApplyConflict) as e:
        do_apply(live, config(replicas=4), "my-tool")
    assert e.value.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using '
                               "apps/v1: .spec.replicas")
    out = do_apply(live, config(replicas=4), "kubectl", now=T2)      # the annotation vouches for the old owner
    assert out["spec"]["replicas"] == 4 and owned(out, "kubectl").has(REPLICAS)
    assert not owned(out, "kubectl-client-side-apply", "Update").has(REPLICAS)
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED]) == config(replicas=4)
    # once the live object drifted from the annotation, kubectl conflicts too
    drifted = copy.deepcopy(live)
    drifted["spec"]["replicas"] = 7
    with pytest.raises(ApplyConflict):
        do_apply(drifted, config(replicas=4), "kubectl")


def test_kubectl_scale_then_apply_conflicts_on_replicas() -> None:
    live = do_apply(None, config(replicas=3), now=T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5                  # PATCH .../scale {"spec":{"replicas":5}}, as the parent sees it
    update_managed_fields(live, scaled, manager="kubectl", subresource="scale", ti=DEPLOY, now=T1,
                          api_version="apps/v1")
    assert owned(scaled, "kubectl", "Update", "scale") == FieldSet([REPLICAS])
    assert not owned(scaled, "kubectl").has(REPLICAS)
    assert scaled["metadata"]["managedFields"][1] == {        # as clusters show it: no time on /scale entries
        "manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale"}
    with pytest.raises(ApplyConflict) as e:
        do_apply(scaled, config(replicas=3), now=T2)
    assert e.value.message == ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
                               "using apps/v1: .spec.replicas")
    assert e.value.to_status()["details"]["causes"][0]["message"] == (
        'conflict with "kubectl" with subresource "scale" using apps/v1')
    out = do_apply(scaled, config(replicas=3), force=True, now=T3)
    assert out["spec"]["replicas"] == 3 and owned(out, "kubectl", "Update", "scale") is None
    assert do_apply(scaled, config(replicas=None), now=T3)["spec"]["replicas"] == 5   # not applying it: no conflict


def test_untracked_objects_are_attributed_to_before_first_apply() -> None:
    live = config(replicas=1)
    live["metadata"]["uid"] = "u-1"
    with pytest.raises(ApplyConflict) as e:
        do_apply(live, config(replicas=2))
    assert e.value.message == ('Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: '
                               ".spec.replicas")
    out = do_apply(live, config(replicas=2), force=True)
    assert owned(out, "before-first-apply", "Update") is not None and entry(out, "before-first-apply")["time"] == T1


def test_map_lists_merge_by_key_and_keep_others_items() -> None:
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}, {"containerPort": 53,
                                                                                        "protocol": "UDP"}]
    live = do_apply(None, cfg, now=T0)
    sidecar = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"template": {"spec": {"containers": [{"name": "istio", "image": "proxy"}]}}}}
    live = do_apply(live, sidecar, "injector", now=T1)
    cfg2 = config(image="nginx:1.21")
    cfg2["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "TCP"}]
    out = do_apply(live, cfg2, now=T2)
    web, istio = out["spec"]["template"]["spec"]["containers"]
    assert istio == {"name": "istio", "image": "proxy"}
    assert web == {"image": "nginx:1.21", "name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}]}
    port = make_path("spec", "template", "spec", "containers", {"name": "web"}, "ports",
                     {"containerPort": 80, "protocol": "TCP"})
    assert owned(out, "kubectl").has(port) and owned(out, "kubectl").has((*port, "f:protocol"))


def test_sets_merge_by_value() -> None:
    mine = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a/x", "shared"]}}
    theirs = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["b/y", "shared"]}}
    live = do_apply(None, mine, "a", ti=POD, api_version="v1", now=T0)
    live = do_apply(live, theirs, "b", ti=POD, api_version="v1", now=T1)
    assert live["metadata"]["finalizers"] == ["a/x", "b/y", "shared"]
    mine["metadata"]["finalizers"] = []
    out = do_apply(live, mine, "a", ti=POD, api_version="v1", now=T2)
    assert out["metadata"]["finalizers"] == ["b/y", "shared"]           # a's own goes, the shared one stays


def test_atomic_lists_are_replaced_and_owned_whole() -> None:
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "serve"]
    live = do_apply(None, cfg, now=T0)
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"template": {"spec": {"containers": [{"name": "web", "command": ["serve"]}]}}}}
    with pytest.raises(ApplyConflict) as e:
        do_apply(live, other, "debugger")
    assert [c.path for c in e.value.conflicts] == ['.spec.template.spec.containers[name="web"].command']
    out = do_apply(live, other, "debugger", force=True)
    assert out["spec"]["template"]["spec"]["containers"][0]["command"] == ["serve"]


def test_status_in_the_configuration_is_never_owned() -> None:
    cfg = config()
    cfg["status"] = {"replicas": 9}
    out = do_apply(None, cfg, now=T0)
    assert not owned(out, "kubectl").with_prefix("f:status")


@pytest.mark.parametrize(("cfg", "error", "message"), [
    ({**config(), "kind": "StatefulSet"}, BadRequest, "invalid object type: apps/v1, Kind=StatefulSet"),
    ({**config(), "apiVersion": "apps/v1beta2"}, BadRequest, "invalid object type: apps/v1beta2, Kind=Deployment"),
    ({"metadata": {"name": "web"}}, BadRequest, "invalid object type: /, Kind="),
    ({**config(), "metadata": {"name": "web", "managedFields": []}}, BadRequest, "metadata.managedFields must be nil"),
    ({**config(), "spec": {"replicaz": 1}}, APIError,
     "failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.replicaz: field not declared "
     "in schema"),
    ({**config(), "spec": {"replicas": "three"}}, APIError,
     "failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric "
     "(int or float), got string"),
    ({**config(), "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}}, APIError,
     'failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: '
     'duplicate entries for key [name="a"]'),
    ({**config(), "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, APIError,
     "failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: "
     'element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have '
     "default value)"),
])
def test_invalid_configurations(cfg: dict, error: type, message: str) -> None:
    with pytest.raises(error) as e:
        do_apply(None, {**cfg, "metadata": {k: v for k, v in cfg["metadata"].items() if k != "namespace"}})
    assert e.value.message == message
    if error is APIError:
        assert e.value.code == 500 and "reason" not in e.value.to_status()


CRD = from_openapi({"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "size": {"type": "integer"},
        "settings": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}})


def test_custom_resources_apply_by_their_schema() -> None:
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
          "spec": {"size": 1, "settings": {"a": {"b": 1}, "c": [1]}}}
    out = do_apply(None, cr, ti=CRD, api_version="example.com/v1", kind="Widget")
    assert owned(out, "kubectl").to_fields_v1() == {
        "f:spec": {"f:settings": {"f:a": {".": {}, "f:b": {}}, "f:c": {}}, "f:size": {}}}
    other = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
             "spec": {"settings": {"a": {"d": 2}}}}
    out = do_apply(out, other, "other", ti=CRD, api_version="example.com/v1", kind="Widget")
    assert out["spec"]["settings"] == {"a": {"b": 1, "d": 2}, "c": [1]}
    bad = {**cr, "spec": {"colour": "red"}}
    with pytest.raises(APIError, match=r"\.spec\.colour: field not declared in schema"):
        do_apply(None, bad, ti=CRD, api_version="example.com/v1", kind="Widget")
    with pytest.raises(BadRequest, match="Kind=Gadget"):
        do_apply(None, {**cr, "kind": "Gadget"}, ti=CRD, api_version="example.com/v1", kind="Widget")


def test_conflicts_with_several_managers_are_grouped_by_manager() -> None:
    live = created(config(), "kubectl-create")
    live = do_apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web",
                                                                                   "labels": {"tier": "1"}}},
                    "labeller", now=T1)
    cfg = config(replicas=4)
    cfg["metadata"]["labels"]["tier"] = "2"
    with pytest.raises(ApplyConflict) as e:
        do_apply(live, cfg, "deployer")
    # grouped per manager, managers in the order of their identifiers ({"manager":"kubectl-create",...} first)
    assert e.value.message == ('Apply failed with 2 conflicts: conflicts with "kubectl-create" using apps/v1:\n'
                               '- .spec.replicas\nconflicts with "labeller":\n- .metadata.labels.tier')
    assert len(e.value.to_status()["details"]["causes"]) == 2
