"""The official ``kubernetes`` Python client (v37, pydantic models) against a real pybernetes server.

Every call goes through the client's own code paths: typed APIs, the watch helper, ``utils.create_from_yaml``,
the dynamic client and ``CustomObjectsApi``. The client refuses responses that lack OpenAPI-required fields, so
a response shape the real API server would not send fails here as a pydantic error — that is a server bug.
"""

from __future__ import annotations

import base64
import json
import pathlib
import tempfile
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes import client, dynamic, utils, watch
from kubernetes.client.rest import ApiException

from tests.harness import Server

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
T = TypeVar("T")
WATCH_TIMEOUT = 10                      # seconds: a watch that misses an event ends instead of hanging the test


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[client.ApiClient]:
    c = server.client()
    yield c
    c.close()


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture(scope="module")
def dyn(api: client.ApiClient) -> dynamic.DynamicClient:
    return dynamic.DynamicClient(api)


def status_of(exc: ApiException) -> Obj:
    """The metav1.Status body of a failed call (it must be one)."""
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure", body
    assert body["code"] == exc.status, body
    return body


def meta(name: str, **kw: Any) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(name=name, **kw)


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=meta(name, labels=labels), data=data or None)


def deployment(name: str, *, replicas: int = 1, containers: list[Obj] | None = None) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": containers or [{"name": "web", "image": "nginx:1.27"}]}}}}


def retry_on_conflict(fn: Callable[[], T], attempts: int = 10) -> T:
    """Run a read-modify-write until it does not hit a 409 (a controller wrote the object in between)."""
    for i in range(attempts):
        try:
            return fn()
        except ApiException as e:
            if e.status != 409 or i == attempts - 1:
                raise
    raise AssertionError("unreachable")


def collect(stream: Iterator[Obj], w: watch.Watch, count: int) -> list[Obj]:
    """The first ``count`` events of a watch (fewer if the server ends it at its timeout)."""
    events = []
    for ev in stream:
        events.append(ev)
        if len(events) >= count:
            w.stop()
    return events


# ---------------------------------------------------------------------------------------------------- typed CRUD
def test_configmap_create_read_replace_delete(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, configmap("cm", {"app": "x"}, a="1"))
    assert isinstance(created, client.V1ConfigMap)
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    assert created.metadata.namespace == ns and created.data == {"a": "1"}

    got = core.read_namespaced_config_map("cm", ns)
    assert got.metadata.uid == created.metadata.uid and got.metadata.resource_version == \
        created.metadata.resource_version

    got.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("cm", ns, got)
    assert replaced.data == {"a": "1", "b": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    # Optimistic concurrency: replacing with the stale resourceVersion is a 409 Conflict.
    created.data = {"stale": "yes"}
    with pytest.raises(ApiException) as ei:
        core.replace_namespaced_config_map("cm", ns, created)
    st = status_of(ei.value)
    assert (st["code"], st["reason"]) == (409, "Conflict")
    assert st["message"] == ('Operation cannot be fulfilled on configmaps "cm": the object has been modified; '
                             "please apply your changes to the latest version and try again")
    assert st["details"] == {"name": "cm", "kind": "configmaps"}

    # ConfigMaps answer DELETE with a Success Status (not the object); v37 hands DELETE replies back as dicts.
    done = core.delete_namespaced_config_map("cm", ns)
    assert (done["kind"], done["status"]) == ("Status", "Success")
    assert done["details"] == {"name": "cm", "kind": "configmaps", "uid": created.metadata.uid}

    with pytest.raises(ApiException) as ei:
        core.read_namespaced_config_map("cm", ns)
    st = status_of(ei.value)
    assert (st["reason"], st["message"]) == ("NotFound", 'configmaps "cm" not found')
    assert st["details"] == {"name": "cm", "kind": "configmaps"}


def test_create_twice_is_already_exists(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("twice"))
    with pytest.raises(ApiException) as ei:
        apps.create_namespaced_deployment(ns, deployment("twice"))
    st = status_of(ei.value)
    assert (st["code"], st["reason"]) == (409, "AlreadyExists")
    assert st["message"] == 'deployments.apps "twice" already exists'
    assert st["details"] == {"name": "twice", "group": "apps", "kind": "deployments"}


def test_generate_name_and_dry_run(core: client.CoreV1Api, ns: str) -> None:
    a = core.create_namespaced_secret(ns, client.V1Secret(metadata=meta(None, generate_name="gen-"),
                                                          string_data={"k": "v"}))
    assert a.metadata.name.startswith("gen-") and len(a.metadata.name) == len("gen-") + 5
    assert a.data == {"k": base64.b64encode(b"v").decode()} and a.type == "Opaque"
    assert a.string_data is None

    dry = core.create_namespaced_config_map(ns, configmap("dry", a="1"), dry_run="All")
    assert dry.metadata.name == "dry" and dry.metadata.uid
    with pytest.raises(ApiException) as ei:
        core.read_namespaced_config_map("dry", ns)
    assert ei.value.status == 404


def test_deployment_typed_models_defaults_status_and_scale(apps: client.AppsV1Api, ns: str) -> None:
    body = client.V1Deployment(
        metadata=meta("web"),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=meta(None, labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="web", image="nginx:1.27", ports=[client.V1ContainerPort(container_port=80)])]))))
    d = apps.create_namespaced_deployment(ns, body)
    assert d.metadata.generation == 1
    # Defaults as upstream applies them.
    assert d.spec.strategy.type == "RollingUpdate"
    assert (d.spec.strategy.rolling_update.max_surge, d.spec.strategy.rolling_update.max_unavailable) == \
        ("25%", "25%")
    assert d.spec.revision_history_limit == 10 and d.spec.progress_deadline_seconds == 600
    c = d.spec.template.spec.containers[0]
    assert c.image_pull_policy == "IfNotPresent" and c.termination_message_path == "/dev/termination-log"
    assert c.ports[0].protocol == "TCP"
    assert d.spec.template.spec.restart_policy == "Always" and d.spec.template.spec.dns_policy == "ClusterFirst"

    # The deployment controller writes status concurrently: read-modify-replace retries on 409, as clients do.
    def new_image() -> client.V1Deployment:
        cur = apps.read_namespaced_deployment("web", ns)
        cur.spec.template.spec.containers[0].image = "nginx:1.28"
        return apps.replace_namespaced_deployment("web", ns, cur)
    d2 = retry_on_conflict(new_image)
    assert d2.metadata.generation == 2 and d2.spec.template.spec.containers[0].image == "nginx:1.28"

    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert isinstance(scale, client.V1Scale) and scale.spec.replicas == 2 and scale.status.selector == "app=web"
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 5

    # The status subresource writes status only; the main resource ignores status.
    def write_status() -> client.V1Deployment:
        st = apps.read_namespaced_deployment_status("web", ns)
        st.status = client.V1DeploymentStatus(replicas=5, ready_replicas=3, observed_generation=3)
        st.spec.replicas = 9
        return apps.replace_namespaced_deployment_status("web", ns, st)
    after = retry_on_conflict(write_status)
    assert after.status.ready_replicas == 3 and after.spec.replicas == 5

    # Deployments answer DELETE with the deleted object.
    gone = apps.delete_namespaced_deployment("web", ns)
    assert (gone["kind"], gone["metadata"]["name"]) == ("Deployment", "web")


def test_service_defaults_and_typed_read(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(ns, client.V1Service(
        metadata=meta("svc"),
        spec=client.V1ServiceSpec(type="NodePort", selector={"app": "web"},
                                  ports=[client.V1ServicePort(port=80, target_port=8080)])))
    assert svc.spec.cluster_ip.startswith("10.43.") and svc.spec.cluster_ips == [svc.spec.cluster_ip]
    assert 30000 <= svc.spec.ports[0].node_port <= 32767
    assert svc.spec.ports[0].protocol == "TCP" and svc.spec.session_affinity == "None"
    assert svc.spec.external_traffic_policy == "Cluster" and svc.spec.ip_families == ["IPv4"]
    assert svc.status is not None
    listed = core.list_namespaced_service(ns)
    assert [s.metadata.name for s in listed.items] == ["svc"]


def test_batch_jobs_and_cronjobs(api: client.ApiClient, ns: str) -> None:
    batch = client.BatchV1Api(api)
    job = batch.create_namespaced_job(ns, client.V1Job(
        metadata=meta("pi"),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never", containers=[client.V1Container(name="pi", image="perl:5")])))))
    assert (job.spec.backoff_limit, job.spec.completions, job.spec.parallelism) == (6, 1, 1)
    assert job.spec.completion_mode == "NonIndexed" and job.spec.suspend is False
    # The server generates the selector and the controller-uid labels.
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels["batch.kubernetes.io/job-name"] == "pi"

    cj = batch.create_namespaced_cron_job(ns, client.V1CronJob(
        metadata=meta("nightly"),
        spec=client.V1CronJobSpec(schedule="0 3 * * *", job_template=client.V1JobTemplateSpec(
            spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                restart_policy="OnFailure", containers=[client.V1Container(name="c", image="busybox")])))))))
    assert cj.spec.concurrency_policy == "Allow" and cj.spec.suspend is False
    assert (cj.spec.successful_jobs_history_limit, cj.spec.failed_jobs_history_limit) == (3, 1)
    assert [j.metadata.name for j in batch.list_namespaced_job(ns).items] == ["pi"]
    batch.delete_namespaced_cron_job("nightly", ns)
    batch.delete_namespaced_job("pi", ns, propagation_policy="Background")


def test_rbac_objects_and_subject_access_review(api: client.ApiClient, ns: str) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    authz = client.AuthorizationV1Api(api)
    user = f"alice-{ns}"

    def can(verb: str, resource: str, namespace: str = ns) -> bool:
        review = authz.create_subject_access_review(client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(user=user, resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, resource=resource))))
        return bool(review.status.allowed)

    assert not can("list", "configmaps")
    role = rbac.create_namespaced_role(ns, client.V1Role(metadata=meta("cm-reader"), rules=[
        client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "list", "watch"])]))
    assert role.rules[0].verbs == ["get", "list", "watch"]
    rbac.create_namespaced_role_binding(ns, client.V1RoleBinding(
        metadata=meta("alice-reads"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="cm-reader"),
        subjects=[client.RbacV1Subject(kind="User", name=user, api_group="rbac.authorization.k8s.io")]))
    assert can("list", "configmaps")
    assert not can("delete", "configmaps")
    assert not can("list", "configmaps", namespace="default")

    cr = rbac.create_cluster_role(client.V1ClusterRole(metadata=meta(f"{ns}-deleter"), rules=[
        client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["delete"])]))
    crb = rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
        metadata=meta(f"{ns}-deleter"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=cr.metadata.name),
        subjects=[client.RbacV1Subject(kind="User", name=user, api_group="rbac.authorization.k8s.io")]))
    try:
        assert can("delete", "configmaps", namespace="default")
        assert f"{ns}-deleter" in [r.metadata.name for r in rbac.list_cluster_role_binding().items]
    finally:
        rbac.delete_cluster_role_binding(crb.metadata.name)
        rbac.delete_cluster_role(cr.metadata.name)
    assert not can("delete", "configmaps", namespace="default")


def test_self_subject_access_review_for_admin(api: client.ApiClient, ns: str) -> None:
    authz = client.AuthorizationV1Api(api)
    review = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            namespace=ns, verb="create", group="apps", resource="deployments"))))
    assert review.status.allowed is True
    assert review.spec.resource_attributes.resource == "deployments"
    review = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(non_resource_attributes=client.V1NonResourceAttributes(
            path="/healthz", verb="get"))))
    assert review.status.allowed is True


KINDS_MANIFEST = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: lone}
spec: {containers: [{name: c, image: busybox, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota}
spec: {hard: {pods: "10"}}
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec: {limits: [{type: Container, default: {cpu: 500m}}]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules: [{host: web.example.com, http: {paths: [{path: /, pathType: Prefix,
                                                  backend: {service: {name: web, port: {number: 80}}}}]}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lock}
spec: {holderIdentity: me, leaseDurationSeconds: 15}
"""


def test_every_kind_deserializes_through_the_typed_models(api: client.ApiClient, ns: str,
                                                          tmp_path: pathlib.Path) -> None:
    """Objects as the server stores, defaults and (through its controllers) derives them must satisfy the
    client's pydantic models: a missing OpenAPI-required field fails the typed list below."""
    path = tmp_path / "kinds.yaml"
    path.write_text(KINDS_MANIFEST)
    utils.create_from_yaml(api, str(path), namespace=ns)
    client.AppsV1Api(api).create_namespaced_deployment(ns, deployment("web"))
    # The client re-writes eventTime with isoformat(), which drops zero microseconds that MicroTime requires.
    client.EventsV1Api(api).create_namespaced_event(ns, {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "ev"},
        "eventTime": "2026-01-01T00:00:00.123456Z", "reportingController": "example.com/test",
        "reportingInstance": "test-1", "action": "Testing", "reason": "Tested", "type": "Normal",
        "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "lone", "namespace": ns}})
    client.BatchV1Api(api).create_namespaced_job(ns, {"apiVersion": "batch/v1", "kind": "Job",
                                                      "metadata": {"name": "once"}, "spec": {"template": {"spec": {
                                                          "restartPolicy": "Never",
                                                          "containers": [{"name": "c", "image": "busybox"}]}}}})
    namespaced = [(client.CoreV1Api, ["pod", "service", "endpoints", "config_map", "secret", "service_account",
                                      "persistent_volume_claim", "resource_quota", "limit_range", "event",
                                      "replication_controller", "pod_template"]),
                  (client.AppsV1Api, ["deployment", "replica_set", "stateful_set", "daemon_set",
                                      "controller_revision"]),
                  (client.BatchV1Api, ["job", "cron_job"]),
                  (client.AutoscalingV1Api, ["horizontal_pod_autoscaler"]),
                  (client.AutoscalingV2Api, ["horizontal_pod_autoscaler"]),
                  (client.PolicyV1Api, ["pod_disruption_budget"]),
                  (client.NetworkingV1Api, ["ingress", "network_policy"]),
                  (client.CoordinationV1Api, ["lease"]),
                  (client.DiscoveryV1Api, ["endpoint_slice"]),
                  (client.EventsV1Api, ["event"]),
                  (client.RbacAuthorizationV1Api, ["role", "role_binding"])]
    seen: dict[str, int] = {}
    for cls, kinds in namespaced:
        for kind in kinds:
            # Legacy core Events (the controllers') read through events.k8s.io/v1 have eventTime null — upstream too
            # — which v37's EventsV1Event refuses (kubernetes-client/python#1826): read our own event only.
            only = {"field_selector": "metadata.name=ev"} if cls is client.EventsV1Api else {}
            items = getattr(cls(api), f"list_namespaced_{kind}")(ns, **only).items
            seen[f"{cls.__name__}.{kind}"] = len(items)
    cluster = [(client.CoreV1Api, ["namespace", "node", "persistent_volume"]),
               (client.RbacAuthorizationV1Api, ["cluster_role", "cluster_role_binding"]),
               (client.StorageV1Api, ["storage_class"]), (client.SchedulingV1Api, ["priority_class"]),
               (client.NetworkingV1Api, ["ingress_class"]), (client.ApiextensionsV1Api, ["custom_resource_definition"]),
               (client.ApiregistrationV1Api, ["api_service"])]
    for cls, kinds in cluster:
        for kind in kinds:
            seen[f"{cls.__name__}.{kind}"] = len(getattr(cls(api), f"list_{kind}")().items)
    for created in ("CoreV1Api.pod", "CoreV1Api.service", "CoreV1Api.persistent_volume_claim", "AppsV1Api.deployment",
                    "AppsV1Api.stateful_set", "AppsV1Api.daemon_set", "BatchV1Api.job", "AutoscalingV2Api."
                    "horizontal_pod_autoscaler", "AutoscalingV1Api.horizontal_pod_autoscaler",
                    "PolicyV1Api.pod_disruption_budget", "NetworkingV1Api.ingress", "CoordinationV1Api.lease",
                    "EventsV1Api.event", "CoreV1Api.event", "RbacAuthorizationV1Api.cluster_role"):
        assert seen[created] >= 1, (created, seen)


# ---------------------------------------------------------------------------------------------------- selectors
LABELLED = {"a": {"tier": "web", "env": "prod"}, "b": {"tier": "db", "env": "prod"}, "c": {"env": "dev"},
            "d": {"tier": "cache"}}


@pytest.fixture()
def labelled(core: client.CoreV1Api, ns: str) -> str:
    for name, labels in LABELLED.items():
        core.create_namespaced_config_map(ns, configmap(name, labels, v=name))
    return ns


@pytest.mark.parametrize(("selector", "names"), [
    ("tier=web", ["a"]),
    ("tier==web", ["a"]),
    ("tier!=web", ["b", "c", "d"]),
    ("tier in (web,db)", ["a", "b"]),
    ("tier notin (web,db)", ["c", "d"]),
    ("tier", ["a", "b", "d"]),
    ("!tier", ["c"]),
    ("env=prod,tier=db", ["b"]),
    ("env,!tier", ["c"]),
    ("", ["a", "b", "c", "d"]),
])
def test_list_label_selectors(core: client.CoreV1Api, labelled: str, selector: str, names: list[str]) -> None:
    got = core.list_namespaced_config_map(labelled, label_selector=selector)
    assert [c.metadata.name for c in got.items if c.metadata.name in LABELLED] == names
    assert got.metadata.resource_version


@pytest.mark.parametrize(("selector", "names"), [
    ("metadata.name=b", ["b"]),
    ("metadata.name!=b", ["a", "c", "d"]),
    ("metadata.name!=b,metadata.name!=c", ["a", "d"]),
])
def test_list_field_selectors(core: client.CoreV1Api, labelled: str, selector: str, names: list[str]) -> None:
    got = core.list_namespaced_config_map(labelled, field_selector=selector)
    assert [c.metadata.name for c in got.items if c.metadata.name in LABELLED] == names


def test_list_all_namespaces_and_pagination(core: client.CoreV1Api, labelled: str) -> None:
    everywhere = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={labelled}",
                                                        label_selector="env")
    assert sorted((c.metadata.namespace, c.metadata.name) for c in everywhere.items) == \
        [(labelled, "a"), (labelled, "b"), (labelled, "c")]

    first = core.list_namespaced_config_map(labelled, limit=2, label_selector="tier in (web,db,cache)")
    assert len(first.items) == 2 and first.metadata._continue
    rest = core.list_namespaced_config_map(labelled, limit=2, _continue=first.metadata._continue,
                                           label_selector="tier in (web,db,cache)")
    assert [c.metadata.name for c in first.items + rest.items] == ["a", "b", "d"]
    assert not rest.metadata._continue


def test_unknown_field_selector_is_bad_request(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as ei:
        core.list_namespaced_config_map(ns, field_selector="data.v=a")
    st = status_of(ei.value)
    assert (st["code"], st["reason"]) == (400, "BadRequest")
    assert st["message"] == '"data.v" is not a known field selector: only "metadata.name", "metadata.namespace"'


# ---------------------------------------------------------------------------------------------------- patches
SIDE_CAR = {"name": "log", "image": "busybox:1.36"}


def two_containers(apps: client.AppsV1Api, ns: str, name: str) -> None:
    apps.create_namespaced_deployment(ns, deployment(name, containers=[
        {"name": "web", "image": "nginx:1.27"}, SIDE_CAR]))


def images(d: client.V1Deployment) -> dict[str, str]:
    return {c.name: c.image for c in d.spec.template.spec.containers}


def test_strategic_merge_patch_is_the_default_for_a_dict(apps: client.AppsV1Api, ns: str) -> None:
    two_containers(apps, ns, "smp")
    # A dict body makes the client send application/strategic-merge-patch+json: containers merge by name.
    d = apps.patch_namespaced_deployment("smp", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28"}]}}}})
    assert images(d) == {"web": "nginx:1.28", "log": "busybox:1.36"}
    # $patch: delete removes one element by its merge key.
    d = apps.patch_namespaced_deployment("smp", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "log", "$patch": "delete"}]}}}})
    assert images(d) == {"web": "nginx:1.28"}


def test_merge_patch_replaces_lists(apps: client.AppsV1Api, ns: str) -> None:
    two_containers(apps, ns, "mp")
    d = apps.patch_namespaced_deployment("mp", ns, {"metadata": {"labels": {"extra": "1"}}, "spec": {
        "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}},
        _content_type="application/merge-patch+json")
    assert images(d) == {"web": "nginx:1.28"}
    assert d.metadata.labels == {"app": "mp", "extra": "1"}
    d = apps.patch_namespaced_deployment("mp", ns, {"metadata": {"labels": {"extra": None}}},
                                         _content_type="application/merge-patch+json")
    assert d.metadata.labels == {"app": "mp"}


def test_json_patch_from_a_list(apps: client.AppsV1Api, ns: str) -> None:
    two_containers(apps, ns, "jp")
    d = apps.patch_namespaced_deployment("jp", ns, [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/annotations", "value": {"note": "x"}},
        {"op": "remove", "path": "/spec/template/spec/containers/1"}])
    assert d.spec.replicas == 3 and d.metadata.annotations == {"note": "x"} and images(d) == {"web": "nginx:1.27"}
    # A failing "test" op leaves the object alone (422, the whole patch is refused).
    with pytest.raises(ApiException) as ei:
        apps.patch_namespaced_deployment("jp", ns, [{"op": "test", "path": "/spec/replicas", "value": 7},
                                                    {"op": "replace", "path": "/spec/replicas", "value": 8}])
    st = status_of(ei.value)
    assert st["code"] == 422 and st["reason"] == "Invalid"
    assert apps.read_namespaced_deployment("jp", ns).spec.replicas == 3


def test_apply_patch_through_the_typed_api(apps: client.AppsV1Api, ns: str) -> None:
    body = deployment("ap", replicas=2)
    d = apps.patch_namespaced_deployment("ap", ns, body, field_manager="tool-a",
                                         _content_type="application/apply-patch+yaml")
    assert d.spec.replicas == 2
    managers = {(m.manager, m.operation) for m in d.metadata.managed_fields}
    assert ("tool-a", "Apply") in managers
    # Another manager changing the same field conflicts; with force it takes the field over.
    body["spec"]["replicas"] = 4
    with pytest.raises(ApiException) as ei:
        apps.patch_namespaced_deployment("ap", ns, body, field_manager="tool-b",
                                         _content_type="application/apply-patch+yaml")
    st = status_of(ei.value)
    assert (st["code"], st["reason"]) == (409, "Conflict")
    assert st["message"] == 'Apply failed with 1 conflict: conflict with "tool-a": .spec.replicas'
    d = apps.patch_namespaced_deployment("ap", ns, body, field_manager="tool-b", force=True,
                                         _content_type="application/apply-patch+yaml")
    assert d.spec.replicas == 4


def test_patch_of_missing_object_is_not_found(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as ei:
        core.patch_namespaced_config_map("nope", ns, {"data": {"a": "b"}})
    assert status_of(ei.value)["reason"] == "NotFound"


# ---------------------------------------------------------------------------------------------------- watch
def test_watch_from_resource_version_in_order_then_resume(core: client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    c = core.create_namespaced_config_map(ns, configmap("w", a="1"))
    u = core.patch_namespaced_config_map("w", ns, {"data": {"a": "2"}})
    core.delete_namespaced_config_map("w", ns)

    w = watch.Watch()
    events = collect(w.stream(core.list_namespaced_config_map, ns, resource_version=start,
                              field_selector="metadata.name=w", timeout_seconds=WATCH_TIMEOUT), w, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert all(isinstance(e["object"], client.V1ConfigMap) for e in events)
    rvs = [int(e["object"].metadata.resource_version) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    assert rvs[:2] == [int(c.metadata.resource_version), int(u.metadata.resource_version)]
    assert events[1]["object"].data == {"a": "2"}
    assert w.resource_version == str(rvs[2])

    # Resuming from the create's resourceVersion replays only what came after it.
    w2 = watch.Watch()
    again = collect(w2.stream(core.list_namespaced_config_map, ns, resource_version=c.metadata.resource_version,
                              field_selector="metadata.name=w", timeout_seconds=WATCH_TIMEOUT), w2, 2)
    assert [(e["type"], int(e["object"].metadata.resource_version)) for e in again] == \
        [("MODIFIED", rvs[1]), ("DELETED", rvs[2])]


def test_watch_sees_live_events_and_filters_by_label(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, configmap("other", {"pick": "no"}))
    core.create_namespaced_config_map(ns, configmap("mine", {"pick": "yes"}))
    # Leaving the selection is a DELETED event for this watcher carrying the last state it matched in, at the
    # resourceVersion of the change (upstream's cacheWatcher).
    left = core.patch_namespaced_config_map("mine", ns, {"metadata": {"labels": {"pick": "no"}}})
    w = watch.Watch()
    events = collect(w.stream(core.list_namespaced_config_map, ns, label_selector="pick=yes",
                              resource_version=rv, timeout_seconds=WATCH_TIMEOUT), w, 2)
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "mine"), ("DELETED", "mine")]
    assert events[1]["object"].metadata.labels == {"pick": "yes"}
    assert events[1]["object"].metadata.resource_version == left.metadata.resource_version


def test_watch_without_resource_version_starts_with_current_objects(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("x1"))
    core.create_namespaced_config_map(ns, configmap("x2"))
    w = watch.Watch()
    events = collect(w.stream(core.list_namespaced_config_map, ns, field_selector="metadata.name!=kube-root-ca.crt",
                              timeout_seconds=WATCH_TIMEOUT), w, 2)
    assert sorted((e["type"], e["object"].metadata.name) for e in events) == [("ADDED", "x1"), ("ADDED", "x2")]


def test_watch_too_old_resource_version_is_410(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("old"))
    w = watch.Watch()
    # With timeoutSeconds the helper does not retry: the ERROR event's Status surfaces as an ApiException.
    with pytest.raises(ApiException) as ei:
        list(w.stream(core.list_namespaced_config_map, ns, resource_version="1", timeout_seconds=WATCH_TIMEOUT))
    assert ei.value.status == 410
    assert ei.value.reason.startswith("Expired: too old resource version: 1 (")
    # Without timeoutSeconds it retries once from the same resourceVersion, then gives up with the 410.
    with pytest.raises(ApiException) as ei:
        list(watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version="1"))
    assert ei.value.status == 410


def test_watch_raw_lines_are_watch_events(api: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, configmap("raw", a="b"))
    w = watch.Watch()
    events = collect(w.stream(core.list_namespaced_config_map, ns, resource_version=rv, deserialize=False,
                              field_selector="metadata.name=raw", timeout_seconds=WATCH_TIMEOUT), w, 1)
    assert events[0]["type"] == "ADDED"
    obj = events[0]["object"]
    assert (obj["kind"], obj["apiVersion"], obj["data"]) == ("ConfigMap", "v1", {"a": "b"})


# ---------------------------------------------------------------------------------------------------- create_from_yaml
MULTI_DOC = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {ns}
  labels: {{app: shop}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: shop}}
  template:
    metadata:
      labels: {{app: shop}}
    spec:
      containers:
      - name: shop
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: {ns}
spec:
  selector: {{app: shop}}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
  namespace: {ns}
data:
  greeting: hello
"""


def new_namespace_name(ns: str) -> str:
    return (ns[:50] + "-yaml").strip("-")


def test_create_from_yaml_multi_document(api: client.ApiClient, core: client.CoreV1Api, apps: client.AppsV1Api,
                                        ns: str, tmp_path: pathlib.Path) -> None:
    target = new_namespace_name(ns)
    path = tmp_path / "shop.yaml"
    path.write_text(MULTI_DOC.format(ns=target))
    created = utils.create_from_yaml(api, str(path))
    kinds = [type(o).__name__ for group in created for o in (group if isinstance(group, list) else [group])]
    assert kinds == ["V1Namespace", "V1Deployment", "V1Service", "V1ConfigMap"]
    try:
        assert core.read_namespace(target).status.phase == "Active"
        assert apps.read_namespaced_deployment("shop", target).spec.replicas == 2
        assert core.read_namespaced_service("shop", target).spec.ports[0].port == 80
        assert core.read_namespaced_config_map("shop-config", target).data == {"greeting": "hello"}

        # Again: every object exists, and the helper reports each 409 in one FailToCreateError.
        with pytest.raises(utils.FailToCreateError) as ei:
            utils.create_from_yaml(api, str(path))
        assert [e.status for e in ei.value.api_exceptions] == [409, 409, 409, 409]
        assert {json.loads(e.body)["reason"] for e in ei.value.api_exceptions} == {"AlreadyExists"}

        # apply=True goes through the dynamic client's server-side apply and updates in place. The helper sends
        # its ``namespace`` argument (default "default") in the path, so name the objects' namespace there too:
        # a body whose namespace differs from the path's is a 400, as upstream.
        docs = list(yaml.safe_load_all(MULTI_DOC.format(ns=target)))
        docs[3]["data"]["greeting"] = "bonjour"
        with pytest.raises(utils.FailToCreateError) as ei:
            utils.create_from_yaml(api, yaml_objects=docs[3:], apply=True)
        st = json.loads(ei.value.api_exceptions[0].body)
        assert (st["code"], st["message"]) == (
            400, "the namespace of the provided object does not match the namespace sent on the request")
        # The objects were created by POST, so their fields belong to the client's default manager (named after
        # its User-Agent): taking one over by apply is a conflict until forced.
        with pytest.raises(utils.FailToCreateError) as ei:
            utils.create_from_yaml(api, yaml_objects=docs[1:], apply=True, namespace=target)
        assert [json.loads(e.body)["message"] for e in ei.value.api_exceptions] == [
            'Apply failed with 1 conflict: conflict with "OpenAPI-Generator" using v1: .data.greeting']
        utils.create_from_yaml(api, yaml_objects=docs[1:], apply=True, namespace=target, force_conflicts=True)
        assert core.read_namespaced_config_map("shop-config", target).data == {"greeting": "bonjour"}
    finally:
        core.delete_namespace(target)


def test_create_from_yaml_uses_namespace_argument(api: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    docs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"y{i}"}, "data": {"i": str(i)}}
            for i in range(3)]
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "cms.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        utils.create_from_yaml(api, str(path), namespace=ns)
    got = core.list_namespaced_config_map(ns, label_selector="", field_selector="metadata.name!=kube-root-ca.crt")
    assert sorted(c.metadata.name for c in got.items) == ["y0", "y1", "y2"]


# ---------------------------------------------------------------------------------------------------- dynamic client
def test_dynamic_client_server_side_apply_conflicts_and_force(dyn: dynamic.DynamicClient, ns: str) -> None:
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": ns},
            "data": {"owned-by-a": "1", "shared": "a"}}
    obj = cms.server_side_apply(body=body, field_manager="mgr-a")
    assert obj.to_dict()["data"] == {"owned-by-a": "1", "shared": "a"}
    assert [(m.manager, m.operation) for m in obj.metadata.managedFields] == [("mgr-a", "Apply")]

    # Same config again: nothing changes, not even the resourceVersion.
    again = cms.server_side_apply(body=body, field_manager="mgr-a")
    assert again.metadata.resourceVersion == obj.metadata.resourceVersion

    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": ns},
             "data": {"shared": "b", "owned-by-b": "2"}}
    with pytest.raises(dynamic.exceptions.ConflictError) as ei:
        cms.server_side_apply(body=other, field_manager="mgr-b")
    st = json.loads(ei.value.body)
    assert (st["code"], st["reason"]) == (409, "Conflict")
    assert st["message"] == 'Apply failed with 1 conflict: conflict with "mgr-a": .data.shared'
    assert st["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                        "message": 'conflict with "mgr-a"', "field": ".data.shared"}]
    assert cms.get(name="ssa", namespace=ns).to_dict()["data"] == {"owned-by-a": "1", "shared": "a"}

    forced = cms.server_side_apply(body=other, field_manager="mgr-b", force_conflicts=True)
    assert forced.to_dict()["data"] == {"owned-by-a": "1", "shared": "b", "owned-by-b": "2"}
    owners = {m["manager"]: sorted(m["fieldsV1"]["f:data"]) for m in forced.to_dict()["metadata"]["managedFields"]}
    assert owners == {"mgr-a": ["f:owned-by-a"], "mgr-b": ["f:owned-by-b", "f:shared"]}

    # mgr-a drops a field it alone owns from its config: the field is removed.
    cms.server_side_apply(body={"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "ssa", "namespace": ns}, "data": {}}, field_manager="mgr-a")
    assert cms.get(name="ssa", namespace=ns).to_dict()["data"] == {"shared": "b", "owned-by-b": "2"}


def test_dynamic_client_crud(dyn: dynamic.DynamicClient, ns: str) -> None:
    deps = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    created = deps.create(body=deployment("dyn"), namespace=ns)
    assert created.kind == "Deployment" and created.metadata.generation == 1
    listed = deps.get(namespace=ns, label_selector="app=dyn")
    assert listed.kind == "DeploymentList" and [i.metadata.name for i in listed.items] == ["dyn"]
    patched = deps.patch(name="dyn", namespace=ns, body={"spec": {"replicas": 3}},
                         content_type="application/merge-patch+json")
    assert patched.spec.replicas == 3

    def relabel() -> Any:
        body = deps.get(name="dyn", namespace=ns).to_dict()
        body["metadata"]["labels"]["changed"] = "yes"
        return deps.replace(body=body, namespace=ns)
    replaced = retry_on_conflict(relabel)
    assert replaced.metadata.labels["changed"] == "yes"
    deps.delete(name="dyn", namespace=ns)
    with pytest.raises(dynamic.exceptions.NotFoundError):
        deps.get(name="dyn", namespace=ns)


# ---------------------------------------------------------------------------------------------------- deletecollection
def test_delete_collection_with_label_selector_and_watch(core: client.CoreV1Api, ns: str) -> None:
    for i in range(4):
        core.create_namespaced_config_map(ns, configmap(f"doomed-{i}", {"batch": "doomed"}))
    core.create_namespaced_config_map(ns, configmap("keeper", {"batch": "keep"}))
    rv = core.list_namespaced_config_map(ns).metadata.resource_version

    # Upstream answers with the list of deleted objects (the client's V1Status model just carries its kind).
    result = core.delete_collection_namespaced_config_map(ns, label_selector="batch=doomed")
    assert result.kind == "ConfigMapList"

    left = core.list_namespaced_config_map(ns, label_selector="batch")
    assert [c.metadata.name for c in left.items] == ["keeper"]

    w = watch.Watch()
    events = collect(w.stream(core.list_namespaced_config_map, ns, resource_version=rv, label_selector="batch",
                              timeout_seconds=WATCH_TIMEOUT), w, 4)
    assert sorted((e["type"], e["object"].metadata.name) for e in events) == \
        [("DELETED", f"doomed-{i}") for i in range(4)]


def test_delete_collection_of_deployments(apps: client.AppsV1Api, ns: str) -> None:
    for name in ("d1", "d2"):
        apps.create_namespaced_deployment(ns, deployment(name))
    apps.delete_collection_namespaced_deployment(ns, label_selector="app in (d1)")
    assert [d.metadata.name for d in apps.list_namespaced_deployment(ns).items] == ["d2"]


# ---------------------------------------------------------------------------------------------------- custom resources
SM_GROUP, SM_VERSION, SM_PLURAL = "monitoring.coreos.com", "v1", "servicemonitors"
SM_CRD_NAME = f"{SM_PLURAL}.{SM_GROUP}"


def servicemonitor_crd() -> Obj:
    """A trimmed copy of prometheus-operator's ServiceMonitor CRD: enough schema to be validated."""
    endpoint = {"type": "object", "properties": {
        "port": {"type": "string"}, "path": {"type": "string"},
        "interval": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?"
                                                   "(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
        "scheme": {"type": "string", "enum": ["http", "https"]},
        "honorLabels": {"type": "boolean"}}}
    selector = {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array", "items": {"type": "object", "required": ["key", "operator"],
                                                        "properties": {"key": {"type": "string"},
                                                                       "operator": {"type": "string"},
                                                                       "values": {"type": "array",
                                                                                  "items": {"type": "string"}}}}}}}
    schema = {"type": "object", "required": ["spec"], "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "required": ["selector"], "properties": {
            "endpoints": {"type": "array", "items": endpoint},
            "jobLabel": {"type": "string"},
            "sampleLimit": {"type": "integer", "format": "int64", "minimum": 0},
            "selector": selector}},
        "status": {"type": "object", "properties": {
            "bindings": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "resource": {"type": "string"}}}},
            "observedGeneration": {"type": "integer"}}}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": SM_CRD_NAME},
            "spec": {"group": SM_GROUP, "scope": "Namespaced",
                     "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": SM_PLURAL,
                               "singular": "servicemonitor", "shortNames": ["smon"],
                               "categories": ["prometheus-operator"]},
                     "versions": [{"name": SM_VERSION, "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}, "subresources": {"status": {}}}]}}


@pytest.fixture(scope="module")
def servicemonitors(api: client.ApiClient) -> client.CustomObjectsApi:
    """The ServiceMonitor CRD, applied server-side (idempotent) and waited for until Established."""
    ext = client.ApiextensionsV1Api(api)
    ext.patch_custom_resource_definition(SM_CRD_NAME, servicemonitor_crd(), field_manager="test-python-client",
                                         force=True, _content_type="application/apply-patch+yaml")
    w = watch.Watch()
    for ev in w.stream(ext.list_custom_resource_definition, field_selector=f"metadata.name={SM_CRD_NAME}",
                       timeout_seconds=WATCH_TIMEOUT):
        conds = {c.type: c.status for c in (ev["object"].status.conditions or [])}
        if conds.get("Established") == "True":
            w.stop()
            break
    else:
        pytest.fail("the ServiceMonitor CRD never became Established")
    assert conds.get("NamesAccepted") == "True"
    return client.CustomObjectsApi(api)


def smon(name: str, **spec: Any) -> Obj:
    return {"apiVersion": f"{SM_GROUP}/{SM_VERSION}", "kind": "ServiceMonitor",
            "metadata": {"name": name, "labels": {"team": "a"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "endpoints": [{"port": "http", "interval": "30s"}], **spec}}


def test_custom_objects_crud_and_status(servicemonitors: client.CustomObjectsApi, ns: str) -> None:
    co = servicemonitors
    args = (SM_GROUP, SM_VERSION, ns, SM_PLURAL)
    created = co.create_namespaced_custom_object(*args, smon("web"))
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    co.create_namespaced_custom_object(*args, {**smon("db"), "metadata": {"name": "db", "labels": {"team": "b"}}})

    listed = co.list_namespaced_custom_object(*args, label_selector="team=a")
    assert listed["kind"] == "ServiceMonitorList" and [i["metadata"]["name"] for i in listed["items"]] == ["web"]
    everywhere = co.list_cluster_custom_object(SM_GROUP, SM_VERSION, SM_PLURAL,
                                               field_selector=f"metadata.namespace={ns}")
    assert sorted(i["metadata"]["name"] for i in everywhere["items"]) == ["db", "web"]

    # The client's default patch type for custom objects is a JSON merge patch.
    patched = co.patch_namespaced_custom_object(*args[:3], SM_PLURAL, "web", {"spec": {"jobLabel": "app"}})
    assert patched["spec"]["jobLabel"] == "app" and patched["metadata"]["generation"] == 2
    # Strategic merge patch is not defined for custom resources: 415.
    with pytest.raises(ApiException) as ei:
        co.patch_namespaced_custom_object(*args[:3], SM_PLURAL, "web", {"spec": {"jobLabel": "x"}},
                                          _content_type="application/strategic-merge-patch+json")
    st = status_of(ei.value)
    assert (st["code"], st["reason"]) == (415, "UnsupportedMediaType")

    # With a status subresource, the main resource ignores status and /status ignores everything else.
    patched = co.patch_namespaced_custom_object(*args[:3], SM_PLURAL, "web", {"status": {"observedGeneration": 9}})
    assert "status" not in patched
    status = co.patch_namespaced_custom_object_status(*args[:3], SM_PLURAL, "web", {
        "status": {"observedGeneration": 2, "bindings": [{"name": "p", "resource": "prometheuses"}]},
        "spec": {"jobLabel": "ignored"}})
    assert status["status"]["observedGeneration"] == 2 and status["spec"]["jobLabel"] == "app"
    assert status["metadata"]["generation"] == 2
    assert co.get_namespaced_custom_object_status(*args[:3], SM_PLURAL, "web")["status"]["observedGeneration"] == 2

    full = co.get_namespaced_custom_object(*args[:3], SM_PLURAL, "web")
    full["spec"]["sampleLimit"] = 100
    replaced = co.replace_namespaced_custom_object(*args[:3], SM_PLURAL, "web", full)
    assert replaced["spec"]["sampleLimit"] == 100 and replaced["status"]["observedGeneration"] == 2

    deleted = co.delete_namespaced_custom_object(*args[:3], SM_PLURAL, "web")
    assert deleted["metadata"]["name"] == "web"
    with pytest.raises(ApiException) as ei:
        co.get_namespaced_custom_object(*args[:3], SM_PLURAL, "web")
    st = status_of(ei.value)
    assert st["reason"] == "NotFound" and st["message"] == 'servicemonitors.monitoring.coreos.com "web" not found'


@pytest.mark.parametrize(("spec", "field", "reason"), [
    ({"endpoints": [{"port": "http", "scheme": "ftp"}]}, "spec.endpoints[0].scheme", "FieldValueNotSupported"),
    ({"sampleLimit": -1}, "spec.sampleLimit", "FieldValueInvalid"),
    ({"sampleLimit": "ten"}, "spec.sampleLimit", "FieldValueTypeInvalid"),
    ({"endpoints": "not-a-list"}, "spec.endpoints", "FieldValueTypeInvalid"),
    ({"endpoints": [{"interval": "thirty"}]}, "spec.endpoints[0].interval", "FieldValueInvalid"),
    ({"selector": None}, "spec.selector", "FieldValueRequired"),
])
def test_custom_object_schema_violation_is_422(servicemonitors: client.CustomObjectsApi, ns: str, spec: Obj,
                                               field: str, reason: str) -> None:
    body = smon("bad")
    body["spec"].update(spec)
    body["spec"] = {k: v for k, v in body["spec"].items() if v is not None}
    with pytest.raises(ApiException) as ei:
        servicemonitors.create_namespaced_custom_object(SM_GROUP, SM_VERSION, ns, SM_PLURAL, body)
    st = status_of(ei.value)
    assert (st["code"], st["reason"]) == (422, "Invalid")
    assert st["message"].startswith('ServiceMonitor.monitoring.coreos.com "bad" is invalid: ')
    assert st["details"]["group"] == SM_GROUP and st["details"]["kind"] == "ServiceMonitor"
    assert [(c["field"], c["reason"]) for c in st["details"]["causes"]] == [(field, reason)]
    with pytest.raises(ApiException) as ei:
        servicemonitors.get_namespaced_custom_object(SM_GROUP, SM_VERSION, ns, SM_PLURAL, "bad")
    assert ei.value.status == 404


def test_custom_objects_through_dynamic_client_and_watch(servicemonitors: client.CustomObjectsApi,
                                                         dyn: dynamic.DynamicClient, ns: str) -> None:
    rv = servicemonitors.list_namespaced_custom_object(SM_GROUP, SM_VERSION, ns, SM_PLURAL)["metadata"][
        "resourceVersion"]
    res = dynamic.DynamicClient(dyn.client).resources.get(api_version=f"{SM_GROUP}/{SM_VERSION}",
                                                          kind="ServiceMonitor")
    assert res.namespaced and res.short_names == ["smon"]
    applied = res.server_side_apply(body={**smon("ssa"), "metadata": {"name": "ssa", "namespace": ns}},
                                    field_manager="op")
    assert applied.spec.endpoints[0].port == "http"
    res.delete(name="ssa", namespace=ns)
    w = watch.Watch()
    events = collect(w.stream(servicemonitors.list_namespaced_custom_object, SM_GROUP, SM_VERSION, ns, SM_PLURAL,
                              resource_version=rv, timeout_seconds=WATCH_TIMEOUT), w, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "ssa"), ("DELETED", "ssa")]


# ---------------------------------------------------------------------------------------------------- authentication
def token_client(server: Server, token: str) -> client.ApiClient:
    """A client that authenticates with a bearer token only (no client certificate), trusting the server's CA."""
    kc = yaml.safe_load(server.kubeconfig.read_text())
    ca = base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"])
    ca_file = server.data_dir / "python-client-ca.crt"
    ca_file.write_bytes(ca)
    cfg = client.Configuration(host=server.url, api_key={"authorization": token},
                               api_key_prefix={"authorization": "Bearer"})
    cfg.ssl_ca_cert = str(ca_file)
    return client.ApiClient(cfg)


def test_bearer_token_authenticates(server: Server, ns: str) -> None:
    with token_client(server, server.token) as c:
        v1 = client.CoreV1Api(c)
        assert ns in [n.metadata.name for n in v1.list_namespace().items]
        review = client.AuthenticationV1Api(c).create_self_subject_review(client.V1SelfSubjectReview())
        assert review.status.user_info.username
        assert "system:authenticated" in review.status.user_info.groups


@pytest.mark.parametrize("token", ["wrong-token", "test-token-but-longer", "x"])
def test_wrong_bearer_token_is_401(server: Server, token: str) -> None:
    with token_client(server, token) as c:
        with pytest.raises(ApiException) as ei:
            client.CoreV1Api(c).list_namespace()
    st = status_of(ei.value)
    assert st == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_no_credentials_is_401(server: Server) -> None:
    with token_client(server, "") as c:
        c.configuration.api_key = {}
        with pytest.raises(ApiException) as ei:
            client.CoreV1Api(c).list_namespace()
    assert status_of(ei.value)["reason"] == "Unauthorized"
    with token_client(server, "") as c:
        c.configuration.api_key = {}
        assert client.VersionApi(c).get_code().git_version.startswith("v1.33.")


# -------------------------------------------------------------------------------------------------- kubernetes_asyncio
async def test_kubernetes_asyncio_list_and_watch(server: Server, ns: str) -> None:
    kasync = pytest.importorskip("kubernetes_asyncio")
    from kubernetes_asyncio import client as aclient
    from kubernetes_asyncio import config as aconfig
    from kubernetes_asyncio import watch as awatch
    cfg = aclient.Configuration()
    await aconfig.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    async with aclient.ApiClient(cfg) as c:
        v1 = aclient.CoreV1Api(c)
        rv = (await v1.list_namespaced_config_map(ns)).metadata.resource_version
        await v1.create_namespaced_config_map(ns, {"metadata": {"name": "async"}, "data": {"a": "1"}})
        w = awatch.Watch()
        async with w.stream(v1.list_namespaced_config_map, ns, resource_version=rv,
                            field_selector="metadata.name=async", timeout_seconds=WATCH_TIMEOUT) as stream:
            async for ev in stream:
                assert (ev["type"], ev["object"].metadata.name) == ("ADDED", "async")
                break
    assert kasync is not None
