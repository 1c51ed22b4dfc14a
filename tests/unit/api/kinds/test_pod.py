from __future__ import annotations

import copy

import orjson
import pytest

from pybernetes.api.errors import Conflict, Forbidden, Invalid
from pybernetes.api.field import Path
from pybernetes.api.kinds.pod import (
    PodStrategy,
    admit_pod,
    admit_pod_priority,
    bind_pod,
    default_pod_template,
    validate_pod_template_spec,
)
from pybernetes.api.kinds.pod_defaults import image_tag

from .helpers import create, errors, update

S = PodStrategy()


def kubectl_run_nginx() -> dict:
    """The body `kubectl run nginx --image=nginx` POSTs."""
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "nginx", "creationTimestamp": None, "labels": {"run": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}],
                     "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"},
            "status": {}}


# What a 1.33 cluster stores for that pod before scheduling (minus the kube-api-access token volume).
EXPECTED_SPEC = {
    "containers": [{"image": "nginx", "imagePullPolicy": "Always", "name": "nginx", "resources": {},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
    "dnsPolicy": "ClusterFirst", "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
    "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {},
    "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
    "tolerations": [
        {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
        {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
         "tolerationSeconds": 300}],
}


def created(pod: dict) -> tuple[dict, list]:
    pod = copy.deepcopy(pod)
    S.default(pod)
    admit_pod(pod)
    S.prepare_for_create(pod)
    return pod, S.validate(pod)


def test_kubectl_run_nginx_matches_a_real_cluster() -> None:
    pod, errs = created(kubectl_run_nginx())
    assert errs == []
    dump = orjson.dumps(pod["spec"], option=orjson.OPT_SORT_KEYS)
    assert dump == orjson.dumps(EXPECTED_SPEC, option=orjson.OPT_SORT_KEYS)
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert pod["metadata"]["generation"] == 1


def test_defaulting_is_idempotent() -> None:
    pod, _ = created(kubectl_run_nginx())
    again = copy.deepcopy(pod)
    S.default(again)
    admit_pod(again)
    assert again == pod


def test_nested_defaults() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {
        "hostNetwork": True,
        "containers": [{"name": "c", "image": "busybox:1.36",
                        "ports": [{"containerPort": 8080}],
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "L", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
                        "livenessProbe": {"httpGet": {"port": 8080}},
                        "readinessProbe": {"grpc": {"port": 9090}}}],
        "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}},
                    {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]}}
    S.default(pod)
    c = pod["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["ports"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"apiVersion": "v1", "fieldPath": "metadata.name"}
    assert c["env"][1]["valueFrom"]["resourceFieldRef"]["divisor"] == "0"
    assert c["livenessProbe"] == {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                  "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert c["readinessProbe"]["grpc"] == {"port": 9090, "service": ""}
    vols = pod["spec"]["volumes"]
    assert vols[0] == {"name": "v", "emptyDir": {}}
    assert vols[1]["secret"]["defaultMode"] == 420
    assert vols[2]["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}
    S.prepare_for_create(pod)
    assert pod["status"]["qosClass"] == "Guaranteed"


def test_templates_get_spec_defaults_but_not_pod_only_ones() -> None:
    t = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [
        {"name": "c", "image": "nginx:1.25", "resources": {"limits": {"cpu": "1"}}}]}}
    default_pod_template(t)
    spec = t["spec"]
    assert spec["restartPolicy"] == "Always" and spec["schedulerName"] == "default-scheduler"
    assert "enableServiceLinks" not in spec
    assert "requests" not in spec["containers"][0]["resources"]
    assert validate_pod_template_spec(t, Path("spec", "template")) == []


@pytest.mark.parametrize(("image", "tag"), [
    ("nginx", "latest"), ("nginx:latest", "latest"), ("nginx:1.25", "1.25"),
    ("registry.local:5000/team/app", "latest"), ("registry.local:5000/team/app:v2", "v2"),
    ("nginx@sha256:" + "a" * 64, ""), ("nginx:1.25@sha256:" + "a" * 64, "1.25"), ("Nginx", ""),
])
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag
    assert image_tag(image) == tag                         # remembered


def test_long_image_names_are_parsed_not_remembered() -> None:
    from pybernetes.api.kinds import pod_defaults
    image = "registry.local/" + "/".join(["team"] * 120) + ":v3"
    assert len(image) > 512
    assert image_tag(image) == "v3"
    assert image not in pod_defaults._TAGS


@pytest.mark.parametrize(("qos", "resources"), [
    ("BestEffort", [{}]),
    ("Burstable", [{"requests": {"cpu": "100m"}}]),
    ("Guaranteed", [{"limits": {"cpu": "1", "memory": "1Gi"}}]),
    ("Burstable", [{"limits": {"cpu": "1", "memory": "1Gi"}}, {}]),
    ("Guaranteed", [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}]),
    ("Burstable", [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}]),
])
def test_qos_class(qos: str, resources: list[dict]) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": f"c{i}", "image": "x", "resources": r} for i, r in enumerate(resources)]}}
    pod, errs = create(S, pod)
    assert errs == []
    assert pod["status"]["qosClass"] == qos


def base() -> dict:
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def with_spec(**changes: object) -> dict:
    pod = base()
    pod["spec"].update(changes)
    return pod


def with_container(**changes: object) -> dict:
    pod = base()
    pod["spec"]["containers"][0].update(changes)
    return pod


CREATE_ERRORS = [
    (with_spec(containers=[]), "spec.containers: Required value"),
    (with_container(name=""), "spec.containers[0].name: Required value"),
    (with_container(name="Web_1"), 'spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label'),
    (with_container(image=""), "spec.containers[0].image: Required value"),
    (with_container(image=" nginx"),
     'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace'),
    (with_spec(containers=[{"name": "c", "image": "a"}, {"name": "c", "image": "b"}]),
     'spec.containers[1].name: Duplicate value: "c"'),
    (with_container(imagePullPolicy="Sometimes"),
     'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", '
     '"IfNotPresent", "Never"'),
    (with_container(ports=[{"containerPort": 0}]), "spec.containers[0].ports[0].containerPort: Required value"),
    (with_container(ports=[{"containerPort": 70000}]),
     "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"),
    (with_container(ports=[{"containerPort": 80, "protocol": "HTTP"}]),
     'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'),
    (with_container(ports=[{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}]),
     'spec.containers[0].ports[1].name: Duplicate value: "http"'),
    (with_container(env=[{"name": "A=B", "value": "x"}]),
     'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only '
     "of printable ASCII characters other than '='"),
    (with_container(env=[{"name": "A", "valueFrom": {}}]),
     'spec.containers[0].env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, '
     "`configMapKeyRef` or `secretKeyRef`"),
    (with_container(env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.restartPolicy"}}}]),
     'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.restartPolicy"'),
    (with_container(volumeMounts=[{"name": "missing", "mountPath": "/data"}]),
     'spec.containers[0].volumeMounts[0].name: Not found: "missing"'),
    (with_container(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
     'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'),
    (with_container(resources={"limits": {"cpu": "-1"}}),
     'spec.containers[0].resources.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0'),
    (with_container(resources={"limits": {"gpu": "1"}}),
     'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource type or fully '
     "qualified"),
    (with_container(livenessProbe={"exec": {"command": ["true"]}, "successThreshold": 2}),
     "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"),
    (with_container(readinessProbe={}), "spec.containers[0].readinessProbe: Required value: must specify a handler "
                                        "type"),
    (with_spec(restartPolicy="Sometimes"),
     'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'),
    (with_spec(dnsPolicy="None"), "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"),
    (with_spec(volumes=[{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]),
     "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"),
    (with_spec(volumes=[{"name": "v", "secret": {}}]), "spec.volumes[0].secret.secretName: Required value"),
    (with_spec(tolerations=[{"key": "", "operator": "Equal", "value": "x"}]),
     'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which '
     'means "match all values and all keys"'),
    (with_spec(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]),
     "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
     "`tolerationSeconds` is set"),
    (with_spec(activeDeadlineSeconds=0),
     "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"),
    (with_spec(nodeSelector={"bad key!": "x"}), 'spec.nodeSelector: Invalid value: "bad key!"'),
    (with_spec(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": []}}}),
     "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: "
     "must have at least one node selector term"),
    (with_spec(topologySpreadConstraints=[{"maxSkew": 0, "topologyKey": "zone",
                                           "whenUnsatisfiable": "DoNotSchedule"}]),
     "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero"),
    (with_spec(ephemeralContainers=[{"name": "dbg", "image": "busybox"}]),
     "spec.ephemeralContainers: Forbidden: cannot be set on create"),
    (with_spec(nodeName="n1", schedulingGates=[{"name": "example.com/gate"}]),
     "spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"),
    (with_spec(initContainers=[{"name": "init", "image": "x", "readinessProbe": {"exec": {"command": ["a"]}}}]),
     "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without "
     "restartPolicy=Always"),
]


@pytest.mark.parametrize(("pod", "message"), CREATE_ERRORS)
def test_create_mistakes(pod: dict, message: str) -> None:
    _, errs = create(S, pod)
    assert any(m.startswith(message) for m in errors(errs)), errors(errs)


def test_valid_pod_has_no_errors() -> None:
    pod = with_spec(
        initContainers=[{"name": "side", "image": "envoy", "restartPolicy": "Always",
                         "readinessProbe": {"tcpSocket": {"port": 9901}}}],
        volumes=[{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                 {"name": "cfg", "configMap": {"name": "c", "items": [{"key": "a", "path": "a.conf"}]}}],
        tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
        affinity={"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                               "labelSelector": {"matchLabels": {"app": "x"}}}}]}},
        securityContext={"runAsUser": 1000, "fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
        dnsPolicy="None", dnsConfig={"nameservers": ["10.43.0.10"], "searches": ["svc.cluster.local"]},
    )
    pod["spec"]["containers"][0].update(
        ports=[{"name": "http", "containerPort": 80}],
        env=[{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
             {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}],
        envFrom=[{"secretRef": {"name": "s"}}],
        volumeMounts=[{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/x", "readOnly": True}],
        resources={"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        livenessProbe={"httpGet": {"path": "/healthz", "port": "http"}},
        securityContext={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    )
    out, errs = create(S, pod)
    assert errors(errs) == []
    assert out["status"]["qosClass"] == "Burstable"


def stored() -> dict:
    pod, errs = created(kubectl_run_nginx())
    assert errs == []
    pod["metadata"].update(namespace="default", uid="u1", resourceVersion="5")
    return pod


def test_update_image_and_tolerations_allowed_and_bumps_generation() -> None:
    old = stored()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.27"
    new["spec"]["tolerations"].append({"key": "k", "operator": "Exists"})
    new["status"] = {"phase": "Running"}
    out, errs = update(S, new, old)
    assert errs == []
    assert out["metadata"]["generation"] == 2
    assert out["status"] == old["status"]        # status only through /status


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["containers"][0].update(ports=[{"containerPort": 81}]),
     "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
     "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
     "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"),
    (lambda s: s["containers"].append({"name": "x", "image": "x"}),
     "spec.containers: Forbidden: pod updates may not add or remove containers"),
    (lambda s: s["tolerations"].pop(),
     "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"),
    (lambda s: s.update(activeDeadlineSeconds=30), None),
])
def test_update_rules(change, message: str | None) -> None:
    old = stored()
    new = copy.deepcopy(old)
    change(new["spec"])
    _, errs = update(S, new, old)
    if message is None:
        assert errs == []
    else:
        assert any(m.startswith(message) for m in errors(errs)), errors(errs)


def test_active_deadline_may_only_shrink() -> None:
    old = stored()
    old["spec"]["activeDeadlineSeconds"] = 30
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 60
    _, errs = update(S, new, old)
    assert errors(errs) == ["spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous "
                            "value"]


def test_status_strategy_keeps_spec_and_validates() -> None:
    old = stored()
    st = S.status_strategy()
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "sneaky"
    new["status"] = {"phase": "Running", "podIP": "10.42.0.5", "conditions": [{"type": "Ready", "status": "True"}]}
    out, errs = update(st, new, old)
    assert errs == []
    assert out["spec"] == old["spec"]
    assert out["status"]["podIPs"] == [{"ip": "10.42.0.5"}]
    assert out["status"]["qosClass"] == "BestEffort"      # backfilled
    assert out["metadata"]["generation"] == 1
    bad = copy.deepcopy(old)
    bad["status"] = {"podIPs": [{"ip": "10.42.0.5"}, {"ip": "10.42.0.6"}], "podIP": "10.42.0.5"}
    _, errs = update(st, bad, old)
    assert errors(errs)[0].startswith("status.podIPs: Invalid value")
    assert "may specify no more than one IP for each IP family" in errors(errs)[0]


def test_terminated_containers_stay_terminated_under_never() -> None:
    old = stored()
    old["spec"]["restartPolicy"] = "Never"
    old["status"]["containerStatuses"] = [{"name": "nginx", "state": {"terminated": {"exitCode": 0}}}]
    new = copy.deepcopy(old)
    new["status"]["containerStatuses"] = [{"name": "nginx", "state": {"running": {}}}]
    _, errs = update(S.status_strategy(), new, old)
    assert errors(errs) == ["status.containerStatuses[0].state: Forbidden: may not be transitioned to "
                            "non-terminated state"]


def binding(node: str = "node1", **meta: object) -> dict:
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "nginx", **meta},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


def test_bind_pod() -> None:
    old = stored()
    frozen = copy.deepcopy(old)
    out = bind_pod(old, binding(annotations={"a": "b"}))
    assert old == frozen
    assert out["spec"]["nodeName"] == "node1"
    assert out["metadata"]["annotations"] == {"a": "b"}
    cond = out["status"]["conditions"][0]
    assert cond["type"] == "PodScheduled" and cond["status"] == "True" and cond["lastTransitionTime"]
    with pytest.raises(Conflict) as e:
        bind_pod(out, binding("node2"))
    assert e.value.message == ('Operation cannot be fulfilled on pods/binding "nginx": pod nginx is already assigned '
                               'to node "node1"')
    with pytest.raises(Invalid) as e2:
        bind_pod(old, binding(""))
    assert "target.name: Required value" in e2.value.message
    with pytest.raises(Conflict):
        bind_pod(old, binding(uid="other"))
    gated = copy.deepcopy(old)
    gated["spec"]["schedulingGates"] = [{"name": "g"}]
    with pytest.raises(Conflict, match=r"has non-empty \.spec\.schedulingGates"):
        bind_pod(gated, binding())


def test_scheduling_gated_condition_on_create() -> None:
    pod, errs = create(S, with_spec(schedulingGates=[{"name": "example.com/wait"}]))
    assert errs == []
    assert pod["status"]["conditions"][0]["reason"] == "SchedulingGated"


def test_ephemeral_containers() -> None:
    old = stored()
    st = S.ephemeral_containers_strategy()
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox", "targetContainerName": "nginx"}]
    new["spec"]["containers"][0]["image"] = "ignored"
    out, errs = update(st, new, old)
    assert errs == []
    assert out["spec"]["containers"][0]["image"] == "nginx"
    assert out["spec"]["ephemeralContainers"][0]["imagePullPolicy"] == "Always"
    assert out["metadata"]["generation"] == 2
    changed = copy.deepcopy(out)
    changed["spec"]["ephemeralContainers"][0]["image"] = "alpine"
    _, errs = update(st, changed, out)
    assert errors(errs) == ['spec.ephemeralContainers: Forbidden: existing ephemeral containers "debug" may not be '
                            "changed\n"]
    ported = copy.deepcopy(old)
    ported["spec"]["ephemeralContainers"] = [{"name": "d", "image": "b", "ports": [{"containerPort": 80}]}]
    _, errs = update(st, ported, old)
    assert "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container" in errors(errs)


def test_priority_admission() -> None:
    pod = base()
    pod["spec"]["priorityClassName"] = "system-node-critical"
    admit_pod_priority(pod)
    assert pod["spec"]["priority"] == 2000001000
    missing = base()
    missing["spec"]["priorityClassName"] = "gold"
    with pytest.raises(Forbidden, match="no PriorityClass with name gold was found"):
        admit_pod_priority(missing, lookup=lambda name: None)
    found = base()
    found["spec"]["priorityClassName"] = "gold"
    admit_pod_priority(found, lookup=lambda name: {"value": 1000, "preemptionPolicy": "Never"})
    assert (found["spec"]["priority"], found["spec"]["preemptionPolicy"]) == (1000, "Never")


def test_name_warning() -> None:
    assert S.warnings_on_create({"metadata": {"name": "a.b"}})[0].startswith(
        "metadata.name: this is used in the Pod's hostname")
    assert S.warnings_on_create({"metadata": {"name": "ab"}}) == []
