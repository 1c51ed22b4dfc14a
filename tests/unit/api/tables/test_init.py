"""to_table: the Table envelope, includeObject, the default table, and a printer for every served kind."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.errors import BadRequest
from pybernetes.api.resources import BUILTIN, Resource
from pybernetes.api.tables import DEFAULT_PRINTER, PRINTERS, column_definitions, printer_for, to_table

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
BY_KIND = {(r.group, r.version, r.kind): r for r in BUILTIN}
POD_RES = BY_KIND[("", "v1", "Pod")]
POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "nginx", "namespace": "default", "uid": "u-1", "resourceVersion": "42",
                    "creationTimestamp": "2025-03-01T11:55:00Z", "labels": {"app": "web"}},
       "spec": {"nodeName": "node-1", "containers": [{"name": "nginx", "image": "nginx"}]},
       "status": {"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}], "conditions": [{"type": "Ready",
                                                                                      "status": "True"}],
                  "containerStatuses": [{"name": "nginx", "ready": True, "restartCount": 0,
                                         "state": {"running": {"startedAt": "2025-03-01T11:55:02Z"}}}]}}


def test_envelope_and_metadata_rows() -> None:
    table = to_table(POD_RES, [POD], now=NOW)
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert (table["kind"], table["apiVersion"], table["metadata"]) == ("Table", "meta.k8s.io/v1", {})
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"] == [{
        "cells": ["nginx", "1/1", "Running", "0", "5m", "10.42.0.5", "node-1", "<none>", "<none>"],
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": POD["metadata"]},
    }]


@pytest.mark.parametrize(("mode", "want"), [
    ("Object", POD), ("None", None), ("", {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1beta1",
                                          "metadata": POD["metadata"]}),
])
def test_include_object(mode: str, want: Any) -> None:
    table = to_table(POD_RES, [POD], include_object=mode, api_version="meta.k8s.io/v1beta1", now=NOW)
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["rows"][0]["object"] == want


def test_unknown_include_object_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match='unrecognized includeObject value: "All"'):
        to_table(POD_RES, [POD], include_object="All")


def test_no_headers() -> None:
    table = to_table(POD_RES, [POD], no_headers=True, now=NOW)
    assert table["columnDefinitions"] is None and len(table["rows"]) == 1


def test_row_conditions_for_finished_pods() -> None:
    done = copy.deepcopy(POD)
    done["status"]["phase"] = "Succeeded"
    row = to_table(POD_RES, [done], now=NOW)["rows"][0]
    assert list(row) == ["cells", "conditions", "object"]
    assert row["conditions"][0]["type"] == "Completed"


def test_empty_list() -> None:
    assert to_table(POD_RES, [], now=NOW)["rows"] == []


def test_column_definitions_are_not_shared_lists() -> None:
    a = to_table(POD_RES, [], now=NOW)["columnDefinitions"]
    a.append({"name": "X"})
    assert len(column_definitions(POD_RES)) == 9


@pytest.mark.parametrize("gvk", [("", "v1", "LimitRange"), ("rbac.authorization.k8s.io", "v1", "Role"),
                                 ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
                                 ("apiextensions.k8s.io", "v1", "CustomResourceDefinition")])
def test_default_table(gvk: tuple[str, str, str]) -> None:
    res = BY_KIND[gvk]
    assert printer_for(res) is DEFAULT_PRINTER
    obj = {"metadata": {"name": "view", "creationTimestamp": "2025-01-02T03:04:05Z"}}
    table = to_table(res, [obj, {"metadata": {"name": "zero"}},
                           {"metadata": {"name": "offset", "creationTimestamp": "2025-01-02T05:04:05+02:00"}}],
                     now=NOW)
    assert table["columnDefinitions"][1] == {
        "name": "Created At", "type": "date", "format": "",
        "description": table["columnDefinitions"][1]["description"], "priority": 0}
    assert [r["cells"] for r in table["rows"]] == [["view", "2025-01-02T03:04:05Z"], ["zero", "0001-01-01T00:00:00Z"],
                                                    ["offset", "2025-01-02T03:04:05Z"]]


def test_custom_resources_use_their_columns() -> None:
    res = Resource(group="example.com", version="v1", kind="Widget", plural="widgets", singular="widget",
                   namespaced=True, custom=True,
                   printer_columns=({"name": "Size", "type": "integer", "jsonPath": ".spec.size"},))
    table = to_table(res, [{"metadata": {"name": "w"}, "spec": {"size": 4}}], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size"]
    assert table["rows"][0]["cells"] == ["w", 4]


EXPECTED_PRINTED = {
    "ConfigMap", "Endpoints", "Event", "Namespace", "Node", "PersistentVolumeClaim", "PersistentVolume", "Pod",
    "PodTemplate", "ReplicationController", "ResourceQuota", "Secret", "ServiceAccount", "Service", "APIService",
    "ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet", "HorizontalPodAutoscaler",
    "CronJob", "Job", "Lease", "EndpointSlice", "IngressClass", "Ingress", "NetworkPolicy", "PodDisruptionBudget",
    "ClusterRoleBinding", "RoleBinding", "PriorityClass", "CSIDriver", "CSINode", "StorageClass",
    "VolumeAttachment",
}


def test_every_listed_builtin_kind_has_its_printer() -> None:
    printed = {r.kind for r in BUILTIN if (r.group, r.kind) in PRINTERS}
    assert EXPECTED_PRINTED <= printed


@pytest.mark.parametrize("res", [r for r in BUILTIN if "list" in r.verbs], ids=lambda r: f"{r.group}/{r.kind}")
def test_every_listable_kind_prints_a_minimal_object(res: Resource) -> None:
    obj = {"apiVersion": res.api_version, "kind": res.kind,
           "metadata": {"name": "x", "creationTimestamp": "2025-03-01T11:00:00Z"}}
    table = to_table(res, [obj], now=NOW)
    cells = table["rows"][0]["cells"]
    assert len(cells) >= len(table["columnDefinitions"]) >= 2
    name_col = next(i for i, c in enumerate(table["columnDefinitions"]) if c["name"] == "Name")
    assert cells[name_col] == "x"
    assert all(isinstance(c, (str, int, float, bool)) or c is None for c in cells)


def test_ten_thousand_pods_are_fast() -> None:
    pods = [{**POD, "metadata": {**POD["metadata"], "name": f"web-{i}"}} for i in range(10_000)]
    start = time.perf_counter()
    table = to_table(POD_RES, pods, now=NOW)
    elapsed = time.perf_counter() - start
    assert len(table["rows"]) == 10_000 and table["rows"][-1]["cells"][0] == "web-9999"
    assert elapsed < 1.0, f"10,000 pod rows took {elapsed:.2f}s"
