"""bench/reqcount.py: the API server's request counters, summed per verb and resource and subtracted."""

from __future__ import annotations

from bench.reqcount import RequestCounts, parse, request_counts

METRICS = """\
# HELP apiserver_request_total Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{verb="PUT",group="coordination.k8s.io",version="v1",resource="leases",subresource="",\
scope="resource",component="apiserver",code="200"} 5000.0
apiserver_request_total{verb="PUT",group="coordination.k8s.io",version="v1",resource="leases",subresource="",\
scope="resource",component="apiserver",code="409"} 3.0
apiserver_request_total{verb="POST",group="",version="v1",resource="pods",subresource="binding",\
scope="resource",component="apiserver",code="201"} 100.0
apiserver_request_total{verb="WATCH",group="",version="v1",resource="pods",subresource="",\
scope="cluster",component="apiserver",code="200"} 4.0
apiserver_request_created{verb="PUT",resource="leases"} 1.7e9
apiserver_request_duration_seconds_bucket{verb="PUT",resource="leases",le="0.005"} 10.0
"""


def test_parse_sums_codes_per_verb_resource_and_subresource() -> None:
    assert parse(METRICS) == {("PUT", "leases", ""): 5003.0, ("POST", "pods", "binding"): 100.0,
                              ("WATCH", "pods", ""): 4.0}


def test_difference_rate_and_top() -> None:
    before = RequestCounts({("PUT", "leases", ""): 1000.0})
    d = request_counts(METRICS) - before
    assert d.total("PUT", "leases") == 4003.0
    assert d.rate("PUT", "leases", 10.0) == 400.3 and d.rate("PUT", "leases", 0) == 0.0
    assert d.top() == [("PUT leases", 4003.0), ("POST pods/binding", 100.0)]    # watches left out
    assert d.total() == 4107.0


def test_a_counter_that_appears_between_readings() -> None:
    d = request_counts(METRICS) - RequestCounts()
    assert d.total("POST") == 100.0


def test_either_spelling_of_a_verb() -> None:
    d = RequestCounts({("PUT", "leases", ""): 3.0, ("UPDATE", "leases", ""): 4.0, ("UPDATE", "pods", ""): 1.0})
    assert d.total(("PUT", "UPDATE"), "leases") == 7.0 and d.rate(("PUT", "UPDATE"), "leases", 7.0) == 1.0
