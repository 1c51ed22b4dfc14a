"""Object accessors and timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pybernetes.api import meta as m

POD = {
    "metadata": {
        "name": "web-1", "namespace": "prod", "uid": "u-1", "resourceVersion": "42", "generation": 3,
        "labels": {"app": "web"}, "annotations": {"a": "b"}, "finalizers": ["x/y"],
        "deletionTimestamp": "2024-01-02T03:04:05Z",
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "node-uid"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-uid", "controller": True},
        ],
    },
}


@pytest.mark.parametrize(("fn", "expected", "empty"), [
    (m.name_of, "web-1", ""),
    (m.namespace_of, "prod", ""),
    (m.uid_of, "u-1", ""),
    (m.resource_version_of, "42", ""),
    (m.generation_of, 3, 0),
    (m.labels_of, {"app": "web"}, {}),
    (m.annotations_of, {"a": "b"}, {}),
    (m.finalizers_of, ["x/y"], []),
    (m.deletion_timestamp_of, "2024-01-02T03:04:05Z", None),
    (m.is_being_deleted, True, False),
    (m.key_of, "prod/web-1", ""),
])
def test_accessors(fn, expected, empty):
    assert fn(POD) == expected
    assert fn({}) == empty
    assert fn({"metadata": None}) == empty
    assert fn({"metadata": {"name": None, "labels": None}}) in (empty, "")


def test_labels_are_the_objects_own_dict():
    assert m.labels_of(POD) is POD["metadata"]["labels"]


def test_key_of_cluster_scoped_and_split_key():
    assert m.key_of({"metadata": {"name": "node-1"}}) == "node-1"
    assert m.split_key("prod/web-1") == ("prod", "web-1")
    assert m.split_key("node-1") == ("", "node-1")
    with pytest.raises(ValueError, match="unexpected key format"):
        m.split_key("a/b/c")


def test_controller_ref_and_ownership():
    ref = m.controller_ref(POD)
    assert ref is not None and ref["kind"] == "ReplicaSet"
    assert m.controller_ref({"metadata": {"ownerReferences": [{"kind": "X", "controller": False}]}}) is None
    assert m.is_controlled_by(POD, {"metadata": {"uid": "rs-uid"}})
    assert not m.is_controlled_by(POD, {"metadata": {"uid": "node-uid"}})   # an owner, but not the controller
    assert not m.is_controlled_by({}, {"metadata": {}})                    # no UID never matches no UID
    assert m.owner_key(POD, "ReplicaSet") == "prod/web"
    assert m.owner_key(POD, "Deployment") is None
    refs = [{"kind": "Node", "name": "n1", "controller": True}]
    node_owned = {"metadata": {"name": "lease", "ownerReferences": refs}}
    assert m.owner_key(node_owned, "Node") == "n1"


def test_now_formats():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", m.now_rfc3339())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", m.now_rfc3339_micro())
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    assert before <= m.parse_time(m.now_rfc3339()) <= datetime.now(UTC)
    assert abs(m.parse_time(m.now_rfc3339_micro()) - datetime.now(UTC)) < timedelta(seconds=5)


def test_now_is_formatted_once_a_second(monkeypatch):
    clock = iter([1000.2, 1000.9, 1001.0, 999.5])
    monkeypatch.setattr(m.time, "time", lambda: next(clock))
    assert [m.now_rfc3339() for _ in range(4)] == [
        "1970-01-01T00:16:40Z", "1970-01-01T00:16:40Z", "1970-01-01T00:16:41Z", "1970-01-01T00:16:39Z"]


def test_format_and_parse():
    dt = datetime(2006, 1, 2, 15, 4, 5, 123456, tzinfo=timezone(timedelta(hours=-7)))
    assert m.format_rfc3339(dt) == "2006-01-02T22:04:05Z"
    assert m.format_rfc3339_micro(dt) == "2006-01-02T22:04:05.123456Z"
    assert m.parse_time("2006-01-02T15:04:05Z") == datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)
    assert m.parse_time("2006-01-02T15:04:05.5+01:00") == datetime(2006, 1, 2, 14, 4, 5, 500000, tzinfo=UTC)
    assert m.parse_time("2006-01-02T15:04:05.123456789Z").microsecond == 123456


@pytest.mark.parametrize("bad", ["", "2006-01-02", "2006-01-02 15:04:05Z", "2006-01-02T15:04:05", "yesterday",
                                 "2006-01-02t15:04:05z"])
def test_parse_time_rejects_non_rfc3339(bad):
    with pytest.raises(ValueError, match="parsing time"):
        m.parse_time(bad)


@pytest.mark.parametrize(("value", "want"), [
    ("2006-01-02T15:04:05Z", datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)),
    (None, None), ("", None), ("yesterday", None), (12, None), ({"seconds": 1}, None),
])
def test_parse_time_or_none(value, want):
    assert m.parse_time_or_none(value) == want
