"""What the HPA controller reads and writes through the API: metrics and scale subresources.

As upstream's controller, it never looks at workloads' own fields: it reads a target's ``/scale`` subresource (any
kind that serves one — Deployments, ReplicaSets, StatefulSets, ReplicationControllers, custom resources with a
scale subresource), found through discovery like a RESTMapper, and pod metrics through the resource metrics API
(``metrics.k8s.io``), custom metrics (``custom.metrics.k8s.io``) and external metrics
(``external.metrics.k8s.io``) — each a Protocol here, so tests substitute fakes as upstream's tests do.
Error messages are upstream's metrics clients' ("unable to fetch metrics from resource metrics API: …").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from pybernetes.api.meta import parse_time_or_none
from pybernetes.api.quantity import parse_quantity_json
from pybernetes.client.clock import REAL, Clock
from pybernetes.client.resources import ResourceRef
from pybernetes.client.rest import APIStatusError
from pybernetes.controllers.garbagecollector import Discovery, discover
from pybernetes.controllers.hpa_replicas import HPAError, PodMetric, PodMetricsInfo, pod_metrics_info

Obj = dict[str, Any]
REDISCOVER_AFTER = 10.0       # seconds before a failed kind lookup may trigger another discovery
_ZERO = datetime(1, 1, 1, tzinfo=UTC)


def status_message(e: BaseException) -> str:
    """An API failure as client-go prints it: the Status message."""
    if isinstance(e, APIStatusError):
        return str(e.status.get("message") or e)
    return str(e)


class MetricsClient(Protocol):
    async def resource_metric(self, resource: str, namespace: str, selector: str, container: str
                              ) -> tuple[PodMetricsInfo, datetime]: ...
    async def pods_metric(self, metric: str, namespace: str, selector: str, metric_selector: str
                          ) -> tuple[PodMetricsInfo, datetime]: ...
    async def object_metric(self, metric: str, namespace: str, described: Obj, metric_selector: str
                            ) -> tuple[int, datetime]: ...
    async def external_metric(self, metric: str, namespace: str, metric_selector: str
                              ) -> tuple[list[int], datetime]: ...


class ScaleClient(Protocol):
    async def mappings(self, group: str, kind: str) -> list[ResourceRef]: ...
    async def get(self, ref: ResourceRef, namespace: str, name: str) -> Obj: ...
    async def update(self, ref: ResourceRef, namespace: str, scale: Obj) -> Obj: ...


class Requester(Protocol):
    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                      content_type: str = "application/json", timeout: float = 60) -> Obj: ...


def _time(value: Any) -> datetime:
    return parse_time_or_none(value) or _ZERO


class RESTMetricsClient:
    """Metrics through the aggregated metrics APIs' REST paths (``PodMetricses(ns).List`` and friends)."""

    def __init__(self, client: Requester, scales: ScaleClient | None = None) -> None:
        self.client = client
        self.scales = scales

    async def _get(self, path: str, params: dict[str, str], api: str) -> Obj:
        try:
            return await self.client.request("GET", path, params={k: v for k, v in params.items() if v})
        except APIStatusError as e:
            raise HPAError(f"unable to fetch metrics from {api} API: {status_message(e)}") from None

    async def resource_metric(self, resource: str, namespace: str, selector: str, container: str
                              ) -> tuple[PodMetricsInfo, datetime]:
        lst = await self._get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods",
                              {"labelSelector": selector}, "resource metrics")
        items = lst.get("items") or []
        if not items:
            raise HPAError("no metrics returned from resource metrics API")
        try:
            info = pod_metrics_info(items, resource, container)
        except HPAError as e:
            if container:
                raise HPAError(f"failed to get container metrics: {e}") from None
            raise
        return info, _time(items[0].get("timestamp"))

    async def pods_metric(self, metric: str, namespace: str, selector: str, metric_selector: str
                          ) -> tuple[PodMetricsInfo, datetime]:
        lst = await self._get(f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{namespace}/pods/*/{quote(metric)}",
                              {"labelSelector": selector, "metricLabelSelector": metric_selector}, "custom metrics")
        items = lst.get("items") or []
        if not items:
            raise HPAError("no metrics returned from custom metrics API")
        out: PodMetricsInfo = {}
        for m in items:
            ts = _time(m.get("timestamp"))
            window = float(m.get("windowSeconds") or 0)
            out[(m.get("describedObject") or {}).get("name", "")] = PodMetric(
                ts, window, parse_quantity_json(m.get("value", "0")).milli_value())
        return out, _time(items[0].get("timestamp"))

    async def object_metric(self, metric: str, namespace: str, described: Obj, metric_selector: str
                            ) -> tuple[int, datetime]:
        group = str(described.get("apiVersion", "")).rpartition("/")[0]
        refs = await self.scales.mappings(group, described.get("kind", "")) if self.scales is not None else []
        if not refs:
            raise HPAError(f"unable to map kind {described.get('kind', '')} to a resource")
        gr = f"{refs[0].plural}.{group}" if group else refs[0].plural
        lst = await self._get(f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{namespace}/{gr}/"
                              f"{quote(described.get('name', ''))}/{quote(metric)}",
                              {"metricLabelSelector": metric_selector}, "custom metrics")
        items = lst.get("items") or []
        if not items:
            raise HPAError("no metrics returned from custom metrics API")
        return parse_quantity_json(items[0].get("value", "0")).milli_value(), _time(items[0].get("timestamp"))

    async def external_metric(self, metric: str, namespace: str, metric_selector: str
                              ) -> tuple[list[int], datetime]:
        lst = await self._get(f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{quote(metric)}",
                              {"labelSelector": metric_selector}, "external metrics")
        items = lst.get("items") or []
        if not items:
            raise HPAError("no metrics returned from external metrics API")
        return [parse_quantity_json(m.get("value", "0")).milli_value() for m in items], \
            _time(items[0].get("timestamp"))


class RESTScaleClient:
    """``/scale`` subresources, with discovery as the RESTMapper: looked up once, again when a kind is unknown
    (a CRD installed since), at most every :data:`REDISCOVER_AFTER` seconds."""

    def __init__(self, client: Requester, *, clock: Clock = REAL) -> None:
        self.client = client
        self.clock = clock
        self._discovery: Discovery | None = None
        self._discovered_at = -REDISCOVER_AFTER

    async def mappings(self, group: str, kind: str) -> list[ResourceRef]:
        """Every served version of ``group``/``kind``, the preferred one first (``RESTMappings``)."""
        found = self._find(group, kind)
        if not found and self.clock.monotonic() - self._discovered_at >= REDISCOVER_AFTER:
            self._discovery = await discover(self.client)
            self._discovered_at = self.clock.monotonic()
            found = self._find(group, kind)
        if not found:
            raise HPAError(f'no matches for kind "{kind}" in group "{group}"')
        return found

    def _find(self, group: str, kind: str) -> list[ResourceRef]:
        d = self._discovery
        if d is None:
            return []
        preferred = d.by_gk.get((group, kind))
        others = [r for (gv, k), r in d.by_gvk.items()
                  if k == kind and gv.rpartition("/")[0] == group and r != preferred]
        return ([preferred] if preferred else []) + others

    async def get(self, ref: ResourceRef, namespace: str, name: str) -> Obj:
        return await self.client.request("GET", ref.path(namespace, name, "scale"))

    async def update(self, ref: ResourceRef, namespace: str, scale: Obj) -> Obj:
        name = (scale.get("metadata") or {}).get("name", "")
        return await self.client.request("PUT", ref.path(namespace, name, "scale"), body=scale)
