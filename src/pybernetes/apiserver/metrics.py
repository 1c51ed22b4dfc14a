"""Prometheus metrics of the API server, named as upstream's so existing dashboards and alerts apply."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component", "code")
REQUESTS = Counter("apiserver_request", "Counter of apiserver requests broken out for each verb, dry run value, "
                   "group, version, resource, scope, component, and HTTP response code.", LABELS,
                   registry=REGISTRY)
DURATION = Histogram("apiserver_request_duration_seconds", "Response latency distribution in seconds for each "
                     "verb, group, version, resource, subresource, scope and component.",
                     ("verb", "group", "version", "resource", "subresource", "scope", "component"),
                     buckets=(0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10,
                              15, 20, 30, 45, 60),
                     registry=REGISTRY)
INFLIGHT = Gauge("apiserver_current_inflight_requests", "Maximal number of currently used inflight request "
                 "limit of this apiserver per request kind in last second.", ("request_kind",), registry=REGISTRY)
WATCHERS = Gauge("apiserver_registered_watchers", "Number of currently registered watchers for a given "
                 "resources", ("group", "version", "kind"), registry=REGISTRY)
STORAGE_OBJECTS = Gauge("apiserver_storage_objects", "Number of stored objects at the time of last check split by "
                        "kind.", ("resource",), registry=REGISTRY)


def render() -> bytes:
    return generate_latest(REGISTRY)
