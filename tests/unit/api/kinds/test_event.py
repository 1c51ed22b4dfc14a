from __future__ import annotations

from pybernetes.api.kinds.event import EventStrategy

from .helpers import create, errors

S = EventStrategy()


def test_legacy_event() -> None:
    ev = {"metadata": {"name": "p.1", "namespace": "default"},
          "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Started",
          "message": "Started container", "source": {"component": "kubelet"}, "type": "Normal", "count": 1}
    _, errs = create(S, ev)
    assert errs == []
    ev["involvedObject"]["namespace"] = "other"
    _, errs = create(S, ev)
    assert errors(errs) == ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']


def test_new_style_event_through_v1_names_reporting_component() -> None:
    ev = {"metadata": {"name": "e", "namespace": "default"}, "eventTime": "2026-01-01T00:00:00.000000Z",
          "involvedObject": {"kind": "Node", "name": "n"}}
    _, errs = create(S, ev)
    assert errors(errs)[:3] == ["reportingComponent: Required value", 'reportingComponent: Invalid value: "": name '
                                "part must be non-empty", 'reportingComponent: Invalid value: "": name part must '
                                "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                                "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]
    assert "reportingInstance: Required value" in errors(errs)
