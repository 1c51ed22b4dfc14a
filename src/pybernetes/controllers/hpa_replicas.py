"""The HPA's replica calculator (upstream ``pkg/controller/podautoscaler/replica_calculator.go`` and
``metrics/utilization.go``): from per-pod metrics and the pods a target selects, how many replicas to want.

Pure functions over plain pod dicts and :data:`PodMetricsInfo`; the controller fetches, these decide. The rules
are upstream's, including the ones that make scaling cautious:

- ``desired = ceil(current × usage / target)``, but nothing changes while ``|1 − usage/target| ≤ tolerance``;
- pods being deleted or Failed are ignored; Pending pods, and (for CPU) pods that are not yet ready or whose
  sample may predate readiness, are *unready*;
- pods without metrics count as using nothing on a scale-up and their whole request (or the target, for targets
  above 100%) on a scale-down; unready pods count as using nothing on a scale-up; and if these assumptions flip
  the direction, or bring the ratio within tolerance, the replica count stays.

Values are milli-units, as upstream's ``MilliValue``: CPU millicores, memory milli-bytes. Integer arithmetic is
Go's (truncating division), since it decides results at the edges.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pybernetes.api.gotime import parse_go_duration
from pybernetes.api.meta import parse_time_or_none
from pybernetes.api.quantity import parse_quantity_json

Obj = dict[str, Any]


class HPAError(Exception):
    """A failure with upstream's message; callers wrap it with context as upstream's ``fmt.Errorf`` chains do."""


@dataclass(frozen=True, slots=True)
class PodMetric:
    timestamp: datetime
    window: float                       # seconds
    value: int                          # milli-units


PodMetricsInfo = dict[str, PodMetric]


@dataclass(frozen=True, slots=True)
class Tuning:
    """The controller-manager's HPA flags (upstream defaults)."""

    tolerance: float = 0.1
    cpu_initialization_period: float = 300.0          # --horizontal-pod-autoscaler-cpu-initialization-period
    delay_of_initial_readiness_status: float = 30.0   # --horizontal-pod-autoscaler-initial-readiness-delay


@dataclass(frozen=True, slots=True)
class Groups:
    ready: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


def _ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c  # type: ignore[no-any-return]
    return None


_ZERO = datetime(1, 1, 1, tzinfo=UTC)          # Go's zero time: what an unset timestamp compares as


def group_pods(pods: Iterable[Obj], metrics: Mapping[str, PodMetric], resource: str, *, now: datetime,
               tuning: Tuning) -> Groups:
    """``groupPods``: how many selected pods are ready with a metric, and which are unready, missing or ignored."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        name = meta.get("name", "")
        phase = status.get("phase")
        if meta.get("deletionTimestamp") or phase == "Failed":
            ignored.add(name)
            continue
        if phase == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = _ready_condition(pod)
            start = parse_time_or_none(status.get("startTime"))
            if cond is None or start is None:
                is_unready = True
            else:
                transition = parse_time_or_none(cond.get("lastTransitionTime")) or _ZERO
                if start + timedelta(seconds=tuning.cpu_initialization_period) > now:
                    # within the initialisation period: unready, or sampled before a full window of readiness
                    is_unready = cond.get("status") == "False" or \
                        metric.timestamp < transition + timedelta(seconds=metric.window)
                else:
                    # afterwards: only pods unready since (about) their start, i.e. never ready
                    is_unready = cond.get("status") == "False" and \
                        start + timedelta(seconds=tuning.delay_of_initial_readiness_status) > transition
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return Groups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def pod_requests(pods: Iterable[Obj], container: str, resource: str) -> dict[str, int]:
    """``calculatePodRequests``: each pod's request for ``resource`` in milli-units, summed over its containers
    (and restartable init containers), or one container's; a container without that request is an error."""
    out: dict[str, int] = {}
    for pod in pods:
        spec, name = pod.get("spec") or {}, (pod.get("metadata") or {}).get("name", "")
        containers = list(spec.get("containers") or ())
        containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
        total = 0
        for c in containers:
            if container and c.get("name") != container:
                continue
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise HPAError(f"missing request for {resource} in container {c.get('name', '')} of Pod {name}")
            total += parse_quantity_json(req).milli_value()
        out[name] = total
    return out


def _div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def resource_utilization_ratio(metrics: Mapping[str, PodMetric], requests: Mapping[str, int],
                               target_utilization: int) -> tuple[float, int, int]:
    """``GetResourceUtilizationRatio``: (usage/target, current utilization %, average raw value); metrics of pods
    without a request are extraneous and skipped."""
    metrics_total = requests_total = entries = 0
    for name, metric in metrics.items():
        if name not in requests:
            continue
        metrics_total += metric.value
        requests_total += requests[name]
        entries += 1
    if requests_total == 0:
        raise HPAError("no metrics returned matched known pods")
    utilization = _div(metrics_total * 100, requests_total)
    return utilization / target_utilization, utilization, _div(metrics_total, entries)


def metric_usage_ratio(metrics: Mapping[str, PodMetric], target_usage: int) -> tuple[float, int]:
    """``GetMetricUsageRatio``: (average/target, average)."""
    usage = _div(sum(m.value for m in metrics.values()), len(metrics))
    return usage / target_usage, usage


def _outside(ratio: float, tolerance: float) -> bool:
    return abs(1.0 - ratio) > tolerance


def _grouped(pods: list[Obj], metrics: PodMetricsInfo, resource: str, now: datetime, tuning: Tuning) -> Groups:
    """Group the pods and drop the metrics of ignored and unready ones (both calculators start so)."""
    if not pods:
        raise HPAError("no pods returned by selector while calculating replica count")
    g = group_pods(pods, metrics, resource, now=now, tuning=tuning)
    for name in g.ignored | g.unready:
        metrics.pop(name, None)
    if not metrics:
        raise HPAError("did not receive metrics for targeted pods (pods might be unready)")
    return g


def _replicas(*, current: int, ratio: float, g: Groups, metrics: PodMetricsInfo,
              ratio_of: Callable[[PodMetricsInfo], float], missing_on_scale_down: Callable[[str], int],
              now: datetime, tuning: Tuning) -> int:
    """The shared decision of both calculators once the usage ratio is known: scale by the ready pods when every
    pod counts; else assume the missing (``missing_on_scale_down`` on a scale-down, nothing on a scale-up) and,
    on a scale-up, the unready pods' usage, and keep the current count if that flips or settles the ratio."""
    scale_up_with_unready = bool(g.unready) and ratio > 1.0
    if not scale_up_with_unready and not g.missing:
        return current if not _outside(ratio, tuning.tolerance) else math.ceil(ratio * g.ready)
    if ratio < 1.0:
        for name in g.missing:
            metrics[name] = PodMetric(now, 0.0, missing_on_scale_down(name))
    elif ratio > 1.0:
        for name in g.missing:
            metrics[name] = PodMetric(now, 0.0, 0)
    if scale_up_with_unready:
        for name in g.unready:
            metrics[name] = PodMetric(now, 0.0, 0)
    new_ratio = ratio_of(metrics)
    if not _outside(new_ratio, tuning.tolerance) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current                  # fewer pods counted than run: the count would move against the ratio
    return replicas


def resource_replicas(*, current_replicas: int, target_utilization: int, resource: str, pods: list[Obj],
                      metrics: PodMetricsInfo, container: str, now: datetime, tuning: Tuning
                      ) -> tuple[int, int, int]:
    """``GetResourceReplicas`` after the fetch: (replicas, utilization %, raw average) for a Utilization target.
    ``metrics`` is modified (pods' assumed usage is filled in), as upstream modifies its map."""
    g = _grouped(pods, metrics, resource, now, tuning)
    requests = pod_requests(pods, container, resource)
    ratio, utilization, raw = resource_utilization_ratio(metrics, requests, target_utilization)
    fallback = max(100, target_utilization)     # a missing pod uses its request (or the target if above 100%)
    replicas = _replicas(current=current_replicas, ratio=ratio, g=g, metrics=metrics,
                         ratio_of=lambda m: resource_utilization_ratio(m, requests, target_utilization)[0],
                         missing_on_scale_down=lambda name: _div(requests[name] * fallback, 100), now=now,
                         tuning=tuning)
    return replicas, utilization, raw


def plain_metric_replicas(*, current_replicas: int, target_usage: int, resource: str, pods: list[Obj],
                          metrics: PodMetricsInfo, now: datetime, tuning: Tuning) -> tuple[int, int]:
    """``calcPlainMetricReplicas``: (replicas, average usage) for an AverageValue target (resource or pods
    metric; ``resource`` is "" for pods metrics, which skips the CPU readiness rules)."""
    g = _grouped(pods, metrics, resource, now, tuning)
    ratio, usage = metric_usage_ratio(metrics, target_usage)
    replicas = _replicas(current=current_replicas, ratio=ratio, g=g, metrics=metrics,
                         ratio_of=lambda m: metric_usage_ratio(m, target_usage)[0],
                         missing_on_scale_down=lambda _: target_usage, now=now, tuning=tuning)
    return replicas, usage


def ready_pod_count(pods: Iterable[Obj]) -> int:
    """Running and Ready pods (``getReadyPodsCount``)."""
    return sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running"
               and (_ready_condition(p) or {}).get("status") == "True")


def usage_ratio_replicas(*, current_replicas: int, ratio: float, pods: list[Obj], tuning: Tuning) -> int:
    """``getUsageRatioReplicaCount`` (object and external Value targets): from zero replicas, ``ceil(ratio)``."""
    if current_replicas == 0:
        return math.ceil(ratio)
    if not _outside(ratio, tuning.tolerance):
        return current_replicas
    if not pods:
        raise HPAError("unable to calculate ready pods: no pods returned by selector while calculating replica "
                       "count")
    return math.ceil(ratio * ready_pod_count(pods))


def per_pod_replicas(*, status_replicas: int, usage: int, target_average: int, tuning: Tuning) -> tuple[int, int]:
    """``GetObjectPerPodMetricReplicas``/``GetExternalPerPodMetricReplicas`` after the fetch: (replicas, usage
    per pod) for AverageValue targets of object and external metrics."""
    replicas = status_replicas
    ratio = usage / (target_average * replicas) if replicas else math.inf
    if _outside(ratio, tuning.tolerance):
        replicas = math.ceil(usage / target_average)
    per_pod = math.ceil(usage / status_replicas) if status_replicas else usage
    return replicas, per_pod


def pod_metrics_info(items: Iterable[Obj], resource: str, container: str) -> PodMetricsInfo:
    """The metrics client's view of a PodMetricsList: each pod's ``resource`` in milli-units, summed over its
    containers (a pod missing it in any container is left out), or one container's (``getContainerMetrics``:
    a pod without that container is an error)."""
    out: PodMetricsInfo = {}
    for m in items:
        meta = m.get("metadata") or {}
        ts = parse_time_or_none(m.get("timestamp")) or _ZERO
        window = _window_seconds(m.get("window"))
        containers = m.get("containers") or []
        if container:
            found = next((c for c in containers if c.get("name") == container), None)
            if found is None:
                raise HPAError(f"container {container} not present in metrics for pod "
                               f"{meta.get('namespace', '')}/{meta.get('name', '')}")
            value = (found.get("usage") or {}).get(resource)
            if value is not None:
                out[meta.get("name", "")] = PodMetric(ts, window, parse_quantity_json(value).milli_value())
            continue
        total, complete = 0, bool(containers)
        for c in containers:
            value = (c.get("usage") or {}).get(resource)
            if value is None:
                complete = False
                break
            total += parse_quantity_json(value).milli_value()
        if complete:
            out[meta.get("name", "")] = PodMetric(ts, window, total)
    return out


def _window_seconds(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return parse_go_duration(value) / 1e9
    except ValueError:
        return 0.0
