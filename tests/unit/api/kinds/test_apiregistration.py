"""APIService: name must be version.group, priorities, local vs. service-backed."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.kinds.apiregistration import APIServiceStrategy

S = APIServiceStrategy()


def api_service(name: str = "v1beta1.metrics.k8s.io", **spec: Any) -> dict[str, Any]:
    base = {"metadata": {"name": name},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                     "versionPriority": 100, "service": {"namespace": "kube-system", "name": "metrics-server"}}}
    base["spec"].update(spec)
    return base


def test_service_port_defaults_to_443() -> None:
    obj = api_service()
    S.default(obj)
    assert obj["spec"]["service"]["port"] == 443
    assert S.validate(obj) == []


@pytest.mark.parametrize(("obj", "expected"), [
    (api_service("metrics"), ['metadata.name: Invalid value: "metrics": must be `spec.version+"."+spec.group`: '
                              '"v1beta1.metrics.k8s.io"']),
    (api_service(groupPriorityMinimum=0, versionPriority=2000),
     ["spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000",
      "spec.versionPriority: Invalid value: 2000: must be positive and less than 1000"]),
    (api_service("v2.", group="", version="v2", service=None),
     ["spec.group: Required value: only v1 may have an empty group and it better be legacy kube"]),
    (api_service(service={"namespace": "kube-system", "name": "m", "port": 70000}),
     ["spec.service.port: Invalid value: 70000: port is not valid: must be between 1 and 65535, inclusive"]),
    (api_service(service=None, insecureSkipTLSVerify=True),
     ["spec.insecureSkipTLSVerify: Invalid value: true: local APIServices may not have insecureSkipTLSVerify"]),
])
def test_mistakes(obj: dict[str, Any], expected: list[str]) -> None:
    S.default(obj)
    assert [str(e) for e in S.validate(obj)] == expected
