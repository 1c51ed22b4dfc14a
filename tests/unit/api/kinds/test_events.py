"""events.k8s.io/v1 Event validation: strict create rules, legacy rules, immutable fields, either shape accepted."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.conversion import convert
from pybernetes.api.kinds.events import EventsV1EventStrategy, legacy_validate_event

S = EventsV1EventStrategy()


def event(**over: Any) -> dict[str, Any]:
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "default"},
          "eventTime": "2025-01-01T00:00:00.000000Z", "reportingController": "example.com/ctrl",
          "reportingInstance": "ctrl-1", "action": "Sync", "reason": "Synced",
          "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}, "note": "done", "type": "Normal"}
    ev.update(over)
    return ev


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_valid_event_in_both_shapes() -> None:
    assert S.validate(event()) == []
    assert S.validate(convert(event(), "v1")) == []


@pytest.mark.parametrize(("over", "expected"), [
    ({"eventTime": None}, ["eventTime: Required value"]),
    ({"type": "Info"}, ['type: Invalid value: "": has invalid value: Info']),
    ({"reportingController": ""}, ["reportingController: Required value",
                                   'reportingController: Invalid value: "": name part must be non-empty',
                                   "reportingController: Invalid value: \"\": name part must consist of alphanumeric "
                                   "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                                   "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                                   "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
    ({"action": "", "reason": "r" * 129}, ["action: Required value",
                                           'reason: Invalid value: "": can have at most 128 characters']),
    ({"deprecatedCount": 3}, ['count: Invalid value: "": needs to be unset']),
    ({"deprecatedSource": {"component": "kubelet"}}, ['source: Invalid value: "": needs to be unset']),
    ({"series": {"count": 1}}, ['series.count: Invalid value: "": should be at least 2',
                                "series.lastObservedTime: Required value"]),
    ({"metadata": {"name": "e1", "namespace": "team"}, "regarding": {"kind": "Node", "name": "n1"}},
     ['involvedObject.namespace: Invalid value: "": does not match event.namespace']),
])
def test_strict_create_rules(over: dict[str, Any], expected: list[str]) -> None:
    ev = event(**over)
    for k, v in over.items():
        if v is None:
            del ev[k]
    assert msgs(S.validate(ev)) == expected


def test_legacy_events_without_event_time_only_check_namespaces() -> None:
    core = {"metadata": {"namespace": "default"}, "involvedObject": {"namespace": ""}, "reason": "", "type": ""}
    assert legacy_validate_event(core) == []
    core["metadata"]["namespace"] = "team"
    assert msgs(legacy_validate_event(core)) == [
        'involvedObject.namespace: Invalid value: "": does not match event.namespace']


def test_updates_keep_the_event_fixed_but_allow_series() -> None:
    old = event()
    new = copy.deepcopy(old)
    new["series"] = {"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"}
    assert S.validate_update(new, old) == []
    new["note"] = "changed"
    new["reportingController"] = "example.com/other"
    assert msgs(S.validate_update(new, old)) == [
        'message: Invalid value: "changed": field is immutable',
        'reportingController: Invalid value: "example.com/other": field is immutable']
