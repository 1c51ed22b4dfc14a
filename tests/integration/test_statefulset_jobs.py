"""StatefulSets, DaemonSets, Jobs and CronJobs end to end: the real kubectl against a server whose controller
manager runs the workload controllers and whose simulated nodes run the pods.

The server runs without its scheduler: a small binder thread below plays that part (binding each pending pod, a
DaemonSet pod to the node its affinity names), so these tests exercise the controllers, the API and the node agent
and nothing else.
"""

from __future__ import annotations

import calendar
import itertools
import json
import pathlib
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.harness import Server, start_server

pytestmark = pytest.mark.integration
Obj = dict[str, Any]
NODES = 2


# ---------------------------------------------------------------------------------------------------- fixtures
class Binder(threading.Thread):
    """Binds pending pods to the simulated nodes (round robin, or the node a DaemonSet pod is pinned to)."""

    def __init__(self, srv: Server) -> None:
        super().__init__(daemon=True, name="test-binder")
        from kubernetes import client
        self.core = client.CoreV1Api(srv.client())
        self.client = client
        self.stop = threading.Event()
        self.nodes = itertools.cycle([f"vm-sim-{i}" for i in range(NODES)])

    @staticmethod
    def pinned(pod: Any) -> str | None:
        na = pod.spec.affinity.node_affinity if pod.spec.affinity else None
        req = na.required_during_scheduling_ignored_during_execution if na else None
        for term in (req.node_selector_terms if req else None) or ():
            for f in term.match_fields or ():
                if f.key == "metadata.name" and f.operator == "In" and f.values:
                    return str(f.values[0])
        return None

    def run(self) -> None:
        c = self.client
        while not self.stop.wait(0.2):
            try:
                pending = self.core.list_pod_for_all_namespaces(field_selector="spec.nodeName=").items
            except Exception:                                     # the server is starting or stopping
                continue
            for pod in pending:
                if pod.metadata.deletion_timestamp:
                    continue
                node = self.pinned(pod) or next(self.nodes)
                body = c.V1Binding(metadata=c.V1ObjectMeta(name=pod.metadata.name),
                                   target=c.V1ObjectReference(api_version="v1", kind="Node", name=node))
                try:
                    self.core.create_namespaced_pod_binding(pod.metadata.name, pod.metadata.namespace, body,
                                                            _preload_content=False)
                except Exception:                                 # bound meanwhile, or deleted
                    pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(pathlib.Path(tmp_path_factory.mktemp("workloads")), "--simulated-nodes", str(NODES),
                       "--disable-scheduler")
    binder = Binder(srv)
    try:
        wait_for(lambda: len(get(srv, "nodes")["items"]) == NODES, timeout=30, what="simulated nodes")
        binder.start()
        yield srv
    finally:
        binder.stop.set()
        srv.stop()


@pytest.fixture()
def wns(cluster: Server, request: pytest.FixtureRequest) -> str:
    name = "w-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    cluster.create_namespace(name)     # with its default ServiceAccount and kube-root-ca.crt
    return name


def get(srv: Server, *args: str, ns: str | None = None) -> Obj:
    extra = ["-n", ns] if ns else []
    return json.loads(srv.kubectl("get", *args, *extra, "-o", "json").stdout)  # type: ignore[no-any-return]


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def pods(srv: Server, ns: str) -> dict[str, Obj]:
    return {p["metadata"]["name"]: p for p in get(srv, "pods", ns=ns)["items"]}


def ready_since(pod: Obj) -> str | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c["type"] == "Ready" and c["status"] == "True":
            return str(c["lastTransitionTime"])
    return None


STATEFULSET = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata: {name: nginx, labels: {app: nginx}}
    spec:
      clusterIP: None
      selector: {app: nginx}
      ports: [{port: 80, name: web}]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: web}
    spec:
      serviceName: nginx
      replicas: 3
      selector: {matchLabels: {app: nginx}}
      template:
        metadata: {labels: {app: nginx}}
        spec:
          containers: [{name: nginx, image: "registry.k8s.io/nginx-slim:0.8", ports: [{containerPort: 80}]}]
      volumeClaimTemplates:
      - metadata: {name: www}
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
    """)


# ---------------------------------------------------------------------------------------------------- StatefulSet
def test_statefulset_ordered_pods_with_claims_that_outlive_them(cluster: Server, wns: str) -> None:
    cluster.kubectl("apply", "-n", wns, "-f", "-", input=STATEFULSET)
    out = cluster.kubectl("rollout", "status", "sts/web", "-n", wns, "--timeout=60s", timeout=70).stdout
    assert "partitioned roll out complete: 3 new pods have been updated" in out
    found = pods(cluster, wns)
    assert sorted(found) == ["web-0", "web-1", "web-2"]
    for i in (1, 2):                                          # each started only once its predecessor was ready
        prev = ready_since(found[f"web-{i - 1}"])
        assert prev is not None and found[f"web-{i}"]["metadata"]["creationTimestamp"] >= prev
    for i, name in enumerate(sorted(found)):
        p = found[name]
        assert p["spec"]["hostname"] == name and p["spec"]["subdomain"] == "nginx"
        assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == name
        assert p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == str(i)
        vols = {v["name"]: v for v in p["spec"]["volumes"]}
        assert vols["www"]["persistentVolumeClaim"]["claimName"] == f"www-{name}"
    claims = {c["metadata"]["name"]: c["metadata"]["uid"] for c in get(cluster, "pvc", ns=wns)["items"]}
    assert sorted(claims) == ["www-web-0", "www-web-1", "www-web-2"]
    sts = get(cluster, "sts", "web", ns=wns)
    st = sts["status"]
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"], st["updatedReplicas"],
            st["availableReplicas"], st["observedGeneration"]) == (3, 3, 3, 3, 3, 1)
    assert st["currentRevision"] == st["updateRevision"] == found["web-0"]["metadata"]["labels"][
        "controller-revision-hash"]

    # A deleted pod comes back under the same name with the same claim.
    old_uid = found["web-1"]["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "web-1", "-n", wns, timeout=60)
    wait_for(lambda: (p := pods(cluster, wns).get("web-1")) is not None and p["metadata"]["uid"] != old_uid
             and ready_since(p), timeout=30, what="web-1 to be replaced")
    again = {c["metadata"]["name"]: c["metadata"]["uid"] for c in get(cluster, "pvc", ns=wns)["items"]}
    assert again == claims

    # Scale down: the highest ordinal goes first, one at a time; the claims stay.
    cluster.kubectl("scale", "sts/web", "--replicas=1", "-n", wns)
    seen: list[set[str]] = []

    def scaled() -> bool:
        alive = {n for n, p in pods(cluster, wns).items() if not p["metadata"].get("deletionTimestamp")}
        seen.append(alive)
        return alive == {"web-0"}

    wait_for(scaled, timeout=60, what="scale down to web-0", interval=0.1)
    assert all(not ("web-2" in s and "web-1" not in s) for s in seen), seen
    assert sorted(c["metadata"]["name"] for c in get(cluster, "pvc", ns=wns)["items"]) == sorted(claims)


def test_statefulset_rolling_update_and_history(cluster: Server, wns: str) -> None:
    cluster.kubectl("apply", "-n", wns, "-f", "-", input=STATEFULSET.replace("replicas: 3", "replicas: 2"))
    cluster.kubectl("rollout", "status", "sts/web", "-n", wns, "--timeout=60s", timeout=70)
    cluster.kubectl("set", "image", "sts/web", "nginx=registry.k8s.io/nginx-slim:0.9", "-n", wns)
    out = cluster.kubectl("rollout", "status", "sts/web", "-n", wns, "--timeout=60s", version="1.27",
                          timeout=70).stdout
    assert "partitioned roll out complete: 2 new pods have been updated" in out
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods(cluster, wns).items()}
    assert images == {"web-0": "registry.k8s.io/nginx-slim:0.9", "web-1": "registry.k8s.io/nginx-slim:0.9"}
    revisions = get(cluster, "controllerrevisions", ns=wns)["items"]
    assert sorted(r["revision"] for r in revisions) == [1, 2]
    history = cluster.kubectl("rollout", "history", "sts/web", "-n", wns).stdout
    assert "REVISION" in history and "1 " in history and "2 " in history


# ---------------------------------------------------------------------------------------------------- DaemonSet
def test_daemonset_runs_one_pod_per_node(cluster: Server, wns: str) -> None:
    cluster.kubectl("apply", "-n", wns, "-f", "-", input=textwrap.dedent("""\
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent}
        spec:
          selector: {matchLabels: {app: agent}}
          template:
            metadata: {labels: {app: agent}}
            spec:
              containers: [{name: agent, image: "registry.k8s.io/pause:3.9"}]
        """))
    out = cluster.kubectl("rollout", "status", "ds/agent", "-n", wns, "--timeout=60s", timeout=70).stdout
    assert 'daemon set "agent" successfully rolled out' in out
    nodes = sorted(p["spec"]["nodeName"] for p in pods(cluster, wns).values())
    assert nodes == [f"vm-sim-{i}" for i in range(NODES)]
    st = get(cluster, "ds", "agent", ns=wns)["status"]
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"],
            st["numberAvailable"], st["updatedNumberScheduled"], st["numberMisscheduled"]) == (NODES, NODES, NODES,
                                                                                               NODES, NODES, 0)


# ---------------------------------------------------------------------------------------------------- Job
def job_yaml(name: str, *, completions: int, parallelism: int, command: str, backoff: int = 6,
             extra: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: batch/v1
        kind: Job
        metadata: {{name: {name}}}
        spec:
          completions: {completions}
          parallelism: {parallelism}
          backoffLimit: {backoff}
          {extra}
          template:
            spec:
              restartPolicy: Never
              containers: [{{name: c, image: busybox, command: ["sh", "-c", "{command}"]}}]
        """)


def test_job_with_completions_and_parallelism_completes(cluster: Server, wns: str) -> None:
    cluster.kubectl("apply", "-n", wns, "-f", "-", input=job_yaml("pi", completions=3, parallelism=2,
                                                                  command="sleep 1"))
    most_active = 0

    def done() -> bool:
        nonlocal most_active
        st = get(cluster, "job", "pi", ns=wns).get("status") or {}
        most_active = max(most_active, st.get("active", 0))
        return any(c["type"] == "Complete" and c["status"] == "True" for c in st.get("conditions") or ())

    wait_for(done, timeout=60, what="job pi to complete")
    cluster.kubectl("wait", "--for=condition=complete", "job/pi", "-n", wns, "--timeout=10s")
    st = get(cluster, "job", "pi", ns=wns)["status"]
    assert st["succeeded"] == 3 and st.get("failed", 0) == 0 and st["uncountedTerminatedPods"] == {}
    assert [c["type"] for c in st["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert st["completionTime"] >= st["startTime"]
    assert most_active <= 2
    finished = pods(cluster, wns)
    assert len(finished) == 3
    assert all(p["status"]["phase"] == "Succeeded" and not p["metadata"].get("finalizers")
               for p in finished.values())
    table = cluster.kubectl("get", "job", "pi", "-n", wns).stdout
    assert "3/3" in table and "Complete" in table


def test_failing_job_hits_backoff_limit(cluster: Server, wns: str) -> None:
    cluster.kubectl("apply", "-n", wns, "-f", "-", input=job_yaml("fails", completions=1, parallelism=1,
                                                                  command="exit 1", backoff=1))
    cluster.kubectl("wait", "--for=condition=failed", "job/fails", "-n", wns, "--timeout=60s", timeout=70)
    st = get(cluster, "job", "fails", ns=wns)["status"]
    failed = next(c for c in st["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded",
                                                      "Job has reached the specified backoff limit")
    assert st["failed"] == 2 and not st.get("active")
    events = cluster.kubectl("get", "events", "-n", wns, "--field-selector", "involvedObject.name=fails").stdout
    assert "BackoffLimitExceeded" in events


def test_indexed_job_and_ttl_after_finished(cluster: Server, wns: str) -> None:
    cluster.kubectl("apply", "-n", wns, "-f", "-", input=job_yaml(
        "idx", completions=3, parallelism=3, command="true",
        extra="completionMode: Indexed\n          ttlSecondsAfterFinished: 2"))
    cluster.kubectl("wait", "--for=condition=complete", "job/idx", "-n", wns, "--timeout=60s", timeout=70)
    indexes = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                     for p in pods(cluster, wns).values())
    assert indexes == ["0", "1", "2"]
    wait_for(lambda: not get(cluster, "jobs", ns=wns)["items"], timeout=30, what="the TTL to delete the job")


# ---------------------------------------------------------------------------------------------------- CronJob
def test_cronjob_creates_jobs_on_schedule(cluster: Server, wns: str) -> None:
    cluster.kubectl("apply", "-n", wns, "-f", "-", input=textwrap.dedent("""\
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: hello}
        spec:
          schedule: "@every 3s"
          concurrencyPolicy: Forbid
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: OnFailure
                  containers: [{name: c, image: busybox, command: ["sh", "-c", "date"]}]
        """))
    cj = get(cluster, "cronjob", "hello", ns=wns)
    job = wait_for(lambda: next(iter(get(cluster, "jobs", ns=wns)["items"]), None), timeout=30,
                   what="the CronJob's first Job")
    scheduled = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    minutes = calendar.timegm(time.strptime(scheduled, "%Y-%m-%dT%H:%M:%SZ")) // 60
    assert job["metadata"]["name"] == f"hello-{minutes}"
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("CronJob", "hello", cj["metadata"]["uid"],
                                                                         True)
    cluster.kubectl("wait", "--for=condition=complete", f"job/{job['metadata']['name']}", "-n", wns,
                    "--timeout=60s", timeout=70)
    st = wait_for(lambda: (s := get(cluster, "cronjob", "hello", ns=wns).get("status") or {}).get(
        "lastSuccessfulTime") and s, timeout=30, what="lastSuccessfulTime")
    assert st["lastScheduleTime"] <= st["lastSuccessfulTime"]
    table = cluster.kubectl("get", "cronjob", "hello", "-n", wns).stdout
    assert "@every 3s" in table
    cluster.kubectl("patch", "cronjob", "hello", "-n", wns, "-p", '{"spec":{"suspend":true}}')
