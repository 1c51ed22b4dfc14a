"""Deployment arithmetic: fenceposts, rollout steps, proportions, revisions, templates, hash, status."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pybernetes.controllers import deployment_util as du

Obj = dict[str, Any]
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def dep(replicas: int = 3, surge: Any = "25%", unavailable: Any = "25%", *, strategy: str = "RollingUpdate",
        generation: int = 1, status: Obj | None = None) -> Obj:
    spec: Obj = {"replicas": replicas, "strategy": {"type": strategy}, "progressDeadlineSeconds": 600,
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web", "generation": generation}, "spec": spec, "status": status or {}}


def rs(name: str, replicas: int, *, created: str = "2026-01-01T00:00:00Z", ann: dict[str, str] | None = None,
       available: int = 0, status_replicas: int | None = None) -> Obj:
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": created,
                         "annotations": ann or {}},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas if status_replicas is None else status_replicas,
                       "availableReplicas": available, "readyReplicas": available}}


@pytest.mark.parametrize(("value", "total", "up", "out"), [
    (2, 10, True, 2), ("25%", 10, True, 3), ("25%", 10, False, 2), ("0%", 5, True, 0), ("100%", 3, False, 3),
    ("3", 10, True, 3), (None, 10, True, 0),
])
def test_scaled_value(value: Any, total: int, up: bool, out: int) -> None:
    assert du.scaled_value(value, total, round_up=up) == out


def test_scaled_value_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        du.scaled_value("x%", 3, round_up=True)


@pytest.mark.parametrize(("surge", "unavailable", "desired", "out"), [
    ("25%", "25%", 3, (1, 0)),
    ("25%", "25%", 10, (3, 2)),
    (0, 0, 5, (0, 1)),                 # both zero: one may be unavailable
    ("0%", "1%", 2, (0, 1)),
    (1, 0, 1, (1, 0)),
])
def test_resolve_fenceposts(surge: Any, unavailable: Any, desired: int, out: tuple[int, int]) -> None:
    assert du.resolve_fenceposts(surge, unavailable, desired) == out


def test_surge_and_unavailable_of_deployments() -> None:
    assert (du.max_surge(dep()), du.max_unavailable(dep()), du.min_available(dep())) == (1, 0, 3)
    assert (du.max_surge(dep(strategy="Recreate")), du.max_unavailable(dep(strategy="Recreate"))) == (0, 0)
    assert du.max_unavailable(dep(replicas=0)) == 0
    assert du.max_unavailable(dep(2, 0, 5)) == 2      # never more than the replicas


@pytest.mark.parametrize(("d", "rss", "new_replicas", "out"), [
    (dep(3), [3], 0, 1),                      # 3 + 1 surge allowed, 3 running: add one
    (dep(3), [2], 1, 2),                      # total 3 < 4: add one more
    (dep(3), [3], 1, 1),                      # at the surge limit: wait
    (dep(10), [10], 0, 3),                    # surge 25% of 10 rounds up to 3
    (dep(3), [0], 2, 3),                      # never above spec.replicas
    (dep(3, strategy="Recreate"), [3], 0, 3),
])
def test_new_rs_new_replicas(d: Obj, rss: list[int], new_replicas: int, out: int) -> None:
    new = rs("new", new_replicas)
    assert du.new_rs_new_replicas(d, [*(rs(f"o{i}", n) for i, n in enumerate(rss)), new], new) == out


def test_set_new_rs_annotations_records_history_on_rollback() -> None:
    d = dep()
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "x", du.REVISION: "9",
                                    du.LAST_APPLIED: "{}"}
    new = rs("new", 0)
    assert du.set_new_rs_annotations(d, new, 1, exists=False)
    assert new["metadata"]["annotations"] == {"kubernetes.io/change-cause": "x", du.REVISION: "1",
                                              du.DESIRED_REPLICAS: "3", du.MAX_REPLICAS: "4"}
    assert not du.set_new_rs_annotations(d, new, 1, exists=True)     # nothing new
    assert du.set_new_rs_annotations(d, new, 4, exists=True)         # rolled back onto: revision 4, history 1
    assert (new["metadata"]["annotations"][du.REVISION], new["metadata"]["annotations"][du.REVISION_HISTORY]) \
        == ("4", "1")
    du.set_new_rs_annotations(d, new, 6, exists=True)
    assert new["metadata"]["annotations"][du.REVISION_HISTORY] == "1,4"
    assert not du.set_new_rs_annotations(d, new, 5, exists=True)     # revisions never go down
    du.set_new_rs_annotations(d, new, 7, exists=True, history_limit_chars=3)
    assert new["metadata"]["annotations"][du.REVISION_HISTORY] == "4,6"


def test_revisions() -> None:
    rss = [rs("a", 0, ann={du.REVISION: "3"}), rs("b", 0, ann={du.REVISION: "5"}), rs("c", 0),
           rs("d", 0, ann={du.REVISION: "bad"})]
    assert (du.max_revision(rss), du.last_revision(rss)) == (5, 3)
    assert [r["metadata"]["name"] for r in du.by_revision(rss)] == ["c", "d", "a", "b"]


@pytest.mark.parametrize(("rs_replicas", "max_ann", "d_replicas", "to_add", "added", "out"), [
    (3, "4", 6, 4, 0, 3),          # 3 of 4 → of 8 (6 + surge 2) = 6: +3
    (3, "4", 6, 2, 0, 2),          # ... capped by what may still be added
    (1, "4", 6, 4, 3, 1),
    (4, "5", 2, -4, 0, -2),        # scaling down: 4/5 of 3 → 2 (-2)
    (0, "4", 6, 4, 0, 0),          # never scale up from zero
])
def test_proportion(rs_replicas: int, max_ann: str, d_replicas: int, to_add: int, added: int, out: int) -> None:
    r = rs("a", rs_replicas, ann={du.MAX_REPLICAS: max_ann})
    assert du.proportion(r, dep(d_replicas), to_add, added) == out


def test_equal_ignore_hash() -> None:
    t1 = {"metadata": {"labels": {"app": "web", du.POD_TEMPLATE_HASH: "abc"}}, "spec": {"containers": [{"name": "c"}],
                                                                                      "volumes": []}}
    t2 = {"metadata": {"labels": {"app": "web"}, "annotations": {}}, "spec": {"containers": [{"name": "c"}]}}
    assert du.equal_ignore_hash(t1, t2)
    t2["spec"]["containers"][0]["image"] = "nginx"
    assert not du.equal_ignore_hash(t1, t2)


def test_find_new_and_old() -> None:
    d = dep()
    old = {**rs("old", 2, created="2026-01-01T00:00:00Z"), "spec": {"replicas": 2, "template": {"spec": {}}}}
    new2 = {**rs("new2", 0, created="2026-01-02T00:00:00Z"), "spec": {"replicas": 0, "template":
                                                                      d["spec"]["template"]}}
    new1 = {**rs("new1", 1, created="2026-01-01T00:00:00Z"), "spec": {"replicas": 1, "template":
                                                                      d["spec"]["template"]}}
    assert du.find_new_rs(d, [old, new2, new1]) is new1          # the oldest match wins
    assert du.find_old_rss(d, [old, new2, new1]) == ([old], [old, new2])


def test_find_active_or_latest_and_sorts() -> None:
    a = rs("a", 0, created="2026-01-01T00:00:00Z")
    b = rs("b", 2, created="2026-01-02T00:00:00Z")
    c = rs("c", 2, created="2026-01-03T00:00:00Z")
    assert du.find_active_or_latest(None, [a, b]) is b
    assert du.find_active_or_latest(None, [a]) is a
    assert du.find_active_or_latest(c, [a, b]) is None
    assert [r["metadata"]["name"] for r in du.by_size_newer([a, b, c])] == ["c", "b", "a"]
    assert [r["metadata"]["name"] for r in du.by_size_older([a, b, c])] == ["b", "c", "a"]


def test_compute_hash() -> None:
    t = dep()["spec"]["template"]
    h = du.compute_hash(t, None)
    assert h == du.compute_hash(dict(reversed(list(t.items()))), None)     # key order does not matter
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    assert du.compute_hash(t, 1) != h and du.compute_hash(t, 1) != du.compute_hash(t, 2)
    assert du.compute_hash({**t, "spec": {"containers": [{"name": "d"}]}}, None) != h


def test_conditions_keep_transition_time_when_only_the_reason_changes() -> None:
    st: Obj = {}
    du.set_condition(st, du.new_condition("Progressing", "True", "A", "m", NOW))
    later = NOW + datetime.timedelta(seconds=5)
    du.set_condition(st, du.new_condition("Progressing", "True", "A", "other", later))      # same: untouched
    assert st["conditions"][0]["message"] == "m"
    du.set_condition(st, du.new_condition("Progressing", "True", "B", "n", later))
    c = st["conditions"][0]
    assert (c["reason"], c["lastTransitionTime"], c["lastUpdateTime"]) == ("B", "2026-01-01T00:00:00Z",
                                                                             "2026-01-01T00:00:05Z")
    du.remove_condition(st, "Progressing")
    assert "conditions" not in st


def test_calculate_status_and_completion() -> None:
    d = dep(3, generation=2)
    new = rs("new", 3, available=3)
    old = rs("old", 0, status_replicas=1)
    st = du.calculate_status([old, new], new, d, NOW)
    assert {k: st[k] for k in ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                               "availableReplicas", "unavailableReplicas")} == {
        "observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "unavailableReplicas": 0}
    assert st["conditions"][0]["message"] == "Deployment has minimum availability."
    assert not du.deployment_complete(d, st)                  # an old pod is still there
    st["replicas"] = 3
    assert du.deployment_complete(d, st)
    st2 = du.calculate_status([rs("new", 3, available=1)], None, d, NOW)
    assert st2["conditions"][0]["reason"] == du.MIN_UNAVAILABLE and st2["unavailableReplicas"] == 2


@pytest.mark.parametrize(("reason", "age", "out"), [
    (du.RS_UPDATED, 601, True), (du.RS_UPDATED, 599, False), (du.NEW_RS_AVAILABLE, 10_000, False),
    (du.TIMED_OUT, 0, True),
])
def test_deployment_timed_out(reason: str, age: int, out: bool) -> None:
    last = (NOW - datetime.timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    st = {"conditions": [{"type": "Progressing", "status": "True", "reason": reason, "lastUpdateTime": last}]}
    assert du.deployment_timed_out(dep(), st, NOW) is out
