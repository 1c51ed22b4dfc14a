"""The HPA replica calculator, table-driven from upstream's ``replica_calculator_test.go`` cases.

Fixtures follow upstream's: pods ``test-pod-<i>`` with two containers that each request ``requests[i]``, Running and
Ready unless said otherwise, started at Go's zero time unless "hot" (just now) or "cool" (3 minutes ago); metrics
come as a PodMetricsList from the metrics API with one level per container; the testing tolerance is 0.1, the CPU
initialisation period 2 minutes and the initial readiness delay 10 seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pybernetes.api.meta import format_rfc3339
from pybernetes.controllers.hpa_replicas import (
    HPAError,
    PodMetric,
    Tuning,
    group_pods,
    per_pod_replicas,
    plain_metric_replicas,
    pod_metrics_info,
    pod_requests,
    resource_replicas,
    resource_utilization_ratio,
    usage_ratio_replicas,
)

Obj = dict[str, Any]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TUNING = Tuning(tolerance=0.1, cpu_initialization_period=120.0, delay_of_initial_readiness_status=10.0)
ZERO = "0001-01-01T00:00:00Z"
START = {None: ZERO, "hot": format_rfc3339(NOW), "cool": format_rfc3339(NOW - timedelta(minutes=3))}
T, F = "True", "False"


def pods(n: int, requests: list[str], *, ready: list[str] | None = None, start: list[str | None] | None = None,
         phase: list[str] | None = None, deleted: list[bool] | None = None) -> list[Obj]:
    out = []
    for i in range(n):
        containers = [{"name": "container1"}, {"name": "container2"}]
        if i < len(requests):
            for c in containers:
                c["resources"] = {"requests": {"cpu": requests[i]}}
        meta: Obj = {"name": f"test-pod-{i}", "namespace": "test-namespace", "labels": {"name": "test-pod"}}
        if deleted and deleted[i]:
            meta["deletionTimestamp"] = format_rfc3339(NOW)
        out.append({"metadata": meta, "spec": {"containers": containers},
                    "status": {"phase": phase[i] if phase else "Running",
                               "startTime": START[start[i] if start else None],
                               "conditions": [{"type": "Ready", "status": ready[i] if ready and i < len(ready)
                                               else "True"}]}})
    return out


def levels(*per_pod: int | list[int]) -> list[list[int]]:
    return [lv if isinstance(lv, list) else [lv, lv] for lv in per_pod]


def metrics_list(per_pod: list[list[int]]) -> list[Obj]:
    """What the metrics API returns: one PodMetrics per level row (containers in order), zero timestamp."""
    return [{"metadata": {"name": f"test-pod-{i}", "namespace": "test-namespace"}, "timestamp": None,
             "window": "1m0s", "containers": [{"name": f"container{j + 1}", "usage": {"cpu": f"{m}m"}}
                                              for j, m in enumerate(row)]}
            for i, row in enumerate(per_pod)]


RESOURCE_CASES = [
    # name, current, pods kwargs, levels, container, target, (replicas, utilization, raw)
    ("scale up", 3, dict(requests=["1.0"] * 3), levels(300, 500, 700), "", 30, (5, 50, 2 * 500)),
    ("scale up: container metric", 3, dict(requests=["1.0"] * 3), levels([1000, 300], [1000, 500], [1000, 700]),
     "container2", 30, (5, 50, 500)),
    ("scale up: unready pod scales less", 3, dict(requests=["1.0"] * 3, ready=[F, T, T]), levels(300, 500, 700), "",
     30, (4, 60, 2 * 600)),
    ("scale up: hot-CPU container scales less", 3, dict(requests=["1.0"] * 3, start=["hot", "cool", "cool"]),
     levels([0, 300], [0, 500], [0, 700]), "container2", 30, (4, 60, 600)),
    ("scale up: hot-CPU pod scales less", 3, dict(requests=["1.0"] * 3, start=["hot", "cool", "cool"]),
     levels(300, 500, 700), "", 30, (4, 60, 2 * 600)),
    ("no scale: unready pods ignored", 3, dict(requests=["1.0"] * 3, ready=[T, F, F]), levels(400, 500, 700), "",
     30, (3, 40, 2 * 400)),
    ("no scale: hot-CPU pods ignored", 3, dict(requests=["1.0"] * 3, ready=[T, F, F], start=["cool", "hot", "hot"]),
     levels(400, 500, 700), "", 30, (3, 40, 2 * 400)),
    ("scale up: failed pods ignored", 4, dict(requests=["1.0"] * 4, ready=[T, T, F, F],
                                              phase=["Running", "Running", "Failed", "Failed"]),
     levels(500, 700), "", 30, (4, 60, 2 * 600)),
    # Upstream's fixture for this case gives the failed pods metrics without container2; getContainerMetrics
    # (same here) rejects such a list outright, so the metrics client's error is what is asserted.
    ("scale up: failed pods ignored with missing container metric", 4,
     dict(requests=["1.0"] * 4, ready=[T, T, F, F], phase=["Running", "Running", "Failed", "Failed"]),
     levels([1000, 500], [9000, 700], [1000], [9000]), "container2", 30, None),
    ("scale up: pods being deleted are ignored", 4,
     dict(requests=["1.0"] * 4, ready=[T, T, F, F], deleted=[False, False, True, True]),
     levels(500, 700), "", 30, (4, 60, 2 * 600)),
    ("scale down", 5, dict(requests=["1.0"] * 5), levels(100, 300, 500, 250, 250), "", 50, (3, 28, 2 * 280)),
    ("scale down: container metric", 5, dict(requests=["1.0"] * 5),
     levels([1000, 100], [1000, 300], [1000, 500], [1000, 250], [1000, 250]), "container2", 50, (3, 28, 280)),
    ("scale down: exclude unready pods", 5, dict(requests=["1.0"] * 5, ready=[T, T, T, F, F]),
     levels(100, 300, 500, 250, 250), "", 50, (2, 30, 2 * 300)),
    ("scale down: exclude unscheduled pods", 5,
     dict(requests=["1.0"] * 5, ready=[T, F, F, F, F], phase=["Running"] + ["Pending"] * 4),
     levels(100), "", 50, (1, 10, 2 * 100)),
    ("scale down: ignore hot-CPU pods", 5,
     dict(requests=["1.0"] * 5, start=["cool", "cool", "cool", "hot", "hot"]),
     levels(100, 300, 500, 250, 250), "", 50, (2, 30, 2 * 300)),
    ("scale down: failed pods ignored", 7,
     dict(requests=["1.0"] * 7, ready=[T] * 5 + [F, F], phase=["Running"] * 5 + ["Failed"] * 2),
     levels(100, 300, 500, 250, 250), "", 50, (3, 28, 2 * 280)),
    ("scale down: still-running pods being deleted are ignored", 7,
     dict(requests=["1.0"] * 7, ready=[T] * 5 + [F, F], deleted=[False] * 5 + [True] * 2),
     levels([1000, 100], [1000, 300], [1000, 500], [1000, 250], [1000, 250]), "container2", 50, (3, 28, 280)),
    ("superfluous metrics", 4, dict(requests=["1.0"] * 4), levels(4000, 9500, 3000, 7000, 3200, 2000), "", 100,
     (24, 587, 2 * 5875)),
    ("missing metrics", 4, dict(requests=["1.0"] * 4), levels(400, 95), "", 100, (3, 24, 495)),
    ("missing metrics: no change (equal)", 2, dict(requests=["1.0"] * 2), levels(1000), "", 100, (2, 100, 2000)),
    ("missing metrics: no change (greater)", 2, dict(requests=["1.0"] * 2), levels(1900), "", 100, (2, 190, 3800)),
    ("missing metrics: no change (less)", 2, dict(requests=["1.0"] * 2), levels(600), "", 100, (2, 60, 1200)),
    ("missing metrics, unready: no change", 3, dict(requests=["1.0"] * 3, ready=[F, T, T]), levels(100, 450), "",
     50, (3, 45, 900)),
    ("missing metrics, hot CPU: no change", 3, dict(requests=["1.0"] * 3, start=["hot", "cool", "cool"]),
     levels(100, 450), "", 50, (3, 45, 900)),
    ("missing metrics, unready: scale up", 3, dict(requests=["1.0"] * 3, ready=[F, T, T]), levels(100, 2000), "",
     50, (4, 200, 4000)),
    ("missing metrics, hot CPU: scale up", 3, dict(requests=["1.0"] * 3, ready=[F, T, T],
                                                   start=["hot", "cool", "cool"]),
     levels(100, 2000), "", 50, (4, 200, 4000)),
    ("missing metrics, unready: scale down", 4, dict(requests=["1.0"] * 4, ready=[F, T, T, T]),
     levels(100, 100, 100), "", 50, (3, 10, 200)),
    ("missing metrics: scale down with a target over 100%", 4,
     dict(requests=["1.0", "1.0", "2.0", "2.0"], ready=[F, T, T, T]), levels(200, 100, 100), "", 300, (2, 6, 200)),
    ("rolling update with max surge", 2, dict(requests=["1.0"] * 3, phase=["Running"] * 3), levels(100, 100), "",
     50, (2, 10, 200)),
    ("tolerance", 3, dict(requests=["0.9", "1.0", "1.1"]), levels(1010, 1030, 1020), "", 100, (3, 102, 2 * 1020)),
]


@pytest.mark.parametrize(("name", "current", "spec", "lv", "container", "target", "want"), RESOURCE_CASES,
                         ids=[c[0] for c in RESOURCE_CASES])
def test_resource_replicas(name: str, current: int, spec: dict[str, Any], lv: list[list[int]], container: str,
                           target: int, want: tuple[int, int, int] | None) -> None:
    n = max(current, len(spec.get("phase") or ()), len(spec.get("deleted") or ()), len(spec.get("ready") or ()))
    if want is None:                 # a pod whose metrics lack the container is an error of the metrics client
        with pytest.raises(HPAError, match="container container2 not present in metrics for pod "
                                           "test-namespace/test-pod-2"):
            pod_metrics_info(metrics_list(lv), "cpu", container)
        return
    metrics = pod_metrics_info(metrics_list(lv), "cpu", container)
    got = resource_replicas(current_replicas=current, target_utilization=target, resource="cpu",
                            pods=pods(n, **spec), metrics=metrics, container=container, now=NOW, tuning=TUNING)
    assert got == want


@pytest.mark.parametrize(("tolerance", "lv", "want"), [
    (0.0, (909, 1010, 1111), 4),          # 0% tolerance: the smallest excess scales
    (0.1, (1890, 1910, 1900), 6),
    (2.0, (1890, 1910, 1900), 3),         # within a 200% tolerance
    (0.34, (660, 640, 650), 2),
    (0.36, (660, 640, 650), 3),
])
def test_tolerance(tolerance: float, lv: tuple[int, ...], want: int) -> None:
    metrics = pod_metrics_info(metrics_list(levels(*lv)), "cpu", "")
    got, _, _ = resource_replicas(current_replicas=3, target_utilization=100, resource="cpu",
                                  pods=pods(3, ["0.9", "1.0", "1.1"]), metrics=metrics, container="", now=NOW,
                                  tuning=Tuning(tolerance=tolerance, cpu_initialization_period=120,
                                                delay_of_initial_readiness_status=10))
    assert got == want


def test_computed_tolerance_regression() -> None:
    """Upstream ``TestReplicaCalcComputedToleranceAlgImplementation``: a minimal downscale just past tolerance."""
    start, used = 10, 1500
    requested = 2 * used
    per_pod = requested // start
    target = abs(1 / (2.0 * (1 - 0.1))) + 0.01
    final = -(-(used / (requested * target) * start) // 1)
    reqs = [f"{per_pod + d}m" for d in (100, -100, 10, -10, 2, -2, 1, -1, 0, 0)]
    ps = pods(start, reqs)
    for p in ps:                      # one request per pod here (upstream gives each of its 2 containers the same)
        p["spec"]["containers"] = p["spec"]["containers"][:1]
    lst = metrics_list([[used // 10]] * 10)
    metrics = pod_metrics_info(lst, "cpu", "")
    got, util, _ = resource_replicas(current_replicas=start, target_utilization=int(target * 100), resource="cpu",
                                     pods=ps, metrics=metrics, container="", now=NOW, tuning=TUNING)
    assert (got, util) == (int(final), 50)
    # a slightly higher target is within tolerance: no change
    metrics = pod_metrics_info(lst, "cpu", "")
    got, _, _ = resource_replicas(current_replicas=start, target_utilization=int(target * 100) - 5, resource="cpu",
                                  pods=ps, metrics=metrics, container="", now=NOW, tuning=TUNING)
    assert got == start


@pytest.mark.parametrize(("current", "lv", "requests", "error"), [
    (1, levels(200), [], "missing request for cpu in container container1 of Pod test-pod-0"),
    (3, [], ["1.0"] * 3, "did not receive metrics for targeted pods (pods might be unready)"),
    (0, levels(200), ["1.0"], "no pods returned by selector while calculating replica count"),
])
def test_resource_replicas_errors(current: int, lv: list[list[int]], requests: list[str], error: str) -> None:
    with pytest.raises(HPAError) as got:
        resource_replicas(current_replicas=current, target_utilization=100, resource="cpu",
                          pods=pods(current, requests), metrics=pod_metrics_info(metrics_list(lv), "cpu", ""),
                          container="", now=NOW, tuning=TUNING)
    assert str(got.value) == error


def test_requests_of_restartable_init_containers_count() -> None:
    p = pods(1, ["100m"])[0]
    p["spec"]["initContainers"] = [{"name": "sidecar", "restartPolicy": "Always",
                                    "resources": {"requests": {"cpu": "50m"}}},
                                   {"name": "setup"}]            # a plain init container is not counted
    assert pod_requests([p], "", "cpu") == {"test-pod-0": 250}
    assert pod_requests([p], "sidecar", "cpu") == {"test-pod-0": 50}


def test_metrics_client_view_skips_pods_missing_the_resource() -> None:
    lst = metrics_list(levels(100, 200))
    del lst[1]["containers"][1]["usage"]["cpu"]
    lst[0]["containers"][0]["usage"]["memory"] = lst[0]["containers"][1]["usage"]["memory"] = "32Mi"
    got = pod_metrics_info(lst, "cpu", "")
    assert list(got) == ["test-pod-0"] and got["test-pod-0"].value == 200 and got["test-pod-0"].window == 60.0
    assert pod_metrics_info(lst, "memory", "") == {"test-pod-0": PodMetric(got["test-pod-0"].timestamp, 60.0,
                                                                           64 * 2 ** 20 * 1000)}   # milli-bytes
    assert pod_metrics_info([{"metadata": {"name": "x"}, "containers": []}], "cpu", "") == {}


def test_utilization_ratio_integer_arithmetic() -> None:
    m = {"a": PodMetric(NOW, 60, 100), "b": PodMetric(NOW, 60, 0), "c": PodMetric(NOW, 60, 7)}
    assert resource_utilization_ratio(m, {"a": 300}, 50) == (33 / 50, 33, 100)      # 100·100/300 truncates
    assert resource_utilization_ratio(m, {"a": 300, "b": 300, "c": 300}, 50) == (11 / 50, 11, 35)
    with pytest.raises(HPAError, match="no metrics returned matched known pods"):
        resource_utilization_ratio(m, {"z": 1}, 50)


def test_cpu_readiness_after_the_initialisation_period() -> None:
    """Past the initialisation period a pod is unready only if it never became ready (still unready within the
    readiness delay of its start); before it, a sample taken within one window of readiness does not count."""
    started = NOW - timedelta(minutes=10)
    p = pods(1, ["1"])[0]
    p["status"]["startTime"] = format_rfc3339(started)
    cond = p["status"]["conditions"][0]
    metric = {"test-pod-0": PodMetric(NOW, 60, 500)}
    cond.update(status="False", lastTransitionTime=format_rfc3339(started + timedelta(seconds=5)))
    assert group_pods([p], metric, "cpu", now=NOW, tuning=TUNING).unready == {"test-pod-0"}     # never ready
    cond.update(lastTransitionTime=format_rfc3339(started + timedelta(minutes=5)))
    assert group_pods([p], metric, "cpu", now=NOW, tuning=TUNING).ready == 1    # was ready, went unready later
    assert group_pods([p], metric, "memory", now=NOW, tuning=TUNING).ready == 1
    p["status"]["startTime"] = format_rfc3339(NOW - timedelta(seconds=30))
    cond.update(status="True", lastTransitionTime=format_rfc3339(NOW - timedelta(seconds=20)))
    early = {"test-pod-0": PodMetric(NOW - timedelta(seconds=5), 60, 500)}
    assert group_pods([p], early, "cpu", now=NOW, tuning=TUNING).unready == {"test-pod-0"}
    late = {"test-pod-0": PodMetric(NOW, 15, 500)}
    assert group_pods([p], late, "cpu", now=NOW, tuning=TUNING).ready == 1


PLAIN_CASES = [
    # current, levels, target, pods kwargs, (replicas, usage)
    (3, [20000, 10000, 30000], 15000, {}, (4, 20000)),                      # scale up
    (5, [20000, 19000, 21000], 20000, {}, (5, 20000)),                      # missing metrics, no change
    (2, [10000, 10000], 17000, dict(phase=["Running"] * 3), (2, 10000)),     # rolling update with max surge
    (3, [12000, 12000, 12000], 20000, {}, (2, 12000)),                      # scale down
    (3, [20000, 21000, 21000], 20000, {}, (3, 20666)),                      # within tolerance
    (3, [30000, 30000], 10000, dict(phase=["Pending", "Running", "Running"]), (6, 30000)),   # unready on scale-up
]


@pytest.mark.parametrize(("current", "lv", "target", "spec", "want"), PLAIN_CASES)
def test_plain_metric_replicas(current: int, lv: list[int], target: int, spec: dict[str, Any],
                               want: tuple[int, int]) -> None:
    n = max(current, len(spec.get("phase") or ()))
    ps = pods(n, [], **spec)
    offset = n - len(lv)                                  # levels belong to the last pods (the Pending one has none)
    metrics = {f"test-pod-{i + offset if spec else i}": PodMetric(NOW, 60, v) for i, v in enumerate(lv)}
    assert plain_metric_replicas(current_replicas=current, target_usage=target, resource="", pods=ps,
                                 metrics=metrics, now=NOW, tuning=TUNING) == want


@pytest.mark.parametrize(("current", "ratio", "ready", "want"), [
    (3, 20666 / 20000, 3, 3), (3, 1.2, 3, 4), (3, 1.2, 1, 2), (0, 0.5, 0, 1), (0, 0.0, 0, 0), (0, 2.1, 0, 3),
])
def test_usage_ratio_replicas(current: int, ratio: float, ready: int, want: int) -> None:
    ps = pods(max(current, 1), [], ready=[T] * ready + [F] * (max(current, 1) - ready))
    assert usage_ratio_replicas(current_replicas=current, ratio=ratio, pods=ps, tuning=TUNING) == want


@pytest.mark.parametrize(("status", "usage", "target", "want"), [
    (4, 20208, 5000, (5, 5052)), (4, 20000, 5000, (4, 5000)), (3, 8600, 2800, (4, 2867)), (1, 500, 1000, (1, 500)),
])
def test_per_pod_replicas(status: int, usage: int, target: int, want: tuple[int, int]) -> None:
    tuning = Tuning(tolerance=0.01 if want == (5, 5052) or want == (4, 2867) else 0.1)
    assert per_pod_replicas(status_replicas=status, usage=usage, target_average=target, tuning=tuning) == want
