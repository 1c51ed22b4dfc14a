"""Field selectors: cases from upstream fields/selector_test.go, selectable fields per kind, label conversion."""

from __future__ import annotations

import pytest

from pybernetes.api import fieldselector as s
from pybernetes.api import selectors


@pytest.mark.parametrize("text", ["x=a,y=b,z=c", "", "x!=a,y=b", r"x=a||y\=b", r"x=a\=\=b"])
def test_field_selector_round_trip(text):
    assert str(s.parse_field_selector(text)) == text


@pytest.mark.parametrize(("text", "message"), [
    ("x=a||y=b", "invalid field selector: unescaped character in value: 61"),
    ("x==a==b", "invalid field selector: unescaped character in value: 61"),
    ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
    ("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'"),
    ("x in (a,b,c)", "invalid selector: 'x in (a,b,c)'; can't understand 'b'"),
    ("x", "invalid selector: 'x'; can't understand 'x'"),
    ("k=\\", "invalid field selector: invalid escape sequence: \\"),
    ("k=\\a", "invalid field selector: invalid escape sequence: \\a"),
])
def test_field_selector_errors(text, message):
    with pytest.raises(ValueError) as info:
        s.parse_field_selector(text)
    assert str(info.value) == message


@pytest.mark.parametrize(("text", "terms"), [
    ("x=a,a=x", [("a", "=", "x"), ("x", "=", "a")]),        # deterministic
    ("a==b", [("a", "=", "b")]),
    ("a!=b", [("a", "!=", "b")]),
    ("a=a,", [("a", "=", "a")]),
    (",a=a", [("a", "=", "a")]),
    # Terms are sorted as raw text, so "k2=..." sorts before "k=...".
    ("k=\\,,k2=v2", [("k2", "=", "v2"), ("k", "=", ",")]),
    ("k=\\\\,k2=v2", [("k2", "=", "v2"), ("k", "=", "\\")]),
    ("k=\\\\\\,,k2=v2", [("k2", "=", "v2"), ("k", "=", "\\,")]),
    ("함=수,목=록", [("목", "=", "록"), ("함", "=", "수")]),
    ("=", []),                                               # empty field and value: everything
    ("spec.nodeName=", [("spec.nodeName", "=", "")]),
])
def test_field_selector_terms(text, terms):
    assert s.parse_field_selector(text).requirements == terms


@pytest.mark.parametrize(("text", "fields", "match"), [
    ("", {"x": "y"}, True),
    ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("spec.nodeName=", {}, True),                            # a missing field reads as ""
    ("spec.nodeName!=", {"spec.nodeName": "n1"}, True),
])
def test_field_selector_matches(text, fields, match):
    assert s.parse_field_selector(text).matches(fields) is match


def test_field_value_escaping():
    for raw, escaped in [("", ""), ("a", "a"), ("=", "\\="), (",", "\\,"), ("\\", "\\\\"),
                         ("\\=\\,\\", "\\\\\\=\\\\\\,\\\\")]:
        assert s.escape_field_value(raw) == escaped
        assert s.unescape_field_value(escaped) == raw


def test_field_selector_exact_match_and_transform():
    sel = s.parse_field_selector("spec.nodeName=n1,status.phase!=Failed")
    assert sel.requires_exact_match("spec.nodeName") == "n1"
    assert sel.requires_exact_match("status.phase") is None
    assert str(sel.transform(lambda f, v: ("", "") if f == "status.phase" else (f, v))) == "spec.nodeName=n1"


POD = {
    "metadata": {"name": "p", "namespace": "ns"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default", "hostNetwork": True},
    "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
               "nominatedNodeName": "n2"},
}


@pytest.mark.parametrize(("group", "kind", "obj", "expected"), [
    ("", "Pod", POD, {"metadata.name": "p", "metadata.namespace": "ns", "spec.nodeName": "n1",
                      "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
                      "spec.serviceAccountName": "default", "spec.hostNetwork": "true", "status.phase": "Running",
                      "status.podIP": "10.0.0.1", "status.nominatedNodeName": "n2"}),
    ("", "Pod", {"metadata": {"name": "p"}}, {
        "metadata.name": "p", "metadata.namespace": "", "spec.nodeName": "", "spec.restartPolicy": "",
        "spec.schedulerName": "", "spec.serviceAccountName": "", "spec.hostNetwork": "false", "status.phase": "",
        "status.podIP": "", "status.nominatedNodeName": ""}),
    ("", "Node", {"metadata": {"name": "n"}, "spec": {"unschedulable": True}},
     {"metadata.name": "n", "spec.unschedulable": "true"}),
    ("", "Node", {"metadata": {"name": "n"}}, {"metadata.name": "n", "spec.unschedulable": "false"}),
    ("", "Namespace", {"metadata": {"name": "ns"}, "status": {"phase": "Active"}},
     {"metadata.name": "ns", "status.phase": "Active"}),
    ("", "Secret", {"metadata": {"name": "s", "namespace": "ns"}, "type": "Opaque"},
     {"metadata.name": "s", "metadata.namespace": "ns", "type": "Opaque"}),
    ("", "Service", {"metadata": {"name": "s", "namespace": "ns"}, "spec": {"clusterIP": "10.43.0.1",
                                                                           "type": "ClusterIP"}},
     {"metadata.name": "s", "metadata.namespace": "ns", "spec.clusterIP": "10.43.0.1", "spec.type": "ClusterIP"}),
    ("apps", "ReplicaSet", {"metadata": {"name": "r", "namespace": "ns"}, "status": {"replicas": 3}},
     {"metadata.name": "r", "metadata.namespace": "ns", "status.replicas": "3"}),
    ("", "ReplicationController", {"metadata": {"name": "r", "namespace": "ns"}},
     {"metadata.name": "r", "metadata.namespace": "ns", "status.replicas": "0"}),
    ("batch", "Job", {"metadata": {"name": "j", "namespace": "ns"}, "status": {"succeeded": 2}},
     {"metadata.name": "j", "metadata.namespace": "ns", "status.successful": "2"}),
    ("certificates.k8s.io", "CertificateSigningRequest", {"metadata": {"name": "c"}, "spec": {"signerName": "x/y"}},
     {"metadata.name": "c", "spec.signerName": "x/y"}),
    ("certificates.k8s.io", "ClusterTrustBundle", {"metadata": {"name": "b"}, "spec": {"signerName": "x/y"}},
     {"metadata.name": "b", "spec.signerName": "x/y"}),
    ("", "ConfigMap", {"metadata": {"name": "c", "namespace": "ns"}},
     {"metadata.name": "c", "metadata.namespace": "ns"}),
    ("rbac.authorization.k8s.io", "ClusterRole", {"metadata": {"name": "admin"}},
     {"metadata.name": "admin", "metadata.namespace": ""}),
])
def test_field_labels(group, kind, obj, expected):
    assert s.field_labels(group, kind, obj) == expected


CORE_EVENT = {
    "metadata": {"name": "e", "namespace": "ns"},
    "involvedObject": {"kind": "Pod", "namespace": "ns", "name": "p", "uid": "u", "apiVersion": "v1",
                       "resourceVersion": "7", "fieldPath": "spec.containers{c}"},
    "reason": "Started", "type": "Normal", "reportingComponent": "kubelet", "source": {"component": ""},
}
NEW_EVENT = {
    "metadata": {"name": "e", "namespace": "ns"},
    "regarding": {"kind": "Pod", "namespace": "ns", "name": "p", "uid": "u", "apiVersion": "v1",
                  "resourceVersion": "7", "fieldPath": "spec.containers{c}"},
    "reason": "Started", "type": "Normal", "reportingController": "kubelet",
}
EVENT_FIELDS = {
    "metadata.name": "e", "metadata.namespace": "ns", "involvedObject.kind": "Pod", "involvedObject.namespace": "ns",
    "involvedObject.name": "p", "involvedObject.uid": "u", "involvedObject.apiVersion": "v1",
    "involvedObject.resourceVersion": "7", "involvedObject.fieldPath": "spec.containers{c}", "reason": "Started",
    "reportingComponent": "kubelet", "source": "kubelet", "type": "Normal",
}


def test_event_fields_in_both_shapes():
    assert s.field_labels("", "Event", CORE_EVENT) == EVENT_FIELDS          # source falls back to reportingComponent
    assert s.field_labels("events.k8s.io", "Event", NEW_EVENT) == EVENT_FIELDS
    old = dict(CORE_EVENT, source={"component": "kubelet-old"})
    assert s.field_labels("", "Event", old)["source"] == "kubelet-old"


@pytest.mark.parametrize(("group", "kind", "text", "converted"), [
    ("", "Pod", "spec.nodeName=n1,status.phase!=Failed", "spec.nodeName=n1,status.phase!=Failed"),
    ("", "Pod", "spec.host=n1", "spec.nodeName=n1"),
    ("", "Pod", "status.podIPs=x", "status.podIPs=x"),
    ("", "Event", "involvedObject.name=p,involvedObject.namespace=ns,involvedObject.uid=u",
     "involvedObject.name=p,involvedObject.namespace=ns,involvedObject.uid=u"),
    ("events.k8s.io", "Event", "regarding.name=p,reportingController=kubelet",
     "involvedObject.name=p,reportingComponent=kubelet"),
    ("", "ConfigMap", "metadata.name=x,metadata.namespace=y", "metadata.name=x,metadata.namespace=y"),
    ("apps", "Deployment", "metadata.name=x", "metadata.name=x"),
    ("", "Node", "spec.unschedulable=false", "spec.unschedulable=false"),
    ("", "Pod", "", ""),
])
def test_convert_field_selector(group, kind, text, converted):
    assert str(s.parse_field_selector(text, group=group, kind=kind)) == converted


@pytest.mark.parametrize(("group", "kind", "text", "message"), [
    ("", "Pod", "spec.foo=x", "field label not supported: spec.foo"),
    ("", "Node", "metadata.namespace=x", "field label not supported: metadata.namespace"),
    ("", "Namespace", "metadata.namespace=x", "field label not supported: metadata.namespace"),
    ("certificates.k8s.io", "CertificateSigningRequest", "spec.username=x", "field label not supported: spec.username"),
    ("events.k8s.io", "Event", "involvedObject.name=p", "field label not supported: involvedObject.name"),
    ("", "ConfigMap", "foo=bar", '"foo" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("apps", "Deployment", "status.replicas=1",
     '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
])
def test_convert_field_selector_errors(group, kind, text, message):
    with pytest.raises(ValueError) as info:
        s.parse_field_selector(text, group=group, kind=kind)
    assert str(info.value) == message


def test_field_selector_against_field_labels():
    sel = s.parse_field_selector("spec.nodeName=n1,status.phase!=Failed", group="", kind="Pod")
    assert sel.matches(s.field_labels("", "Pod", POD))
    unscheduled = s.parse_field_selector("spec.nodeName=", group="", kind="Pod")
    assert unscheduled.matches(s.field_labels("", "Pod", {"metadata": {"name": "x"}}))
    assert not unscheduled.matches(s.field_labels("", "Pod", POD))
    assert set(s.FIELD_LABELS) >= {("", "Pod"), ("", "Event"), ("", "Secret"), ("", "Node"), ("", "Namespace"),
                                   ("batch", "Job"), ("apps", "ReplicaSet"), ("", "ReplicationController"),
                                   ("", "Service")}


@pytest.mark.parametrize("name", ["FIELD_LABELS", "FieldSelector", "FieldsFn", "convert_field_label",
                                  "convert_field_selector", "escape_field_value", "field_labels",
                                  "parse_field_selector", "unescape_field_value"])
def test_selectors_still_exports_the_field_selector_names(name):
    assert getattr(selectors, name) is getattr(s, name)
