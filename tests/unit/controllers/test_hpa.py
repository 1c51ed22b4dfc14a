"""The HorizontalPodAutoscaler controller on the fake API: scale reads and writes, status, conditions, events.

The scale client reads and writes Deployments through the fake API with the API server's own Scale conversion;
the metrics client answers from a table the test sets, the way upstream's tests fake the metrics API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.api.meta import format_rfc3339
from pybernetes.client.resources import DEPLOYMENTS, HPAS, PODS, RCS, REPLICASETS, STATEFULSETS, ResourceRef
from pybernetes.controllers.hpa import HorizontalPodAutoscalerController
from pybernetes.controllers.hpa_clients import RESTScaleClient
from pybernetes.controllers.hpa_replicas import HPAError, PodMetric, PodMetricsInfo

Obj = dict[str, Any]
KEY = "ns/web"
CPU_NAME = "cpu resource utilization (percentage of request)"


class FakeMetrics:
    """Per-pod usage in milli-units by resource; ``error`` makes every read fail with it."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.usage: dict[str, dict[str, int]] = {"cpu": {}, "memory": {}}
        self.error: str | None = None
        self.calls: list[tuple[str, str, str]] = []

    async def resource_metric(self, resource: str, namespace: str, selector: str, container: str
                              ) -> tuple[PodMetricsInfo, datetime]:
        self.calls.append((resource, namespace, selector))
        if self.error:
            raise HPAError(self.error)
        now = self.clock.now()
        got = {p: PodMetric(now, 15.0, v) for p, v in self.usage[resource].items()}
        if not got:
            raise HPAError("no metrics returned from resource metrics API")
        return got, now

    async def pods_metric(self, *a: Any) -> tuple[PodMetricsInfo, datetime]:
        raise HPAError("unable to fetch metrics from custom metrics API: the server could not find the requested "
                       "resource")

    async def object_metric(self, *a: Any) -> tuple[int, datetime]:
        raise HPAError("unable to fetch metrics from custom metrics API: the server could not find the requested "
                       "resource")

    async def external_metric(self, *a: Any) -> tuple[list[int], datetime]:
        raise HPAError("unable to fetch metrics from external metrics API: the server could not find the "
                       "requested resource")


class FakeScales(RESTScaleClient):
    """Discovery from the fake API (its RESTMapper), and the Scale view of objects as the API server makes it."""

    def __init__(self, h: Harness) -> None:
        super().__init__(h.client, clock=h.clock)      # type: ignore[arg-type]
        self.fake = h.client
        self.updates: list[int] = []

    async def get(self, ref: ResourceRef, namespace: str, name: str) -> Obj:
        from pybernetes.apiserver.subresources import to_scale
        obj = await self.fake.get(ref, name, namespace, subresource="scale")
        res = self.fake.registry.get(ref.group, ref.version, ref.plural)
        assert res is not None
        return to_scale(res, obj)

    async def update(self, ref: ResourceRef, namespace: str, scale: Obj) -> Obj:
        obj = await self.fake.get(ref, scale["metadata"]["name"], namespace)
        obj["spec"]["replicas"] = scale["spec"]["replicas"]
        obj["metadata"]["resourceVersion"] = scale["metadata"]["resourceVersion"]
        self.updates.append(scale["spec"]["replicas"])
        return await self.fake.update(ref, obj)


class World:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.metrics = FakeMetrics(h.clock)
        self.scales = FakeScales(h)
        self.ctl = HorizontalPodAutoscalerController(h.ctx, metrics=self.metrics, scales=self.scales)

    async def deployment(self, replicas: int, name: str = "web") -> None:
        await self.h.client.create(DEPLOYMENTS, {"metadata": {"name": name, "namespace": "ns"}, "spec": {
            "replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}, "ns")

    async def pods(self, n: int, *, app: str = "web", cpu: str = "100m", memory: str | None = "64Mi",
                   start: int = 0) -> None:
        for i in range(start, start + n):
            requests = {"cpu": cpu} if cpu else {}
            if memory:
                requests["memory"] = memory
            name = f"{app}-{i}"
            await self.h.client.create(PODS, {"metadata": {"name": name, "namespace": "ns", "labels": {"app": app}},
                                              "spec": {"nodeName": "n1", "containers": [
                                                  {"name": "c", "image": "nginx",
                                                   "resources": {"requests": requests}}]}}, "ns")
            p = await self.h.client.get(PODS, name, "ns")
            p["status"] = {"phase": "Running", "startTime": "2025-01-01T00:00:00Z", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:10Z"}]}
            await self.h.client.update(PODS, p, subresource="status")

    async def hpa(self, *, name: str = "web", target: str = "web", kind: str = "Deployment",
                  api_version: str = "apps/v1", min_replicas: int = 1, max_replicas: int = 10,
                  metrics: list[Obj] | None = None, behavior: Obj | None = None) -> None:
        spec: Obj = {"scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": target},
                     "minReplicas": min_replicas, "maxReplicas": max_replicas,
                     "metrics": metrics if metrics is not None else [cpu(50)]}
        if behavior is not None:
            spec["behavior"] = behavior
        await self.h.client.create(HPAS, {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}, "ns")

    async def sync(self, key: str = KEY, *, after: float = 15.0) -> float | None:
        self.h.clock.advance(after)
        await self.h.settle()
        out = await self.ctl.reconcile(key)
        await self.h.settle()
        return out

    def replicas(self, name: str = "web") -> int:
        got = self.h.client.peek(DEPLOYMENTS, name, "ns")
        assert got is not None
        return int(got["spec"]["replicas"])

    def status(self, name: str = "web") -> Obj:
        got = self.h.client.peek(HPAS, name, "ns")
        assert got is not None
        return got["status"]  # type: ignore[no-any-return]

    def conditions(self, name: str = "web") -> dict[str, tuple[str, str, str]]:
        return {c["type"]: (c["status"], c["reason"], c["message"]) for c in self.status(name).get("conditions")
                or ()}

    def events(self, reason: str | None = None) -> list[str]:
        return [e.message for e in self.h.recorder.events
                if (reason is None or e.reason == reason) and e.component == "horizontal-pod-autoscaler"]


def cpu(utilization: int) -> Obj:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                       "averageUtilization": utilization}}}


async def world(h: Harness) -> World:
    w = World(h)
    await h.start()
    return w


async def test_scale_up_writes_scale_status_conditions_and_an_event() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(1)
        await w.pods(1)
        await w.hpa()
        w.metrics.usage["cpu"] = {"web-0": 80}
        assert await w.sync() == 15.0
        assert w.replicas() == 2
        st = w.status()
        assert st["currentReplicas"] == 1 and st["desiredReplicas"] == 2
        assert st["lastScaleTime"] == format_rfc3339(h.clock.now())
        assert st["currentMetrics"] == [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageValue": "80m", "averageUtilization": 80}}}]
        assert w.conditions() == {
            "AbleToScale": ("True", "SucceededRescale", "the HPA controller was able to update the target scale to 2"),
            "ScalingActive": ("True", "ValidMetricFound",
                              f"the HPA was able to successfully calculate a replica count from {CPU_NAME}"),
            "ScalingLimited": ("False", "DesiredWithinRange", "the desired count is within the acceptable range")}
        assert w.events("SuccessfulRescale") == [f"New size: 2; reason: {CPU_NAME} above target"]
        assert w.metrics.calls == [("cpu", "ns", "app=web")]


async def test_scale_up_is_limited_to_double_or_four_without_behavior() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(1)
        await w.pods(1)
        await w.hpa(max_replicas=20)
        w.metrics.usage["cpu"] = {"web-0": 1000}
        await w.sync()
        assert w.replicas() == 4
        assert w.conditions()["ScalingLimited"] == (
            "True", "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
        assert w.status()["desiredReplicas"] == 4


async def test_max_replicas_bound() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(3)
        await w.pods(3)
        await w.hpa(max_replicas=5)
        w.metrics.usage["cpu"] = {f"web-{i}": 100 for i in range(3)}
        await w.sync()
        assert w.replicas() == 5
        assert w.conditions()["ScalingLimited"][:2] == ("True", "TooManyReplicas")


async def test_within_tolerance_nothing_changes_and_status_is_written_once() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(2)
        await w.pods(2)
        await w.hpa()
        w.metrics.usage["cpu"] = {"web-0": 52, "web-1": 50}
        await w.sync()
        assert w.replicas() == 2 and w.scales.updates == []
        assert w.conditions()["AbleToScale"] == ("True", "ReadyForNewScale", "recommended size matches current size")
        assert "lastScaleTime" not in w.status()
        writes = h.client.count("update", "horizontalpodautoscalers.autoscaling", subresource="status")
        await w.sync()
        assert h.client.count("update", "horizontalpodautoscalers.autoscaling", subresource="status") == writes


async def test_scale_down_waits_for_the_stabilization_window_without_behavior() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(4)
        await w.pods(4)
        await w.hpa()
        w.metrics.usage["cpu"] = {f"web-{i}": 50 for i in range(4)}
        await w.sync()                                 # records 4 as a recent proposal
        w.metrics.usage["cpu"] = {f"web-{i}": 10 for i in range(4)}
        await w.sync()
        assert w.replicas() == 4
        assert w.conditions()["AbleToScale"][:2] == ("True", "ScaleDownStabilized")
        await w.sync(after=290)                        # the proposal of 4 is 305 s old now
        assert w.replicas() == 1
        assert w.events("SuccessfulRescale") == ["New size: 1; reason: All metrics below target"]


async def test_behavior_scale_down_policy_and_window() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(10)
        await w.pods(10)
        await w.hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                            "policies": [{"type": "Pods", "value": 3, "periodSeconds": 60}]}})
        w.metrics.usage["cpu"] = {f"web-{i}": 5 for i in range(10)}
        await w.sync()
        assert w.replicas() == 7
        assert w.conditions()["ScalingLimited"] == (
            "True", "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
        await w.sync()                                 # 3 removed within the last 60 s: no further step yet
        assert w.replicas() == 7
        await w.sync(after=50)
        assert w.replicas() == 4


async def test_behavior_scale_up_stabilization_takes_the_lowest_recent_proposal() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(2)
        await w.pods(2)
        await w.hpa(behavior={"scaleUp": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                                          "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}})
        w.metrics.usage["cpu"] = {"web-0": 60, "web-1": 60}
        await w.sync()                                 # proposes 3, but 2 (the first sight) is recent
        assert w.replicas() == 2
        assert w.conditions()["AbleToScale"][:2] == ("True", "ScaleUpStabilized")
        await w.sync(after=61)
        assert w.replicas() == 3


async def test_missing_metrics_report_failed_get_resource_metric() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(2)
        await w.pods(2)
        await w.hpa()
        await w.sync()
        inner = "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from " \
                "resource metrics API"
        assert w.events("FailedGetResourceMetric") == [inner]
        assert w.events("FailedComputeMetricsReplicas") == [
            f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {inner}"]
        assert w.conditions()["ScalingActive"] == ("False", "FailedGetResourceMetric",
                                                   f"the HPA was unable to compute the replica count: {inner}")
        st = w.status()
        assert st["currentReplicas"] == 2 and st["desiredReplicas"] == 0
        assert st["currentMetrics"] == [{"type": ""}]
        assert w.replicas() == 2


async def test_missing_request_is_reported() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(1)
        await w.pods(1, cpu="")
        await w.hpa()
        w.metrics.usage["cpu"] = {"web-0": 80}
        await w.sync()
        assert w.conditions()["ScalingActive"] == (
            "False", "FailedGetResourceMetric", "the HPA was unable to compute the replica count: failed to get cpu "
            "utilization: missing request for cpu in container c of Pod web-0")


async def test_memory_average_value_target() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(2)
        await w.pods(2)
        await w.hpa(metrics=[{"type": "Resource", "resource": {"name": "memory", "target": {
            "type": "AverageValue", "averageValue": "100Mi"}}}])
        mi = 1 << 20
        w.metrics.usage["memory"] = {"web-0": 250 * mi * 1000, "web-1": 150 * mi * 1000}
        await w.sync()
        assert w.replicas() == 4
        assert w.status()["currentMetrics"] == [{"type": "Resource", "resource": {
            "name": "memory", "current": {"averageValue": "209715200"}}}]     # DecimalSI, as upstream prints it
        assert w.events("SuccessfulRescale") == ["New size: 4; reason: memory resource above target"]


async def test_largest_metric_wins_and_failing_custom_metrics_do_not_block_a_scale_up() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(2)
        await w.pods(2)
        await w.hpa(metrics=[cpu(50), {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
            "type": "AverageValue", "averageValue": "10"}}}])
        w.metrics.usage["cpu"] = {"web-0": 100, "web-1": 100}
        await w.sync()
        assert w.replicas() == 4
        assert w.conditions()["ScalingActive"][:2] == ("True", "ValidMetricFound")
        assert w.events("FailedGetPodsMetric") == ["unable to get metric qps: unable to fetch metrics from custom "
                                                   "metrics API: the server could not find the requested resource"]
        assert w.status()["currentMetrics"][1] == {"type": ""}


@pytest.mark.parametrize(("replicas", "lo", "hi", "want", "reason"), [
    (12, 1, 10, 10, "Current number of replicas above Spec.MaxReplicas"),
    (1, 3, 10, 3, "Current number of replicas below Spec.MinReplicas"),
])
async def test_out_of_bounds_targets_are_brought_back(replicas: int, lo: int, hi: int, want: int,
                                                     reason: str) -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(replicas)
        await w.hpa(min_replicas=lo, max_replicas=hi)
        await w.sync()
        assert w.replicas() == want
        assert w.events("SuccessfulRescale") == [f"New size: {want}; reason: {reason}"]
        assert w.metrics.calls == []


async def test_target_at_zero_disables_scaling() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(0)
        await w.hpa()
        await w.sync()
        assert w.replicas() == 0
        assert w.conditions()["ScalingActive"] == (
            "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")


@pytest.mark.parametrize(("kind", "target", "api_version", "message"), [
    ("Deployment", "nope", "apps/v1", 'deployments.apps "nope" not found'),
    ("Frobnicator", "web", "apps/v1", 'no matches for kind "Frobnicator" in group "apps"'),
    ("Deployment", "web", "a/b/c", "unexpected GroupVersion string: a/b/c"),
])
async def test_scale_target_errors(kind: str, target: str, api_version: str, message: str) -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(1)
        await w.hpa(kind=kind, target=target, api_version=api_version)
        await w.sync()
        assert w.events("FailedGetScale") == [message]
        assert w.conditions()["AbleToScale"] == (
            "False", "FailedGetScale", f"the HPA controller was unable to get the target's current scale: {message}")


async def test_pods_claimed_by_two_hpas_are_ambiguous() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(2)
        await w.pods(2)
        await w.hpa(name="a")
        await w.hpa(name="b")
        w.metrics.usage["cpu"] = {"web-0": 50, "web-1": 50}
        await w.sync("ns/a")                       # the first learns its selector
        await w.sync("ns/b")
        msg = "pods by selector app=web are controlled by multiple HPAs: [ns/a ns/b]"
        assert w.conditions("b")["ScalingActive"] == ("False", "AmbiguousSelector", msg)
        assert msg in w.events("AmbiguousSelector")


async def test_scale_without_a_selector_is_invalid() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(2)
        w.scales.get = _no_selector(w.scales.get)              # type: ignore[method-assign]
        await w.hpa()
        await w.sync()
        assert w.conditions()["ScalingActive"] == ("False", "InvalidSelector",
                                                   "the HPA target's scale is missing a selector")
        assert w.events("SelectorRequired") == ["selector is required"]


def _no_selector(get: Any) -> Any:
    async def wrapped(*a: Any) -> Obj:
        scale: Obj = await get(*a)
        scale["status"].pop("selector", None)
        return scale
    return wrapped


async def test_failed_rescale_is_reported() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(1)
        await w.pods(1)
        await w.hpa()
        w.metrics.usage["cpu"] = {"web-0": 100}
        from tests.unit.controllers.fakeclient import status_error
        h.client.fail("update", "deployments", status_error(409, "Conflict", "the object has been modified"))
        await w.sync()
        assert w.events("FailedRescale") == [f"New size: 2; reason: {CPU_NAME} above target; error: the object has "
                                             "been modified"]
        assert w.conditions()["AbleToScale"] == ("False", "FailedUpdateScale", "the HPA controller was unable to "
                                                 "update the target scale: the object has been modified")
        assert w.status()["currentReplicas"] == 1


async def test_deleted_hpa_is_forgotten_and_not_requeued() -> None:
    async with harness() as h:
        w = await world(h)
        await w.deployment(1)
        await w.pods(1)
        await w.hpa()
        w.metrics.usage["cpu"] = {"web-0": 50}
        await w.sync()
        assert KEY in w.ctl.history.recommendations
        await h.client.delete(HPAS, "web", "ns")
        await h.settle()
        assert await w.ctl.reconcile(KEY) is None
        assert KEY not in w.ctl.history.recommendations and KEY not in w.ctl.selectors


async def test_new_hpas_are_queued_with_the_sync_delay() -> None:
    async with harness(options={"hpa_sync_period": 3.0}) as h:
        w = await world(h)
        assert w.ctl.sync_period == 3.0
        await w.hpa()
        await h.settle()
        assert len(w.ctl.queue) == 0
        h.clock.advance(3.0)
        await h.settle()
        assert len(w.ctl.queue) == 1


@pytest.mark.parametrize(("ref", "api_version"), [(REPLICASETS, "apps/v1"), (STATEFULSETS, "apps/v1"), (RCS, "v1")])
async def test_any_kind_with_a_scale_subresource(ref: ResourceRef, api_version: str) -> None:
    async with harness() as h:
        w = await world(h)
        template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        selector: Obj = {"app": "web"} if ref is RCS else {"matchLabels": {"app": "web"}}
        await h.client.create(ref, {"metadata": {"name": "web", "namespace": "ns"}, "spec": {
            "replicas": 1, "selector": selector, "template": template}}, "ns")
        await w.pods(1)
        await w.hpa(kind=ref.kind, api_version=api_version)
        w.metrics.usage["cpu"] = {"web-0": 150}
        await w.sync()
        got = h.client.peek(ref, "web", "ns")
        assert got is not None and got["spec"]["replicas"] == 3
        assert w.metrics.calls == [("cpu", "ns", "app=web")]
