"""HPA stabilization and scaling policies (upstream ``horizontal_test.go`` behaviour cases), on a plain clock."""

from __future__ import annotations

import pytest

from pybernetes.controllers.hpa_behavior import (
    Recommendation,
    Rules,
    ScaleEvent,
    ScalingHistory,
    calculate_scale_up_limit,
    change_in_period,
    convert_with_rules,
    scale_down_limit,
    scale_up_limit,
)

NOW = 10_000.0
UP_DEFAULT = Rules(0, "Max", (("Pods", 4, 15), ("Percent", 100, 15)))
DOWN_DEFAULT = Rules(300, "Max", (("Percent", 100, 15),))


def events(*pairs: tuple[int, float]) -> list[ScaleEvent]:
    """(replica change, seconds ago) pairs."""
    return [ScaleEvent(change, NOW - ago) for change, ago in pairs]


@pytest.mark.parametrize(("current", "desired", "lo", "hi", "want"), [
    (3, 5, 1, 10, (5, "DesiredWithinRange", "the desired count is within the acceptable range")),
    (3, 0, 1, 10, (1, "TooFewReplicas", "the desired replica count is less than the minimum replica count")),
    (3, 20, 1, 10, (6, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")),
    (3, 20, 1, 5, (5, "TooManyReplicas", "the desired replica count is more than the maximum replica count")),
    (1, 20, 1, 10, (4, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")),
    (0, 3, 0, 10, (3, "DesiredWithinRange", "the desired count is within the acceptable range")),
])
def test_convert_with_rules(current: int, desired: int, lo: int, hi: int, want: tuple[int, str, str]) -> None:
    assert convert_with_rules(current, desired, lo, hi) == want


@pytest.mark.parametrize(("current", "want"), [(0, 4), (1, 4), (2, 4), (3, 6), (10, 20)])
def test_scale_up_limit_without_behavior(current: int, want: int) -> None:
    assert calculate_scale_up_limit(current) == want


def test_change_in_period_counts_events_strictly_inside() -> None:
    evs = events((1, 10), (2, 14.9), (4, 15), (8, 40))
    assert change_in_period(15, evs, NOW) == 3
    assert change_in_period(60, evs, NOW) == 15


@pytest.mark.parametrize(("current", "up", "down", "rules", "want"), [
    # default scale-up rules: max(+4 pods, +100%)
    (1, [], [], UP_DEFAULT, 5),
    (10, [], [], UP_DEFAULT, 20),
    (10, [(5, 5)], [], UP_DEFAULT, 10),                  # 5 added 5 s ago: the period started at 5
    (10, [(5, 20)], [], UP_DEFAULT, 20),                 # that was before the period
    (10, [], [(3, 5)], UP_DEFAULT, 26),                  # 3 removed within the period: started at 13
    (10, [], [], Rules(0, "Min", (("Pods", 4, 15), ("Percent", 100, 15))), 14),
    (10, [], [], Rules(0, "Disabled", (("Pods", 4, 15),)), 10),
    (3, [], [], Rules(0, "Max", (("Percent", 10, 60),)), 4),    # rounded up: a small percentage still adds one
    (5, [(2, 30), (1, 90)], [], Rules(0, "Max", (("Pods", 1, 60), ("Pods", 2, 120))), 4),
])
def test_scale_up_limit_with_rules(current: int, up: list[tuple[int, float]], down: list[tuple[int, float]],
                                   rules: Rules, want: int) -> None:
    assert scale_up_limit(current, events(*up), events(*down), rules, NOW) == want


@pytest.mark.parametrize(("current", "up", "down", "rules", "want"), [
    (10, [], [], DOWN_DEFAULT, 0),
    (10, [], [], Rules(0, "Max", (("Pods", 2, 60), ("Percent", 50, 60))), 5),
    (10, [], [], Rules(0, "Min", (("Pods", 2, 60), ("Percent", 50, 60))), 8),
    (10, [], [(3, 30)], Rules(0, "Max", (("Pods", 3, 60),)), 10),       # already removed 3 this minute
    (10, [], [], Rules(0, "Disabled", (("Pods", 3, 60),)), 10),
    (7, [], [], Rules(0, "Max", (("Percent", 10, 60),)), 6),             # truncated: int(7 × 0.9) = 6
])
def test_scale_down_limit_with_rules(current: int, up: list[tuple[int, float]], down: list[tuple[int, float]],
                                     rules: Rules, want: int) -> None:
    assert scale_down_limit(current, events(*up), events(*down), rules, NOW) == want


def history(key: str, *recs: tuple[int, float]) -> ScalingHistory:
    h = ScalingHistory()
    h.recommendations[key] = [Recommendation(r, NOW - ago) for r, ago in recs]
    return h


@pytest.mark.parametrize(("recs", "desired", "window", "want"), [
    ([(8, 60), (4, 10)], 3, 300, 8),          # the highest recent proposal wins a scale-down
    ([(8, 400), (4, 10)], 3, 300, 4),         # 8 is older than the window
    ([(2, 10)], 6, 300, 6),                   # a scale-up is not held back
    ([(8, 0.5)], 3, 0, 3),
])
def test_stabilize_without_behavior(recs: list[tuple[int, float]], desired: int, window: float, want: int) -> None:
    h = history("k", *recs)
    assert h.stabilize("k", desired, NOW, window) == want


def test_stabilize_reuses_one_old_slot() -> None:
    h = history("k", (8, 400), (7, 350), (4, 10))
    h.stabilize("k", 3, NOW, 300)
    assert [(r.replicas, r.at) for r in h.recommendations["k"]] == [(8, NOW - 400), (3, NOW), (4, NOW - 10)]


@pytest.mark.parametrize(("recs", "current", "desired", "up_window", "down_window", "want"), [
    ([(5, 10), (6, 20)], 4, 8, 0, 300, (8, "ScaleUpStabilized")),
    ([(5, 10), (6, 20)], 4, 8, 60, 300, (5, "ScaleUpStabilized")),     # lowest proposal in the up window
    ([(5, 10), (6, 20)], 7, 2, 0, 300, (6, "ScaleDownStabilized")),    # highest in the down window
    ([(5, 10), (6, 20)], 7, 2, 0, 15, (5, "ScaleDownStabilized")),
    ([(5, 10), (6, 20)], 7, 2, 0, 0, (2, "ScaleDownStabilized")),
    ([(9, 10)], 4, 4, 60, 300, (4, "ScaleUpStabilized")),               # no change: stays current
])
def test_stabilize_with_behaviors(recs: list[tuple[int, float]], current: int, desired: int, up_window: float,
                                  down_window: float, want: tuple[int, str]) -> None:
    h = history("k", *recs)
    got, (reason, _) = h.stabilize_with_behaviors("k", current=current, desired=desired,
                                                  up=Rules(up_window, "Max", UP_DEFAULT.policies),
                                                  down=Rules(down_window, "Max", DOWN_DEFAULT.policies), now=NOW)
    assert (got, reason) == want
    assert h.recommendations["k"][-1].replicas == desired


@pytest.mark.parametrize(("current", "desired", "lo", "hi", "up", "down", "want"), [
    (5, 12, 1, 20, UP_DEFAULT, DOWN_DEFAULT, (10, "ScaleUpLimit")),
    (5, 12, 1, 8, UP_DEFAULT, DOWN_DEFAULT, (8, "TooManyReplicas")),
    (5, 1, 2, 20, UP_DEFAULT, DOWN_DEFAULT, (2, "TooFewReplicas")),
    (10, 2, 1, 20, UP_DEFAULT, Rules(0, "Max", (("Pods", 3, 60),)), (7, "ScaleDownLimit")),
    (10, 8, 1, 20, UP_DEFAULT, Rules(0, "Max", (("Pods", 3, 60),)), (8, "DesiredWithinRange")),
    (5, 9, 1, 20, Rules(0, "Disabled", ()), DOWN_DEFAULT, (5, "ScaleUpLimit")),
])
def test_convert_with_behavior_rate(current: int, desired: int, lo: int, hi: int, up: Rules, down: Rules,
                                    want: tuple[int, str]) -> None:
    got, reason, _ = ScalingHistory().convert_with_behavior_rate("k", current=current, desired=desired,
                                                                 min_replicas=lo, max_replicas=hi, up=up, down=down,
                                                                 now=NOW)
    assert (got, reason) == want


def test_normalize_with_behaviors_reports_conditions() -> None:
    h = ScalingHistory()
    h.record_initial("k", 4, NOW - 100)
    got, able, limited, is_limited = h.normalize_with_behaviors(
        "k", current=4, desired=2, min_replicas=1, max_replicas=10, up=UP_DEFAULT, down=DOWN_DEFAULT, now=NOW)
    assert (got, able[0], limited[0], is_limited) == (4, "ScaleDownStabilized", "DesiredWithinRange", False)
    got, able, limited, is_limited = h.normalize_with_behaviors(
        "k", current=4, desired=20, min_replicas=1, max_replicas=10, up=UP_DEFAULT, down=DOWN_DEFAULT, now=NOW)
    assert (got, able[0], limited[0], is_limited) == (8, "ReadyForNewScale", "ScaleUpLimit", True)


def test_normalize_without_behavior_reports_conditions() -> None:
    h = history("k", (6, 30))
    assert h.normalize("k", current=6, desired=2, min_replicas=1, max_replicas=10, now=NOW, window=300)[:2] == \
        (6, ("ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest "
                                    "recent recommendation"))
    assert h.normalize("k", current=6, desired=20, min_replicas=1, max_replicas=15, now=NOW, window=300) == \
        (12, ("ReadyForNewScale", "recommended size matches current size"),
         ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"), True)


def test_scale_events_are_kept_only_with_behavior_and_reuse_outdated_slots() -> None:
    h = ScalingHistory()
    h.store_scale_event("k", up=None, down=None, previous=1, new=4, now=NOW)
    assert h.up_events == {}
    up = Rules(0, "Max", (("Pods", 4, 60), ("Percent", 100, 30)))
    h.store_scale_event("k", up=up, down=DOWN_DEFAULT, previous=1, new=4, now=NOW - 100)
    h.store_scale_event("k", up=up, down=DOWN_DEFAULT, previous=4, new=6, now=NOW - 30)   # 70 s later: outdated,
    assert [(e.change, e.at) for e in h.up_events["k"]] == [(2, NOW - 30)]                 # so its slot is reused
    h.store_scale_event("k", up=up, down=DOWN_DEFAULT, previous=6, new=9, now=NOW)
    assert [(e.change, e.at) for e in h.up_events["k"]] == [(2, NOW - 30), (3, NOW)]
    h.store_scale_event("k", up=up, down=DOWN_DEFAULT, previous=9, new=5, now=NOW)
    assert [(e.change, e.at) for e in h.down_events["k"]] == [(4, NOW)]
    h.forget("k")
    assert (h.recommendations, h.up_events, h.down_events) == ({}, {}, {})


def test_rules_from_the_api_with_controller_defaults() -> None:
    assert Rules.of(None, default_window=300) == Rules(300.0, "Max", ())
    r = Rules.of({"stabilizationWindowSeconds": 0, "selectPolicy": "Min",
                  "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}, default_window=300)
    assert r == Rules(0.0, "Min", (("Pods", 2, 60),)) and r.longest_period == 60
