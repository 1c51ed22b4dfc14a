"""ObjectMeta validation: cases from upstream objectmeta_test.go plus exact messages."""

from __future__ import annotations

import pytest

from pybernetes.api.field import Path
from pybernetes.api.validation import meta as v
from pybernetes.api.validation.names import name_is_dns1035_label, name_is_dns_label, path_segment_name

F = Path("field")


def msgs(errs):
    return [str(e) for e in errs]


def test_name_or_generate_name_required():
    assert msgs(v.validate_object_meta({}, namespaced=False)) == [
        "metadata.name: Required value: name or generateName is required"]
    assert msgs(v.validate_object_meta({"name": "x"}, namespaced=True)) == ["metadata.namespace: Required value"]
    assert v.validate_object_meta({"name": "x", "namespace": "default"}, namespaced=True) == []
    assert v.validate_object_meta(None, namespaced=False)[0].reason == "FieldValueRequired"


def test_custom_name_function_sees_generate_name_as_prefix():
    seen = []

    def fn(s, prefix):
        seen.append((s, prefix))
        return [] if s == "test" else ["name-gen"]

    errs = v.validate_object_meta({"name": "test", "generateName": "foo"}, namespaced=False, name_fn=fn, path=F)
    assert msgs(errs) == ['field.generateName: Invalid value: "foo": name-gen']
    assert seen == [("foo", True), ("test", False)]


@pytest.mark.parametrize(("meta", "name_fn", "expected"), [
    ({"name": "Foo"}, None, ['metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of '
                             "lower case alphanumeric characters, '-' or '.', and must start and end with an "
                             "alphanumeric character (e.g. 'example.com', regex used for validation is "
                             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
    ({"name": "a.b"}, name_is_dns_label, ['metadata.name: Invalid value: "a.b": must not contain dots']),
    ({"generateName": "web-"}, None, ["metadata.name: Required value: name or generateName is required"]),
    ({"generateName": "1svc-", "name": "svc"}, name_is_dns1035_label, [
        'metadata.generateName: Invalid value: "1svc-": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]),
    ({"name": ".."}, path_segment_name, ['metadata.name: Invalid value: "..": may not be \'..\'']),
    ({"name": "x", "namespace": "ns"}, None, ["metadata.namespace: Forbidden: not allowed on this type"]),
    ({"name": "x", "generation": -1}, None, ["metadata.generation: Invalid value: -1: must be greater than or equal "
                                             "to 0"]),
])
def test_name_namespace_generation(meta, name_fn, expected):
    assert msgs(v.validate_object_meta(meta, namespaced=False, name_fn=name_fn)) == expected


def test_namespace_must_be_a_dns_label():
    errs = v.validate_object_meta({"name": "test", "namespace": "foo.bar"}, namespaced=True, path=F)
    assert msgs(errs) == ['field.namespace: Invalid value: "foo.bar": must not contain dots']
    errs = v.validate_object_meta({"name": "test", "namespace": "A" * 64}, namespaced=True, path=F)
    assert len(errs) == 2 and all("Invalid value" in str(e) for e in errs)


def ref(kind="customresourceKind", uid="1", controller=None, api_version="customresourceVersion", name="name"):
    r = {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid}
    if controller is not None:
        r["controller"] = controller
    return r


@pytest.mark.parametrize(("refs", "expected"), [
    ([ref()], None),
    ([ref(kind="Event", api_version="v1")], "/v1, Kind=Event is disallowed from being an owner"),
    ([ref(kind="Event", api_version="events.k8s.io/v1")], None),
    ([ref(uid="1", controller=False), ref(uid="2", controller=True), ref(uid="3", controller=False), ref(uid="4")],
     None),
    ([ref("customresourceKind1", "1", False), ref("customresourceKind2", "2", True),
      ref("customresourceKind3", "3", True), ref("customresourceKind4", "4")],
     'Only one reference can have Controller set to true. Found "true" in references for customresourceKind2/name '
     "and customresourceKind3/name"),
])
def test_owner_references(refs, expected):
    errs = v.validate_object_meta({"name": "test", "namespace": "test", "ownerReferences": refs}, namespaced=True)
    if expected is None:
        assert errs == []
    else:
        assert len(errs) == 1 and errs[0].field == "metadata.ownerReferences" and expected in str(errs[0])


def test_owner_reference_required_fields_use_the_unindexed_path():
    errs = v.validate_owner_references([{"apiVersion": "apps/", "controller": True}], Path("metadata",
                                                                                           "ownerReferences"))
    assert msgs(errs) == [
        'metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
    ]


def test_finalizers():
    errs = v.validate_object_meta({"name": "test", "finalizers": ["orphan", "foregroundDeletion"]},
                                  namespaced=False, path=F)
    assert msgs(errs) == ['field.finalizers: Invalid value: ["orphan","foregroundDeletion"]: finalizer orphan and '
                          "foregroundDeletion cannot be both set"]
    errs = v.validate_object_meta({"name": "t", "finalizers": ["a/b/c"]}, namespaced=False)
    assert len(errs) == 1 and errs[0].field == "metadata.finalizers" and "a qualified name" in errs[0].detail
    # Unqualified, non-standard finalizers: fine generically, an error for built-in kinds.
    meta = {"name": "t", "finalizers": ["kubernetes", "cleanup", "example.com/cleanup"]}
    assert v.validate_object_meta(meta, namespaced=False) == []
    assert msgs(v.validate_object_meta(meta, namespaced=False, standard_finalizers=True)) == [
        'metadata.finalizers[1]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully '
        "qualified"]


def test_finalizer_warnings_for_custom_resources():
    assert v.finalizer_warnings(["cleanup", "example.com/x", "orphan"]) == [
        'metadata.finalizers: "cleanup": prefer a domain-qualified finalizer name to avoid accidental conflicts with '
        "other finalizer writers"]
    assert v.finalizer_warnings(["cleanup"], ["cleanup"]) == []


def test_labels_and_annotations_are_checked():
    errs = v.validate_object_meta({"name": "t", "labels": {"a": "-"}, "annotations": {"b@": "x"}}, namespaced=False)
    assert [e.field for e in errs] == ["metadata.labels", "metadata.annotations"]


@pytest.mark.parametrize(("entry", "expected"), [
    ({"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1"}, []),
    ({"manager": "kubectl", "operation": "Patch"},
     ["metadata.managedFields[0].operation: Invalid value: \"Patch\": must be `Apply` or `Update`"]),
    ({"operation": "Apply", "fieldsType": "FieldsV2"},
     ["metadata.managedFields[0].fieldsType: Invalid value: \"FieldsV2\": must be `FieldsV1`"]),
    ({"operation": "Apply", "manager": "x" * 129},
     ["metadata.managedFields[0].manager: Too long: may not be more than 128 bytes"]),
    ({"operation": "Apply", "manager": "a\tb"},
     ['metadata.managedFields[0].manager: Invalid value: "a\\tb": invalid character U+0009 (at position 1)']),
    ({"operation": "Apply", "subresource": "s" * 257},
     ["metadata.managedFields[0].subresource: Too long: may not be more than 256 bytes"]),
])
def test_managed_fields(entry, expected):
    assert msgs(v.validate_object_meta({"name": "t", "managedFields": [entry]}, namespaced=False)) == expected


OLD = {"name": "test", "namespace": "ns", "uid": "u1", "resourceVersion": "1", "generation": 4,
       "creationTimestamp": "1970-01-01T00:00:10Z"}


def upd(**changes):
    new = dict(OLD)
    for k, val in changes.items():
        if val is None:
            new.pop(k, None)
        else:
            new[k] = val
    return new


@pytest.mark.parametrize(("new", "old", "expected"), [
    (upd(), OLD, []),
    (upd(generateName="changed-"), OLD, []),   # generateName is not immutable
    (upd(resourceVersion=None), OLD, ['field.resourceVersion: Invalid value: "": must be specified for an update']),
    (upd(generation=3), OLD, ["field.generation: Invalid value: 3: must not be decremented"]),
    (upd(generation=5), OLD, []),
    (upd(name="other"), OLD, ['field.name: Invalid value: "other": field is immutable']),
    (upd(namespace="other"), OLD, ['field.namespace: Invalid value: "other": field is immutable']),
    (upd(uid="u2"), OLD, ['field.uid: Invalid value: "u2": field is immutable']),
    (upd(creationTimestamp=None), OLD,
     ["field.creationTimestamp: Invalid value: 0001-01-01 00:00:00 +0000 UTC: field is immutable"]),
    (upd(creationTimestamp="1970-01-01T00:00:11Z"), OLD,
     ["field.creationTimestamp: Invalid value: 1970-01-01 00:00:11 +0000 UTC: field is immutable"]),
    (upd(creationTimestamp="1970-01-01T01:00:10+01:00"), OLD, []),   # same instant, other spelling
    (upd(deletionTimestamp="1970-01-01T00:16:40Z"), OLD,
     ["field.deletionTimestamp: Invalid value: 1970-01-01 00:16:40 +0000 UTC: field is immutable"]),
    (upd(), upd(deletionTimestamp="1970-01-01T00:16:40Z"),
     ['field.deletionTimestamp: Invalid value: "null": field is immutable']),
    (upd(deletionTimestamp="1970-01-01T00:33:20Z"), upd(deletionTimestamp="1970-01-01T00:16:40Z"),
     ["field.deletionTimestamp: Invalid value: 1970-01-01 00:33:20 +0000 UTC: field is immutable"]),
    (upd(deletionGracePeriodSeconds=30), OLD, ["field.deletionGracePeriodSeconds: Invalid value: 30: field is "
                                               "immutable"]),
    (upd(), upd(deletionGracePeriodSeconds=30),
     ['field.deletionGracePeriodSeconds: Invalid value: "null": field is immutable']),
    (upd(deletionGracePeriodSeconds=40), upd(deletionGracePeriodSeconds=30),
     ["field.deletionGracePeriodSeconds: Invalid value: 40: field is immutable"]),
])
def test_update(new, old, expected):
    assert msgs(v.validate_object_meta_update(new, old, path=F)) == expected


@pytest.mark.parametrize(("old_f", "new_f", "expected"), [
    (["x/a"], ["x/a", "y/b"], 'found new finalizers []string{"y/b"}'),
    (["x/a"], ["x/b"], 'found new finalizers []string{"x/b"}'),
    (["x/a", "y/b"], ["x/a"], None),
])
def test_no_new_finalizers_while_deleting(old_f, new_f, expected):
    deleting = "1970-01-01T00:16:40Z"
    old = upd(deletionTimestamp=deleting, finalizers=old_f)
    new = upd(deletionTimestamp=deleting, finalizers=new_f)
    errs = v.validate_object_meta_update(new, old, path=F)
    if expected is None:
        assert errs == []
    else:
        assert msgs(errs) == ["field.finalizers: Forbidden: no new finalizers can be added if the object is being "
                              "deleted, " + expected]


def test_adding_finalizers_is_fine_when_not_deleting():
    assert v.validate_object_meta_update(upd(finalizers=["x/a", "y/b"]), upd(finalizers=["x/a"])) == []


def test_update_revalidates_labels_but_not_finalizer_names_unless_builtin():
    new = upd(labels={"bad key": "v"}, finalizers=["cleanup"])
    assert [e.field for e in v.validate_object_meta_update(new, OLD)] == ["metadata.labels"]
    errs = v.validate_object_meta_update(new, OLD, standard_finalizers=True)
    assert [e.field for e in errs] == ["metadata.labels", "metadata.finalizers[0]"]


def test_immutable_field_helper():
    assert v.validate_immutable_field("a", "a", F) == []
    assert msgs(v.validate_immutable_field(["b"], ["a"], F.child("selector"))) == [
        'field.selector: Invalid value: ["b"]: field is immutable']
