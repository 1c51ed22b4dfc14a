"""Request metrics bookkeeping of the dispatcher."""

from __future__ import annotations

import pytest

from pybernetes.apiserver import app, metrics

LABELS = ("GET", "", "v1", "configmaps", "", "resource", "apiserver")


def sample(name: str, labels: dict[str, str]) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def test_metric_children_are_the_labelled_series_and_are_reused() -> None:
    count, duration = app._metric_children(LABELS, 200)
    assert app._metric_children(LABELS, 200) == (count, duration)
    assert app._metric_children(LABELS, 404)[0] is not count
    names = dict(zip(("verb", "group", "version", "resource", "subresource", "scope", "component"), LABELS,
                     strict=True))
    before = sample("apiserver_request_total", {**names, "code": "200"}) or 0.0
    count.inc()
    duration.observe(0.003)
    assert sample("apiserver_request_total", {**names, "code": "200"}) == before + 1
    assert (sample("apiserver_request_duration_seconds_count", names) or 0) >= 1


@pytest.mark.parametrize(("verb", "subresource", "content_type", "label"), [
    ("create", "", "application/json", "POST"),
    ("create", "binding", "application/vnd.kubernetes.protobuf", "POST"),
    ("update", "status", "application/json", "PUT"),
    ("patch", "", "application/strategic-merge-patch+json", "PATCH"),
    ("patch", "", "application/apply-patch+yaml", "APPLY"),
    ("delete", "", "", "DELETE"),
    ("deletecollection", "", "", "DELETECOLLECTION"),
    ("get", "", "", "GET"),
    ("get", "log", "", "GET"),
    ("list", "", "", "LIST"),
    ("watch", "", "", "WATCH"),
    ("create", "exec", "", "CONNECT"),
    ("get", "portforward", "", "CONNECT"),
    ("get", "proxy", "", "CONNECT"),
])
def test_metric_verb_is_upstreams_route_verb(verb: str, subresource: str, content_type: str, label: str) -> None:
    """Writes count as POST/PUT/PATCH/DELETE, as the rules and dashboards written for kube-apiserver select them."""
    assert app.metric_verb(verb, subresource, content_type) == label
