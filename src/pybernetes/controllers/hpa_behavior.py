"""How far and how fast an HPA may move (upstream ``horizontal.go``: ``normalizeDesiredReplicas`` and its
``…WithBehaviors`` twin, stabilization, scaling policies).

A metric's proposal is not applied as is:

- **Stabilization.** Every proposal is remembered per HPA with its time. Without ``behavior``, the controller
  applies the highest proposal of the downscale stabilization window (5 minutes), so a dip does not remove pods
  that a burst a minute ago needed; with ``behavior``, scale-ups apply the lowest proposal of
  ``scaleUp.stabilizationWindowSeconds`` and scale-downs the highest of ``scaleDown``'s.
- **Rates.** Without ``behavior``, one step may at most double the replicas (at least up to 4). With it, each
  policy (``Pods``: add/remove N, ``Percent``: N% of the replicas at the start of the policy's period) bounds
  the change within ``periodSeconds``, counting the scale events already made in that period; ``selectPolicy``
  picks the most permissive (Max), the least (Min), or none (Disabled).
- **Bounds.** ``minReplicas``/``maxReplicas`` last.

Each step reports the reason and message of the ``AbleToScale``/``ScalingLimited`` conditions, as upstream.
State lives in :class:`ScalingHistory` (per HPA key, in memory: a restarted controller starts afresh, as
upstream's does); times are the injected clock's monotonic seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)

WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
UP_STABILIZED = ("ScaleUpStabilized",
                 "recent recommendations were lower than current one, applying the lowest recent recommendation")
DOWN_STABILIZED = ("ScaleDownStabilized",
                   "recent recommendations were higher than current one, applying the highest recent recommendation")
READY = ("ReadyForNewScale", "recommended size matches current size")


@dataclass(slots=True)
class Recommendation:
    replicas: int
    at: float


@dataclass(slots=True)
class ScaleEvent:
    change: int                 # absolute, never negative
    at: float
    outdated: bool = False


@dataclass(frozen=True, slots=True)
class Rules:
    """One direction's ``HPAScalingRules`` with the defaults the API server and controller fill in."""

    stabilization: float
    select: str = "Max"
    policies: tuple[tuple[str, int, int], ...] = ()       # (type, value, periodSeconds)

    @classmethod
    def of(cls, rules: Obj | None, *, default_window: float) -> Rules:
        rules = rules or {}
        window = rules.get("stabilizationWindowSeconds")
        return cls(stabilization=float(default_window if window is None else window),
                   select=rules.get("selectPolicy") or "Max",
                   policies=tuple((p.get("type", ""), int(p.get("value") or 0), int(p.get("periodSeconds") or 0))
                                  for p in rules.get("policies") or ()))

    @property
    def longest_period(self) -> int:
        return max((p for _, _, p in self.policies), default=0)


def convert_with_rules(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithRules`` (no ``behavior``): bounds plus the doubling limit."""
    scale_up_limit = calculate_scale_up_limit(current)
    if max_replicas > scale_up_limit:
        maximum, limited = scale_up_limit, UP_LIMIT
    else:
        maximum, limited = max_replicas, TOO_MANY
    if desired < min_replicas:
        return min_replicas, *TOO_FEW
    if desired > maximum:
        return maximum, *limited
    return desired, *WITHIN_RANGE


def calculate_scale_up_limit(current: int) -> int:
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def change_in_period(period: int, events: list[ScaleEvent], now: float) -> int:
    """``getReplicasChangePerPeriod``: replicas changed by events strictly inside the last ``period`` seconds."""
    cutoff = now - period
    return sum(e.change for e in events if e.at > cutoff)


def scale_up_limit(current: int, up: list[ScaleEvent], down: list[ScaleEvent], rules: Rules, now: float) -> int:
    """``calculateScaleUpLimitWithScalingRules``: the most replicas the policies allow now."""
    if rules.select == "Disabled":
        return current
    pick, result = (min, INT32_MAX) if rules.select == "Min" else (max, INT32_MIN)
    for kind, value, period in rules.policies:
        start = current - change_in_period(period, up, now) + change_in_period(period, down, now)
        if kind == "Pods":
            proposed = start + value
        elif kind == "Percent":     # rounded up: a small percentage must still be able to add one pod
            proposed = math.ceil(start * (1 + value / 100))
        else:
            continue
        result = pick(result, proposed)
    return result


def scale_down_limit(current: int, up: list[ScaleEvent], down: list[ScaleEvent], rules: Rules, now: float) -> int:
    """``calculateScaleDownLimitWithBehaviors``: the fewest replicas the policies allow now."""
    if rules.select == "Disabled":
        return current
    pick, result = (max, INT32_MIN) if rules.select == "Min" else (min, INT32_MAX)
    for kind, value, period in rules.policies:
        start = current - change_in_period(period, up, now) + change_in_period(period, down, now)
        if kind == "Pods":
            proposed = start - value
        elif kind == "Percent":
            proposed = int(start * (1 - value / 100))
        else:
            continue
        result = pick(result, proposed)
    return result


@dataclass(slots=True)
class ScalingHistory:
    """Per-HPA memory of proposals and scale events (upstream's ``recommendations`` and ``scale*Events`` maps)."""

    recommendations: dict[str, list[Recommendation]] = field(default_factory=dict)
    up_events: dict[str, list[ScaleEvent]] = field(default_factory=dict)
    down_events: dict[str, list[ScaleEvent]] = field(default_factory=dict)

    def forget(self, key: str) -> None:
        self.recommendations.pop(key, None)
        self.up_events.pop(key, None)
        self.down_events.pop(key, None)

    def record_initial(self, key: str, current: int, now: float) -> None:
        """The first sight of an HPA counts its current size as a proposal (no scale-down right after a restart)."""
        if key not in self.recommendations:
            self.recommendations[key] = [Recommendation(current, now)]

    def _record(self, key: str, replicas: int, now: float, old: int | None) -> None:
        """Replace the last old sample found (upstream reuses one slot) or append."""
        recs = self.recommendations.setdefault(key, [])
        if old is not None:
            recs[old] = Recommendation(replicas, now)
        else:
            recs.append(Recommendation(replicas, now))

    def stabilize(self, key: str, desired: int, now: float, window: float) -> int:
        """``stabilizeRecommendation`` (no ``behavior``): the highest proposal within the downscale window."""
        best, old = desired, None
        cutoff = now - window
        for i, rec in enumerate(self.recommendations.get(key, ())):
            if rec.at < cutoff:
                old = i
            elif rec.replicas > best:
                best = rec.replicas
        self._record(key, desired, now, old)
        return best

    def normalize(self, key: str, *, current: int, desired: int, min_replicas: int, max_replicas: int, now: float,
                  window: float) -> tuple[int, tuple[str, str], tuple[str, str], bool]:
        """``normalizeDesiredReplicas``: (replicas, AbleToScale reason/message, ScalingLimited reason/message,
        whether ScalingLimited is True)."""
        stabilized = self.stabilize(key, desired, now, window)
        able = DOWN_STABILIZED if stabilized != desired else READY
        replicas, reason, message = convert_with_rules(current, stabilized, min_replicas, max_replicas)
        return replicas, able, (reason, message), replicas != stabilized

    def stabilize_with_behaviors(self, key: str, *, current: int, desired: int, up: Rules, down: Rules,
                                 now: float) -> tuple[int, tuple[str, str]]:
        """``stabilizeRecommendationWithBehaviors``: clamp into [lowest proposal of the scale-up window, highest of
        the scale-down window], starting from the current size."""
        up_cutoff, down_cutoff = now - up.stabilization, now - down.stabilization
        up_rec = down_rec = desired
        old = None
        for i, rec in enumerate(self.recommendations.get(key, ())):
            if rec.at > up_cutoff:
                up_rec = min(rec.replicas, up_rec)
            if rec.at > down_cutoff:
                down_rec = max(rec.replicas, down_rec)
            if rec.at < up_cutoff and rec.at < down_cutoff:
                old = i
        recommendation = min(max(current, up_rec), down_rec)
        self._record(key, desired, now, old)
        return recommendation, UP_STABILIZED if desired >= current else DOWN_STABILIZED

    def convert_with_behavior_rate(self, key: str, *, current: int, desired: int, min_replicas: int,
                                   max_replicas: int, up: Rules, down: Rules, now: float) -> tuple[int, str, str]:
        """``convertDesiredReplicasWithBehaviorRate``: the policies' limits, then the bounds."""
        ups, downs = self.up_events.get(key, []), self.down_events.get(key, [])
        if desired > current:
            limit = max(scale_up_limit(current, ups, downs, up, now), current)
            maximum, limited = (limit, UP_LIMIT) if max_replicas > limit else (max_replicas, TOO_MANY)
            if desired > maximum:
                return maximum, *limited
        elif desired < current:
            limit = min(scale_down_limit(current, ups, downs, down, now), current)
            minimum, limited = (limit, DOWN_LIMIT) if min_replicas < limit else (min_replicas, TOO_FEW)
            if desired < minimum:
                return minimum, *limited
        return desired, *WITHIN_RANGE

    def normalize_with_behaviors(self, key: str, *, current: int, desired: int, min_replicas: int,
                                 max_replicas: int, up: Rules, down: Rules, now: float
                                 ) -> tuple[int, tuple[str, str], tuple[str, str], bool]:
        """``normalizeDesiredReplicasWithBehaviors``: stabilization, then rate limits and bounds."""
        stabilized, why = self.stabilize_with_behaviors(key, current=current, desired=desired, up=up, down=down,
                                                        now=now)
        able = why if stabilized != desired else READY
        replicas, reason, message = self.convert_with_behavior_rate(
            key, current=current, desired=stabilized, min_replicas=min_replicas, max_replicas=max_replicas, up=up,
            down=down, now=now)
        return replicas, able, (reason, message), replicas != stabilized

    def store_scale_event(self, key: str, *, up: Rules | None, down: Rules | None, previous: int, new: int,
                          now: float) -> None:
        """``storeScaleEvent``: only HPAs with ``behavior`` keep events (the policies read them); events older than
        the longest policy period are outdated and their slot is reused."""
        if up is None or down is None:
            return
        if new > previous:
            events, rules, change = self.up_events.setdefault(key, []), up, new - previous
        else:
            events, rules, change = self.down_events.setdefault(key, []), down, previous - new
        cutoff = now - rules.longest_period
        slot = None
        for i, e in enumerate(events):
            if e.at < cutoff:
                e.outdated = True
            if e.outdated:
                slot = i
        if slot is not None:
            events[slot] = ScaleEvent(change, now)
        else:
            events.append(ScaleEvent(change, now))
