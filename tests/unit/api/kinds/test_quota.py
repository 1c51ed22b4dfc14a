from __future__ import annotations

import pytest

from pybernetes.api.kinds.quota import LimitRangeStrategy, ResourceQuotaStrategy

from .helpers import create, errors

LR, RQ = LimitRangeStrategy(), ResourceQuotaStrategy()


def test_limit_range_defaults() -> None:
    out, errs = create(LR, {"metadata": {"name": "l"}, "spec": {"limits": [
        {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}})
    assert errs == []
    item = out["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "64Mi"}


@pytest.mark.parametrize(("item", "message"), [
    ({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
     "spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1"),
    ({"type": "Pod", "default": {"cpu": "1"}},
     "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"),
    ({"type": "Widget"}, 'spec.limits[0].type: Invalid value: "Widget": must be a standard limit type or fully '
                         "qualified"),
    ({"type": "PersistentVolumeClaim"},
     "spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was "
     "provided"),
    ({"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}},
     "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: 500m: ratio 500m is less than 1"),
])
def test_limit_range_mistakes(item: dict, message: str) -> None:
    _, errs = create(LR, {"metadata": {"name": "l"}, "spec": {"limits": [item]}})
    assert any(m.startswith(message) for m in errors(errs)), errors(errs)


@pytest.mark.parametrize(("spec", "expected"), [
    ({"hard": {"pods": "10", "requests.cpu": "4", "count/deployments.apps": "5"}}, []),
    ({"hard": {"pods": "1.5"}}, ['spec.hard[pods]: Invalid value: "1500m": must be an integer']),
    ({"hard": {"widgets": "1"}}, ['spec.hard[widgets]: Invalid value: "widgets": must be a standard resource type or '
                                 "fully qualified",
                                 'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for '
                                 "quota"]),
    ({"scopes": ["BestEffort", "NotBestEffort"]},
     ['spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}: conflicting scopes']),
])
def test_resource_quota(spec: dict, expected: list[str]) -> None:
    out, errs = create(RQ, {"metadata": {"name": "q"}, "spec": spec, "status": {"used": {"pods": "1"}}})
    assert errors(errs) == expected
    assert out["status"] == {}
