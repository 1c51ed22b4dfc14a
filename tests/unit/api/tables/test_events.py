"""The Event table for core/v1 and events.k8s.io/v1 Events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.tables.events import COLUMNS, PRINTERS, event_cells

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def core(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "nginx.17f", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "nginx", "namespace": "default"}, "type": "Normal",
            "reason": "Pulled", "message": "Successfully pulled image", **fields}


CASES = [
    ("old-style event with timestamps and count",
     core(firstTimestamp="2025-03-01T11:00:00Z", lastTimestamp="2025-03-01T11:58:00Z", count=5,
          source={"component": "kubelet", "host": "node-1"}, message="  Back-off restarting  \n",
          involvedObject={"kind": "Pod", "name": "nginx", "fieldPath": "spec.containers{nginx}"}),
     ["2m", "Normal", "Pulled", "pod/nginx", "spec.containers{nginx}", "kubelet, node-1", "Back-off restarting",
      "60m", 5, "nginx.17f"]),
    ("no last timestamp: first seen is also last seen",
     core(firstTimestamp="2025-03-01T11:55:00Z", count=1, source={"component": "kubelet"}),
     ["5m", "Normal", "Pulled", "pod/nginx", "", "kubelet", "Successfully pulled image", "5m", 1, "nginx.17f"]),
    ("new-style singleton: eventTime, reporting controller, count 1",
     core(eventTime="2025-03-01T11:59:30.123456Z", reportingComponent="default-scheduler",
          reportingInstance="default-scheduler-node-1", reason="Scheduled"),
     ["29s", "Normal", "Scheduled", "pod/nginx", "", "default-scheduler, default-scheduler-node-1",
      "Successfully pulled image", "29s", 1, "nginx.17f"]),
    ("series: last observed time and series count",
     core(eventTime="2025-03-01T09:00:00.000000Z", count=0,
          series={"count": 12, "lastObservedTime": "2025-03-01T11:59:00.000000Z"}),
     ["60s", "Normal", "Pulled", "pod/nginx", "", "", "Successfully pulled image", "3h", 12, "nginx.17f"]),
    ("source host without component", core(source={"host": "node-1"}, reportingComponent="kubelet"),
     ["<unknown>", "Normal", "Pulled", "pod/nginx", "", "kubelet, node-1", "Successfully pulled image",
      "<unknown>", 1, "nginx.17f"]),
    ("involved object without a name", core(involvedObject={"kind": "Node"}),
     ["<unknown>", "Normal", "Pulled", "node", "", "", "Successfully pulled image", "<unknown>", 1, "nginx.17f"]),
]


@pytest.mark.parametrize(("obj", "want"), [pytest.param(o, w, id=n) for n, o, w in CASES])
def test_core_event(obj: dict[str, Any], want: list[Any]) -> None:
    assert event_cells(obj, NOW) == want


def test_events_k8s_io_event() -> None:
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
          "metadata": {"name": "web.1", "namespace": "default"},
          "eventTime": "2025-03-01T11:58:30.000000Z", "reportingController": "deployment-controller",
          "reportingInstance": "cm-1", "action": "Scaling", "reason": "ScalingReplicaSet",
          "regarding": {"kind": "Deployment", "name": "web", "namespace": "default"},
          "note": "Scaled up replica set web-abc to 3", "type": "Normal",
          "deprecatedCount": 2, "deprecatedLastTimestamp": "2025-03-01T11:59:00Z",
          "deprecatedSource": {"component": "deployment-controller"}}
    assert event_cells(ev, NOW) == ["60s", "Normal", "ScalingReplicaSet", "deployment/web", "",
                                    "deployment-controller, cm-1", "Scaled up replica set web-abc to 3", "90s", 2,
                                    "web.1"]


def test_columns_and_registration() -> None:
    assert [(c["name"], c["format"], c["priority"]) for c in COLUMNS] == [
        ("Last Seen", "", 0), ("Type", "", 0), ("Reason", "", 0), ("Object", "", 0), ("Subobject", "", 1),
        ("Source", "", 1), ("Message", "", 0), ("First Seen", "", 1), ("Count", "", 1), ("Name", "name", 1)]
    assert PRINTERS[("", "Event")] is PRINTERS[("events.k8s.io", "Event")]
