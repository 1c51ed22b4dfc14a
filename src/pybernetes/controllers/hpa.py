"""The HorizontalPodAutoscaler controller (upstream ``pkg/controller/podautoscaler/horizontal.go``).

Every sync period (15 s; ``hpa_sync_period``, ``--horizontal-pod-autoscaler-sync-period``) each autoscaling/v2
HPA is reconciled: read the target's ``/scale``, compute a replica count per metric from the metrics APIs
(:mod:`.hpa_replicas`), take the largest, stabilize and rate-limit it (:mod:`.hpa_behavior`), write the new
scale if it changed, and record the status — current/desired replicas, current metrics, ``lastScaleTime`` and
the ``AbleToScale``, ``ScalingActive`` and ``ScalingLimited`` conditions with upstream's reasons and messages —
with events (``SuccessfulRescale``, ``FailedGetResourceMetric``, ``FailedComputeMetricsReplicas``,
``FailedGetScale``, …) from the ``horizontal-pod-autoscaler`` component.

As upstream, an HPA is queued with the sync period as its delay, whatever the event (creating one acts within a
period), and a failed sync is not retried sooner: the error is reported (status, events, log) and the next
period tries again. Scaling history is in memory, per HPA, and forgotten when the HPA goes.
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime
from typing import Any, ClassVar

from pybernetes.api.meta import format_rfc3339
from pybernetes.api.quantity import Quantity, parse_quantity_json
from pybernetes.api.selectors import LabelSelector, label_selector_from_dict, parse_label_selector
from pybernetes.client.informer import key_of
from pybernetes.client.resources import HPAS, PODS, ResourceRef
from pybernetes.client.rest import APIStatusError
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.hpa_behavior import Rules, ScalingHistory
from pybernetes.controllers.hpa_clients import (
    MetricsClient,
    RESTMetricsClient,
    RESTScaleClient,
    ScaleClient,
    status_message,
)
from pybernetes.controllers.hpa_replicas import (
    HPAError,
    Tuning,
    per_pod_replicas,
    plain_metric_replicas,
    resource_replicas,
    usage_ratio_replicas,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
COMPONENT = "horizontal-pod-autoscaler"
NAMESPACE_INDEX = "namespace"
SOURCE_FIELDS = {"Object": "object", "Pods": "pods", "Resource": "resource", "ContainerResource": "containerResource",
                 "External": "external"}


class Failed(Exception):
    """A metric could not be computed: the error, and the ``ScalingActive`` condition to report for it."""

    def __init__(self, message: str, reason: str, condition_message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.condition_message = condition_message


def set_condition(status: Obj, type_: str, value: str, reason: str, message: str, now: str) -> None:
    """``setCondition``: update or append; the transition time moves only when the status changes."""
    conds: list[Obj] = status.setdefault("conditions", None) or []
    status["conditions"] = conds
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") != value:
                c["lastTransitionTime"] = now
            c.update(status=value, reason=reason, message=message)
            return
    conds.append({"type": type_, "status": value, "lastTransitionTime": now, "reason": reason, "message": message})


def _milli(value: int) -> str:
    return str(Quantity.from_milli(value))


def _selector(spec: Obj | None) -> str:
    return str(label_selector_from_dict(spec)) if spec else ""


class HorizontalPodAutoscalerController(Controller):
    name: ClassVar[str] = "horizontalpodautoscaling"
    workers: ClassVar[int] = 5                      # --concurrent-horizontal-pod-autoscaler-syncs

    def __init__(self, ctx: ControllerContext, *, metrics: MetricsClient | None = None,
                 scales: ScaleClient | None = None) -> None:
        super().__init__(ctx)
        opts = ctx.options
        self.sync_period = float(opts.get("hpa_sync_period", 15.0))
        self.downscale_window = float(opts.get("hpa_downscale_stabilization", 300.0))
        self.tuning = Tuning(tolerance=float(opts.get("hpa_tolerance", 0.1)),
                             cpu_initialization_period=float(opts.get("hpa_cpu_initialization_period", 300.0)),
                             delay_of_initial_readiness_status=float(opts.get("hpa_initial_readiness_delay", 30.0)))
        self.scales: ScaleClient = scales or RESTScaleClient(ctx.client, clock=ctx.clock)
        self.metrics: MetricsClient = metrics or RESTMetricsClient(ctx.client, self.scales)
        self.events = ctx.recorder.for_component(COMPONENT)
        self.history = ScalingHistory()
        # HPA key → the selector of its target's pods (None: not known yet, selects nothing), to find pods that
        # several HPAs claim (upstream's hpaSelectors).
        self.selectors: dict[str, LabelSelector | None] = {}
        self.hpas = ctx.informers.informer(HPAS)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_index(NAMESPACE_INDEX, lambda p: [(p.get("metadata") or {}).get("namespace", "")])
        self.hpas.add_handler(self._on_hpa, lambda _old, new: self._on_hpa(new), self._on_delete)

    # ------------------------------------------------------------------ events
    def _on_hpa(self, hpa: Obj) -> None:
        key = key_of(hpa)
        self.queue.add_after(key, self.sync_period)         # upstream queues every HPA with the resync delay
        self.selectors.setdefault(key, None)

    def _on_delete(self, hpa: Obj) -> None:
        key = key_of(hpa)
        self.queue.forget(key)
        self.selectors.pop(key, None)
        self.history.forget(key)

    async def reconcile(self, key: str) -> float | None:
        hpa = self.hpas.get(key)
        if hpa is None:
            self.history.forget(key)
            self.selectors.pop(key, None)
            return None
        try:
            await self.reconcile_autoscaler(hpa, key)
        except (HPAError, APIStatusError) as e:
            log.warning("horizontal pod autoscaler sync failed", extra={"controller": self.name, "key": key,
                                                                        "error": status_message(e)})
        return self.sync_period

    # ------------------------------------------------------------------ the sync
    async def reconcile_autoscaler(self, shared: Obj, key: str) -> None:
        hpa = copy.deepcopy(shared)
        hpa["apiVersion"], hpa["kind"] = HPAS.api_version, HPAS.kind
        status: Obj = hpa.setdefault("status", {})
        original = copy.deepcopy(status)
        now_dt = self.clock.now()
        now = format_rfc3339(now_dt)
        spec, meta = hpa.get("spec") or {}, hpa["metadata"]
        ns = meta.get("namespace", "")
        target = spec.get("scaleTargetRef") or {}
        reference = f"{target.get('kind', '')}/{ns}/{target.get('name', '')}"
        api_version = str(target.get("apiVersion", ""))
        if api_version.count("/") > 1:
            error = f"unexpected GroupVersion string: {api_version}"
            await self._fail_scale(hpa, original, error, now)
            raise HPAError(f"invalid API version in scale target reference: {error}")
        try:
            refs = await self.scales.mappings(api_version.rpartition("/")[0], str(target.get("kind", "")))
        except HPAError as e:
            await self._fail_scale(hpa, original, str(e), now)
            raise HPAError(f"unable to determine resource for scale target reference: {e}") from None
        try:
            scale, ref = await self._scale(refs, ns, str(target.get("name", "")))
        except HPAError as e:
            await self._fail_scale(hpa, original, str(e), now)
            raise HPAError(f"failed to query scale subresource for {reference}: {e}") from None
        set_condition(status, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        mono = self.clock.monotonic()
        self.history.record_initial(key, current, mono)
        min_replicas = 1 if spec.get("minReplicas") is None else int(spec["minReplicas"])
        max_replicas = int(spec.get("maxReplicas") or 0)
        metric_statuses: list[Obj] | None = None
        desired, reason, rescale, partial = 0, "", True, None
        if current == 0 and min_replicas != 0:
            rescale = False
            set_condition(status, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
        elif current > max_replicas:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        elif current < min_replicas:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        else:
            proposal, metric_name, metric_statuses, partial = await self._metrics_replicas(hpa, scale, key, now,
                                                                                           now_dt)
            if proposal == -1:
                self._set_status(hpa, current, status.get("desiredReplicas", 0), metric_statuses, False, now)
                await self._update_status(hpa, original)
                self.events.event(hpa, "Warning", "FailedComputeMetricsReplicas", str(partial))
                raise HPAError(f"failed to compute desired number of replicas based on listed metrics for "
                               f"{reference}: {partial}")
            desired = max(proposal, 0)
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
            desired = self._normalize(hpa, key, current, desired, min_replicas, max_replicas, mono, now)
            rescale = desired != current
        if rescale:
            scale = copy.deepcopy(scale)
            scale.setdefault("spec", {})["replicas"] = desired
            try:
                await self.scales.update(ref, ns, scale)
            except APIStatusError as e:
                msg = status_message(e)
                self.events.event(hpa, "Warning", "FailedRescale",
                                  f"New size: {desired}; reason: {reason}; error: {msg}")
                set_condition(status, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {msg}", now)
                self._set_status(hpa, current, status.get("desiredReplicas", 0), metric_statuses, False, now)
                await self._update_status(hpa, original)
                raise HPAError(f"failed to rescale {reference}: {msg}") from None
            set_condition(status, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            self.events.event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            behavior = spec.get("behavior")
            up, down = self._rules(behavior) if behavior else (None, None)
            self.history.store_scale_event(key, up=up, down=down, previous=current, new=desired, now=mono)
            log.info("successfully rescaled", extra={"controller": self.name, "key": key, "current": current,
                                                      "desired": desired, "reason": reason})
        else:
            desired = current
        self._set_status(hpa, current, desired, metric_statuses, rescale, now)
        await self._update_status(hpa, original)
        if partial is not None:
            raise HPAError(str(partial))

    async def _scale(self, refs: list[ResourceRef], ns: str, name: str) -> tuple[Obj, ResourceRef]:
        """``scaleForResourceMappings``: the first mapping that answers; else the first mapping's error."""
        first = ""
        for i, ref in enumerate(refs):
            try:
                return await self.scales.get(ref, ns, name), ref
            except APIStatusError as e:
                if i == 0:
                    first = status_message(e)
        raise HPAError(first or "unrecognized resource")

    async def _fail_scale(self, hpa: Obj, original: Obj, error: str, now: str) -> None:
        self.events.event(hpa, "Warning", "FailedGetScale", error)
        set_condition(hpa["status"], "AbleToScale", "False", "FailedGetScale",
                      f"the HPA controller was unable to get the target's current scale: {error}", now)
        await self._update_status(hpa, original)

    def _rules(self, behavior: Obj) -> tuple[Rules, Rules]:
        return (Rules.of(behavior.get("scaleUp"), default_window=0.0),
                Rules.of(behavior.get("scaleDown"), default_window=self.downscale_window))

    def _normalize(self, hpa: Obj, key: str, current: int, desired: int, min_replicas: int, max_replicas: int,
                   mono: float, now: str) -> int:
        behavior = (hpa.get("spec") or {}).get("behavior")
        if behavior:
            up, down = self._rules(behavior)
            replicas, able, limited, is_limited = self.history.normalize_with_behaviors(
                key, current=current, desired=desired, min_replicas=min_replicas, max_replicas=max_replicas, up=up,
                down=down, now=mono)
        else:
            replicas, able, limited, is_limited = self.history.normalize(
                key, current=current, desired=desired, min_replicas=min_replicas, max_replicas=max_replicas,
                now=mono, window=self.downscale_window)
        status = hpa["status"]
        set_condition(status, "AbleToScale", "True", *able, now)
        set_condition(status, "ScalingLimited", "True" if is_limited else "False", *limited, now)
        return replicas

    # ------------------------------------------------------------------ metrics
    async def _metrics_replicas(self, hpa: Obj, scale: Obj, key: str, now: str, now_dt: datetime
                                ) -> tuple[int, str, list[Obj] | None, HPAError | None]:
        """``computeReplicasForMetrics``: (largest proposal or -1, its metric, statuses, error of invalid metrics)."""
        status = hpa["status"]
        selector = self._validate_selector(hpa, key, str((scale.get("status") or {}).get("selector") or ""), now)
        if isinstance(selector, HPAError):
            return -1, "", None, selector
        specs = (hpa.get("spec") or {}).get("metrics") or []
        spec_replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        status_replicas = int((scale.get("status") or {}).get("replicas") or 0)
        statuses: list[Obj] = [{"type": ""} for _ in specs]
        replicas, metric, invalid, first = 0, "", 0, None
        for i, m in enumerate(specs):
            try:
                proposal, name, statuses[i] = await self._metric_replicas(hpa, m, spec_replicas, status_replicas,
                                                                          selector, now_dt)
            except Failed as e:
                if first is None:
                    first = e
                invalid += 1
                continue
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        error = None
        if first is not None:
            error = HPAError(f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first}")
        if invalid >= len(specs) or (invalid > 0 and replicas < spec_replicas):
            if first is not None:
                set_condition(status, "ScalingActive", "False", first.reason, first.condition_message, now)
            return -1, "", statuses, error
        set_condition(status, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric}", now)
        return replicas, metric, statuses, error

    def _validate_selector(self, hpa: Obj, key: str, text: str, now: str) -> LabelSelector | HPAError:
        """``validateAndParseSelector``: present, parseable, and selecting pods no other HPA also selects."""
        status = hpa["status"]
        if not text:
            self.events.event(hpa, "Warning", "SelectorRequired", "selector is required")
            set_condition(status, "ScalingActive", "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector", now)
            return HPAError("selector is required")
        try:
            selector = parse_label_selector(text)
        except ValueError as e:
            msg = f"couldn't convert selector into a corresponding internal selector object: {e}"
            self.events.event(hpa, "Warning", "InvalidSelector", msg)
            set_condition(status, "ScalingActive", "False", "InvalidSelector", msg, now)
            return HPAError(msg)
        if key in self.selectors:
            self.selectors[key] = selector
        ns = hpa["metadata"].get("namespace", "")
        others = {k: s for k, s in self.selectors.items() if s is not None and k.split("/", 1)[0] == ns}
        claiming: set[str] = set()
        for pod in self._pods(ns, selector):
            labels = (pod.get("metadata") or {}).get("labels") or {}
            claiming.update(k for k, s in others.items() if s.matches(labels))
        if len(claiming) > 1:
            msg = f"pods by selector {text} are controlled by multiple HPAs: [{' '.join(sorted(claiming))}]"
            self.events.event(hpa, "Warning", "AmbiguousSelector", msg)
            set_condition(status, "ScalingActive", "False", "AmbiguousSelector", msg, now)
            return HPAError(msg)
        return selector

    def _pods(self, ns: str, selector: LabelSelector) -> list[Obj]:
        return [p for p in self.pods.by_index(NAMESPACE_INDEX, ns)
                if selector.matches((p.get("metadata") or {}).get("labels") or {})]

    def _unable(self, hpa: Obj, reason: str, error: str, wrapped: str) -> Failed:
        """``getUnableComputeReplicaCountCondition``: a Warning event, and the condition to set if all fail."""
        self.events.event(hpa, "Warning", reason, error)
        return Failed(wrapped, reason, f"the HPA was unable to compute the replica count: {error}")

    async def _metric_replicas(self, hpa: Obj, m: Obj, spec_replicas: int, status_replicas: int,
                               selector: LabelSelector, now: datetime) -> tuple[int, str, Obj]:
        """``computeReplicasForMetric``: one metric's proposal, name and status; :class:`Failed` when it fails."""
        kind = m.get("type", "")
        field = SOURCE_FIELDS.get(kind)
        source = m.get(field) if field else None
        if field is None or not isinstance(source, dict):
            error = f'unknown metric source type "{kind}"'
            raise self._unable(hpa, "InvalidMetricSourceType", error, error)
        ns = hpa["metadata"].get("namespace", "")
        pods = self._pods(ns, selector)
        target = source.get("target") or {}
        if kind in ("Resource", "ContainerResource"):
            container = str(source.get("container", "")) if kind == "ContainerResource" else ""
            name = str(source.get("name", ""))
            reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
            prefix = f"failed to get {name} resource metric value: " if kind == "Resource" else \
                f"failed to get {container} container metric value: "
            try:
                proposal, metric_name, current = await self._resource(spec_replicas, target, name, ns, container,
                                                                      str(selector), pods, now)
            except HPAError as e:
                raise self._unable(hpa, reason, str(e), prefix + str(e)) from None
            st: Obj = {"name": name, "current": current}
            if container:
                st = {"name": name, "container": container, "current": current}
            if kind == "ContainerResource":
                metric_name = metric_name.replace(" resource ", " container resource ", 1)
            return proposal, metric_name, {"type": kind, field: st}
        metric = source.get("metric") or {}
        metric_name_, metric_sel = str(metric.get("name", "")), _selector(metric.get("selector"))
        try:
            if kind == "Pods":
                return await self._pods_metric(spec_replicas, target, metric, metric_sel, ns, str(selector), pods,
                                               now)
            if kind == "Object":
                return await self._object_metric(spec_replicas, status_replicas, source, metric, metric_sel, ns,
                                                 pods)
            return await self._external_metric(spec_replicas, status_replicas, target, metric, metric_sel, ns, pods)
        except HPAError as e:
            reason = {"Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric",
                      "External": "FailedGetExternalMetric"}[kind]
            what = {"Pods": "pods metric value", "Object": "object metric value",
                    "External": f"{metric_name_} external metric value"}[kind]
            raise self._unable(hpa, reason, str(e), f"failed to get {what}: {e}") from None

    async def _resource(self, current: int, target: Obj, resource: str, ns: str, container: str, selector: str,
                        pods: list[Obj], now: datetime) -> tuple[int, str, Obj]:
        """``computeStatusForResourceMetricGeneric``: AverageValue or Utilization of a resource."""
        if target.get("averageValue") is not None:
            try:
                metrics, _ = await self.metrics.resource_metric(resource, ns, selector, container)
            except HPAError as e:
                raise HPAError(f"failed to get {resource} usage: unable to get metrics for resource "
                               f"{resource}: {e}") from None
            try:
                replicas, usage = plain_metric_replicas(
                    current_replicas=current, target_usage=parse_quantity_json(target["averageValue"]).milli_value(),
                    resource=resource, pods=pods, metrics=metrics, now=now, tuning=self.tuning)
            except HPAError as e:
                raise HPAError(f"failed to get {resource} usage: {e}") from None
            return replicas, f"{resource} resource", {"averageValue": _milli(usage)}
        if target.get("averageUtilization") is None:
            raise HPAError("invalid resource metric source: neither an average utilization target nor an average "
                           "value (usage) target was set")
        try:
            metrics, _ = await self.metrics.resource_metric(resource, ns, selector, container)
        except HPAError as e:
            raise HPAError(f"failed to get {resource} utilization: unable to get metrics for resource "
                           f"{resource}: {e}") from None
        try:
            replicas, utilization, raw = resource_replicas(
                current_replicas=current, target_utilization=int(target["averageUtilization"]), resource=resource,
                pods=pods, metrics=metrics, container=container, now=now, tuning=self.tuning)
        except HPAError as e:
            raise HPAError(f"failed to get {resource} utilization: {e}") from None
        return (replicas, f"{resource} resource utilization (percentage of request)",
                {"averageValue": _milli(raw), "averageUtilization": utilization})

    async def _pods_metric(self, current: int, target: Obj, metric: Obj, metric_sel: str, ns: str, selector: str,
                           pods: list[Obj], now: datetime) -> tuple[int, str, Obj]:
        name = str(metric.get("name", ""))
        try:
            metrics, _ = await self.metrics.pods_metric(name, ns, selector, metric_sel)
        except HPAError as e:
            raise HPAError(f"unable to get metric {name}: {e}") from None
        replicas, usage = plain_metric_replicas(
            current_replicas=current, target_usage=parse_quantity_json(target.get("averageValue", "0")).milli_value(),
            resource="", pods=pods, metrics=metrics, now=now, tuning=self.tuning)
        return replicas, f"pods metric {name}", {"type": "Pods", "pods": {"metric": metric,
                                                                          "current": {"averageValue": _milli(usage)}}}

    async def _object_metric(self, spec_replicas: int, status_replicas: int, source: Obj, metric: Obj,
                             metric_sel: str, ns: str, pods: list[Obj]) -> tuple[int, str, Obj]:
        target, described = source.get("target") or {}, source.get("describedObject") or {}
        name = str(metric.get("name", ""))
        where = f"{described.get('kind', '')} {ns}/{described.get('name', '')}"
        if target.get("type") == "Value" and target.get("value") is not None:
            try:
                usage, _ = await self.metrics.object_metric(name, ns, described, metric_sel)
            except HPAError as e:
                raise HPAError(f"unable to get metric {name}: {e} on {where}") from None
            ratio = usage / parse_quantity_json(target["value"]).milli_value()
            replicas = usage_ratio_replicas(current_replicas=spec_replicas, ratio=ratio, pods=pods,
                                            tuning=self.tuning)
            return replicas, f"{described.get('kind', '')} metric {name}", {"type": "Object", "object": {
                "describedObject": described, "metric": metric, "current": {"value": _milli(usage)}}}
        if target.get("type") == "AverageValue" and target.get("averageValue") is not None:
            try:
                usage, _ = await self.metrics.object_metric(name, ns, described, metric_sel)
            except HPAError as e:
                raise HPAError(f"failed to get {name} object metric: unable to get metric {name}: {e} on "
                               f"{where}") from None
            replicas, per_pod = per_pod_replicas(
                status_replicas=status_replicas, usage=usage,
                target_average=parse_quantity_json(target["averageValue"]).milli_value(), tuning=self.tuning)
            return replicas, f"external metric {name}({metric.get('selector')})", {"type": "Object", "object": {
                "metric": metric, "current": {"averageValue": _milli(per_pod)}}}
        raise HPAError("invalid object metric source: neither a value target nor an average value target was set")

    async def _external_metric(self, spec_replicas: int, status_replicas: int, target: Obj, metric: Obj,
                               metric_sel: str, ns: str, pods: list[Obj]) -> tuple[int, str, Obj]:
        name = str(metric.get("name", ""))
        label = f"external metric {name}({metric.get('selector')})"
        if target.get("averageValue") is not None:
            try:
                values, _ = await self.metrics.external_metric(name, ns, metric_sel)
            except HPAError as e:
                raise HPAError(f"failed to get {name} external metric: unable to get external metric "
                               f"{ns}/{name}/{metric.get('selector')}: {e}") from None
            replicas, per_pod = per_pod_replicas(
                status_replicas=status_replicas, usage=sum(values),
                target_average=parse_quantity_json(target["averageValue"]).milli_value(), tuning=self.tuning)
            return replicas, label, {"type": "External", "external": {
                "metric": metric, "current": {"averageValue": _milli(per_pod)}}}
        if target.get("value") is not None:
            try:
                values, _ = await self.metrics.external_metric(name, ns, metric_sel)
            except HPAError as e:
                raise HPAError(f"failed to get external metric {name}: unable to get external metric "
                               f"{ns}/{name}/{metric.get('selector')}: {e}") from None
            usage = sum(values)
            replicas = usage_ratio_replicas(current_replicas=spec_replicas,
                                            ratio=usage / parse_quantity_json(target["value"]).milli_value(),
                                            pods=pods, tuning=self.tuning)
            return replicas, label, {"type": "External", "external": {"metric": metric,
                                                                      "current": {"value": _milli(usage)}}}
        raise HPAError("invalid external metric source: neither a value target nor an average value target was set")

    # ------------------------------------------------------------------ status
    def _set_status(self, hpa: Obj, current: int, desired: int, metrics: list[Obj] | None, rescale: bool,
                    now: str) -> None:
        """``setStatus``: the status rebuilt in upstream's field order, keeping lastScaleTime and conditions."""
        old = hpa.get("status") or {}
        status: Obj = {}
        last = now if rescale else old.get("lastScaleTime")
        if last:
            status["lastScaleTime"] = last
        if current:
            status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        status["currentMetrics"] = metrics or None
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        hpa["status"] = status

    async def _update_status(self, hpa: Obj, original: Obj) -> None:
        """``updateStatusIfNeeded``: write only when something changed."""
        if _same_status(original, hpa["status"]):
            return
        try:
            await self.client.update(HPAS, hpa, subresource="status")
        except APIStatusError as e:
            msg = status_message(e)
            self.events.event(hpa, "Warning", "FailedUpdateStatus", msg)
            raise HPAError(f"failed to update status for {hpa['metadata'].get('name', '')}: {msg}") from None


def _same_status(a: Obj, b: Obj) -> bool:
    """Semantic equality as ``apiequality.Semantic.DeepEqual``: absent and empty are alike for omitempty fields."""
    def norm(s: Obj) -> Obj:
        return {k: v for k, v in s.items() if v not in (None, [], {}, 0, "")}
    return norm(a) == norm(b)
