"""Resource metrics and the HorizontalPodAutoscaler through the real kubectl, on simulated nodes.

The server runs three simulated nodes whose agent reports usage every second; its own controller manager is off
so the test runs one with a one-second HPA sync period. Pod usage is driven with the simulated runtime's
``sim.pybernetes.io/cpu-usage`` annotation.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.harness import Server, kubectl_binary, start_server

pytestmark = pytest.mark.integration
NODES = 3
CPU = "sim.pybernetes.io/cpu-usage"


def wait_until(what: str, fn: Callable[[], Any], timeout: float = 60.0, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = pathlib.Path(tmp_path_factory.mktemp("metrics"))
    old = os.environ.get("PYBERNETES_AGENT_METRICS_PERIOD_SECONDS")
    os.environ["PYBERNETES_AGENT_METRICS_PERIOD_SECONDS"] = "1"
    try:
        srv = start_server(data, "--simulated-nodes", str(NODES), "--disable-controller-manager")
    finally:
        if old is None:
            os.environ.pop("PYBERNETES_AGENT_METRICS_PERIOD_SECONDS", None)
        else:
            os.environ["PYBERNETES_AGENT_METRICS_PERIOD_SECONDS"] = old
    log = (data / "controller-manager.log").open("w")
    cm = subprocess.Popen([sys.executable, "-m", "pybernetes", "controller-manager", "--kubeconfig",
                           str(srv.kubeconfig), "--leader-elect", "false",
                           "--horizontal-pod-autoscaler-sync-period", "1s"], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield srv
    finally:
        cm.terminate()
        try:
            cm.wait(15)
        except subprocess.TimeoutExpired:
            cm.kill()
            cm.wait(5)
        log.close()
        rc = srv.stop()
        assert rc == 0, "server did not shut down cleanly:\n" + "".join(srv.log[-50:])


@pytest.fixture()
def ns(cluster: Server, request: pytest.FixtureRequest) -> str:
    name = "m-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:40].strip("-")
    cluster.create_namespace(name)
    return name


def table(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def running_pods(srv: Server, ns: str, n: int, selector: str = "") -> list[str]:
    def ready() -> list[str] | None:
        args = ["get", "pods", "-n", ns, "-o", "json"] + (["-l", selector] if selector else [])
        items = json.loads(srv.kubectl(*args).stdout)["items"]
        names = [p["metadata"]["name"] for p in items
                 if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
        return sorted(names) if len(names) == n and len(items) == n else None
    return wait_until(f"{n} running pods in {ns}", ready)  # type: ignore[no-any-return]


def deploy(srv: Server, ns: str, name: str, replicas: int, *, cpu_request: str = "100m") -> list[str]:
    srv.kubectl("create", "deployment", name, "--image=nginx:1.19.1", f"--replicas={replicas}", "-n", ns)
    srv.kubectl("set", "resources", "deployment", name, f"--requests=cpu={cpu_request},memory=64Mi", "-n", ns)
    srv.kubectl("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=60s")
    return running_pods(srv, ns, replicas, f"app={name}")


@pytest.mark.parametrize("version", ["1.32", "1.27", "1.33"])
def test_top_nodes(cluster: Server, version: str) -> None:
    def rows() -> list[list[str]] | None:
        p = cluster.kubectl("top", "nodes", version=version, check=False)
        got = table(p.stdout)
        return got if p.returncode == 0 and len(got) == NODES + 1 else None
    got = wait_until("metrics of every node", rows, timeout=90)
    header = ["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"] if version == "1.27" else \
        ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert got[0] == header
    for _, cpu, cpu_pct, memory, mem_pct in got[1:]:
        assert re.fullmatch(r"\d+m", cpu) and int(cpu[:-1]) >= 30, cpu          # the simulated system baseline
        assert re.fullmatch(r"\d+Mi", memory) and int(memory[:-2]) >= 290, memory
        assert cpu_pct.endswith("%") and mem_pct.endswith("%")
    labelled = table(cluster.kubectl("top", "nodes", "-l", f"kubernetes.io/hostname={got[1][0]}").stdout)
    assert [r[0] for r in labelled[1:]] == [got[1][0]]


def test_top_pods(cluster: Server, ns: str) -> None:
    names = deploy(cluster, ns, "web", 3)
    for name, usage in zip(names, ("250m", "40m", "120m"), strict=True):
        cluster.kubectl("annotate", "pod", name, f"{CPU}={usage}", "-n", ns)
    deploy(cluster, ns, "db", 1)

    def shown(args: tuple[str, ...], version: str | None = None, *, pods: int = 3
              ) -> Callable[[], list[list[str]] | None]:
        def get() -> list[list[str]] | None:
            p = cluster.kubectl("top", "pods", *args, version=version, check=False)
            rows = table(p.stdout) if p.returncode == 0 else []
            want = {"250m", "40m", "120m"}
            return rows if want <= {r[-2] for r in rows[1:]} and len(rows) > pods else None
        return get

    rows = wait_until("annotated usage in kubectl top", shown(("-n", ns, "--sort-by=cpu"), pods=4))
    assert rows[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert [r[1] for r in rows[1:4]] == ["250m", "120m", "40m"] and [r[0] for r in rows[1:4]] == \
        [names[0], names[2], names[1]]
    assert len(rows) == 5 and rows[4][0].startswith("db-")
    for r in rows[1:]:
        assert re.fullmatch(r"\d+Mi", r[2])
    labelled = wait_until("kubectl top -l", shown(("-n", ns, "-l", "app=web", "--containers")))
    assert labelled[0] == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert {r[0] for r in labelled[1:]} == set(names) and {r[1] for r in labelled[1:]} == {"nginx"}
    every = wait_until("kubectl top -A", shown(("-A",)))
    assert every[0][:2] == ["NAMESPACE", "NAME"] and {r[0] for r in every[1:] if r[1] in names} == {ns}
    for version in ("1.27", "1.33"):
        older = wait_until(f"kubectl {version} top", shown(("-n", ns, "--sort-by=cpu"), version))
        assert [r[1] for r in older[1:4]] == ["250m", "120m", "40m"]
    one = table(cluster.kubectl("top", "pod", names[0], "-n", ns).stdout)
    assert one[1][:2] == [names[0], "250m"]
    missing = cluster.kubectl("top", "pod", "nope", "-n", ns, check=False)
    assert missing.returncode != 0 and 'pods "nope" not found' in missing.stderr


def test_metrics_api_with_the_python_client(cluster: Server, ns: str) -> None:
    from kubernetes import client

    (name,) = deploy(cluster, ns, "api", 1)
    cluster.kubectl("annotate", "pod", name, f"{CPU}=300m", "sim.pybernetes.io/memory-usage=96Mi", "-n", ns)
    api = client.CustomObjectsApi(cluster.client())

    def fetched() -> dict[str, Any] | None:
        items = api.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", ns, "pods",
                                                  label_selector="app=api")["items"]
        return items[0] if items and items[0]["containers"][0]["usage"]["cpu"] == "300m" else None
    got = wait_until("pod metrics through the Python client", fetched)
    assert got["metadata"]["name"] == name and got["containers"][0]["usage"]["memory"] == "96Mi"
    assert re.fullmatch(r"\d+(\.\d+)?m?s", got["window"]) and got["timestamp"].endswith("Z")
    nodes = api.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")["items"]
    assert len(nodes) == NODES


def hpa_row(srv: Server, ns: str) -> list[str]:
    rows = table(srv.kubectl("get", "hpa", "web", "-n", ns).stdout)
    assert rows[0] == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    # TARGETS is "cpu: 80%/50%": two words
    return [*rows[1][:2], " ".join(rows[1][2:4]), *rows[1][4:]]


def replicas(srv: Server, ns: str) -> int:
    return int(srv.kubectl("get", "deployment", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout)


def test_hpa_scales_a_deployment_up_and_down(cluster: Server, ns: str) -> None:
    (pod,) = deploy(cluster, ns, "web", 1)
    out = cluster.kubectl("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=5", "-n", ns)
    assert "horizontalpodautoscaler.autoscaling/web autoscaled" in out.stdout
    low = wait_until("the HPA's first reading", lambda: re.fullmatch(r"cpu: \d%/50%", hpa_row(cluster, ns)[2]))
    assert low and replicas(cluster, ns) == 1
    watched = cluster.data_dir / f"{ns}-hpa-watch.txt"
    with watched.open("w") as sink:
        watch = subprocess.Popen([kubectl_binary(), "--kubeconfig", str(cluster.kubeconfig), "--cache-dir",
                                  str(cluster.data_dir / "kubectl-cache-default"), "get", "hpa", "web", "-n", ns,
                                  "-w"], stdout=sink, stderr=subprocess.STDOUT, env={**os.environ,
                                                                                      "HOME": str(cluster.data_dir)})
        try:
            wait_until("kubectl get hpa -w", lambda: len(watched.read_text().splitlines()) >= 2)
            cluster.kubectl("annotate", "pod", pod, f"{CPU}=80m", "-n", ns)      # 80% of the 100m request
            wait_until("a scale-up to 2", lambda: replicas(cluster, ns) == 2)
            wait_until("TARGETS at 80% in the watch", lambda: re.search(
                r"^web\s+Deployment/web\s+cpu: 80%/50%\s+1\s+5\s", watched.read_text(), re.M), timeout=30)
        finally:
            watch.terminate()
            watch.wait(10)
    running_pods(cluster, ns, 2, "app=web")
    row = wait_until("two replicas in the HPA status", lambda: (r := hpa_row(cluster, ns))[5] == "2" and r)
    assert row[:2] == ["web", "Deployment/web"] and row[3:5] == ["1", "5"]
    assert re.fullmatch(r"cpu: \d+%/50%", row[2])
    described = cluster.kubectl("describe", "hpa", "web", "-n", ns).stdout
    assert "New size: 2; reason: cpu resource utilization (percentage of request) above target" in described
    assert re.search(r"ScalingActive\s+True\s+ValidMetricFound", described)
    # down again: no stabilization window, usage back to the simulated default
    cluster.kubectl("patch", "hpa", "web", "-n", ns, "--type=merge", "-p",
                    '{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":0}}}}')
    cluster.kubectl("annotate", "pod", pod, f"{CPU}-", "-n", ns)
    wait_until("a scale-down to 1", lambda: replicas(cluster, ns) == 1)
    described = cluster.kubectl("describe", "hpa", "web", "-n", ns).stdout
    assert "New size: 1; reason: All metrics below target" in described
    hpa = json.loads(cluster.kubectl("get", "hpa.v2.autoscaling", "web", "-n", ns, "-o", "json").stdout)
    assert hpa["status"]["lastScaleTime"] and {c["type"] for c in hpa["status"]["conditions"]} == {
        "AbleToScale", "ScalingActive", "ScalingLimited"}


def test_hpa_reports_a_target_without_metrics(cluster: Server, ns: str) -> None:
    cluster.kubectl("create", "deployment", "web", "--image=nginx:1.19.1", "-n", ns)    # no CPU request
    cluster.kubectl("autoscale", "deployment", "web", "--cpu-percent=50", "--max=3", "-n", ns)

    def failed() -> str | None:       # first "no metrics returned" (the pod is new), then the missing request
        out = cluster.kubectl("describe", "hpa", "web", "-n", ns).stdout
        return out if "missing request for cpu in container nginx" in out else None
    out = wait_until("FailedGetResourceMetric for the missing request", failed)
    assert re.search(r"ScalingActive\s+False\s+FailedGetResourceMetric", out)
    assert hpa_row(cluster, ns)[2] == "cpu: <unknown>/50%"


WORKERS_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: workers.example.com
spec:
  group: example.com
  names: {kind: Worker, plural: workers, singular: worker}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas,
              labelSelectorPath: .status.selector}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


def test_hpa_scales_a_custom_resource_through_its_scale_subresource(cluster: Server, ns: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=WORKERS_CRD)
    wait_until("the Worker CRD served", lambda: cluster.kubectl("get", "workers", "-n", ns, check=False)
               .returncode == 0)
    cluster.kubectl("apply", "-n", ns, "-f", "-", input="apiVersion: example.com/v1\nkind: Worker\n"
                    "metadata: {name: w}\nspec: {replicas: 1}\n")
    cluster.kubectl("patch", "worker", "w", "-n", ns, "--subresource=status", "--type=merge", "-p",
                    '{"status":{"replicas":1,"selector":"app=worker"}}')
    cluster.kubectl("run", "worker-0", "--image=nginx:1.19.1", "--labels=app=worker", "-n", ns,
                    f"--annotations={CPU}=90m", "--overrides",
                    '{"spec":{"containers":[{"name":"worker-0","image":"nginx:1.19.1",'
                    '"resources":{"requests":{"cpu":"100m"}}}]}}')
    running_pods(cluster, ns, 1, "app=worker")
    cluster.kubectl("apply", "-n", ns, "-f", "-", input="""\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: w}
spec:
  scaleTargetRef: {apiVersion: example.com/v1, kind: Worker, name: w}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
""")

    def spec_replicas() -> int:
        return int(cluster.kubectl("get", "worker", "w", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout)
    wait_until("the Worker scaled to 2", lambda: spec_replicas() == 2)
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=w",
                             "-o", "jsonpath={.items[*].message}").stdout
    assert "New size: 2; reason: cpu resource utilization (percentage of request) above target" in events
