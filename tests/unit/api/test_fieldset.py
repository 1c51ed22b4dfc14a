"""Field sets and FieldsV1: upstream's wire form byte for byte, set algebra, and ToFieldSet per type."""

from __future__ import annotations

import json
import statistics
import time

import pytest

from pybernetes.api.fieldset import FieldSet, field, fieldset_of, make_path, path_string
from pybernetes.api.typeinfo import from_openapi, of_kind

# FieldsV1 exactly as real clusters and upstream's golden tests write them.
UPSTREAM_FIELDS_V1 = [
    # kubectl create deployment nginx-0930 --image=nginx (manager kubectl-create)
    '{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},'
    '"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},'
    '"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":'
    '{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},'
    '"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},'
    '"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}',
    # a Pod with a named port (composite key with the defaulted protocol)
    '{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},"f:labels":'
    '{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"echo-server\\"}":{".":{},"f:image":{},'
    '"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\\"containerPort\\":8080,\\"protocol\\":\\"TCP\\"}":'
    '{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},'
    '"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},'
    '"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}',
    # a ReplicaSet's Pod: ownerReferences are keyed by uid and atomic
    '{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},'
    '"k:{\\"uid\\":\\"5dca312e-1f5d-498c-b717-7a57f69707b9\\"}":{}}}}',
    # kubelet status (conditions by type, podIPs by ip)
    '{"f:status":{"f:conditions":{"k:{\\"type\\":\\"ContainersReady\\"}":{".":{},"f:lastProbeTime":{},'
    '"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\\"type\\":\\"Ready\\"}":{".":{},"f:lastProbeTime":{},'
    '"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},'
    '"f:podIP":{},"f:podIPs":{".":{},"k:{\\"ip\\":\\"10.244.0.8\\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}',
    # structured-merge-diff serialize_test golden data: the order of every kind of path element
    '{"f:aaa":{},"f:aab":{},"f:aac":{},"f:aad":{},"f:aae":{},"f:aaf":{},"k:{\\"name\\":\\"first\\"}":{},'
    '"k:{\\"name\\":\\"second\\"}":{},"k:{\\"port\\":443,\\"protocol\\":\\"tcp\\"}":{},'
    '"k:{\\"port\\":443,\\"protocol\\":\\"udp\\"}":{},"v:1":{},"v:2":{},"v:3":{},"v:\\"aa\\"":{},"v:\\"ab\\"":{},'
    '"v:true":{},"i:1":{},"i:2":{},"i:3":{},"i:4":{}}',
    '{"f:aaa":{"k:{\\"name\\":\\"second\\"}":{"v:3":{"f:aab":{}}},"v:3":{},"v:true":{}},"f:aab":{"f:aaa":{},'
    '"f:aaf":{"k:{\\"port\\":443,\\"protocol\\":\\"udp\\"}":{"k:{\\"port\\":443,\\"protocol\\":\\"tcp\\"}":{}}},'
    '"k:{\\"name\\":\\"first\\"}":{}},"v:\\"ab\\"":{"f:aaf":{"i:4":{}},"v:1":{"k:{\\"port\\":443,'
    '\\"protocol\\":\\"udp\\"}":{}},"i:1":{"f:aae":{"i:4":{}}}},"i:4":{"v:\\"aa\\"":{"f:aab":{}}}}',
]


@pytest.mark.parametrize("text", UPSTREAM_FIELDS_V1)
def test_fields_v1_round_trip_is_byte_exact(text: str) -> None:
    d = json.loads(text)
    fs = FieldSet.from_fields_v1(d)
    assert fs.to_json().decode() == text
    assert fs.to_fields_v1() == d
    assert json.dumps(fs.to_fields_v1(), separators=(",", ":")) == text      # key order too
    assert FieldSet.from_fields_v1(fs.to_fields_v1()) == fs


@pytest.mark.parametrize(("given", "canonical"), [
    # key fields are sorted, numbers normalised, members-only nodes written as {}
    ('{"f:spec":{"f:ports":{"k:{\\"protocol\\":\\"TCP\\",\\"containerPort\\":80}":{}}}}',
     '{"f:spec":{"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{}}}}'),
    ('{"f:b":{},"f:a":{".":{},"f:x":{}},"v:2":{},"v:10":{},"k:{\\"p\\":443}":{},"k:{\\"p\\":80}":{}}',
     '{"f:a":{".":{},"f:x":{}},"f:b":{},"k:{\\"p\\":80}":{},"k:{\\"p\\":443}":{},"v:2":{},"v:10":{}}'),
    ('{"f:a":{"f:b":{},".":{}}}', '{"f:a":{".":{},"f:b":{}}}'),
    ('{"f:a":{".":{}}}', '{"f:a":{}}'),
    ('{"f:a":{},"r:unknown":{}}', '{"f:a":{}}'),                         # unknown element types are dropped
    ('{"v:1.0":{},"i:007":{}}', '{"v:1":{},"i:7":{}}'),
    ('{"k:{\\"name\\":\\"a<b&c\\"}":{}}', '{"k:{\\"name\\":\\"a\\\\u003cb\\\\u0026c\\"}":{}}'),  # Go escapes
])
def test_from_fields_v1_canonicalises(given: str, canonical: str) -> None:
    fs = FieldSet.from_fields_v1(json.loads(given))
    assert fs.to_json().decode() == canonical


@pytest.mark.parametrize("bad", [{"f:a": []}, {"k:{not json": {}}, {"x": {}}, {"i:x": {}}])
def test_from_fields_v1_rejects_malformed(bad: dict) -> None:
    with pytest.raises(ValueError):
        FieldSet.from_fields_v1(bad)


def P(*parts: object) -> tuple[str, ...]:
    return make_path(*parts)


@pytest.mark.parametrize(("a", "b", "diff", "rdiff"), [
    # structured-merge-diff set_test: Difference vs RecursiveDifference
    ([P("a")], [P("a")], [], []),
    ([P("a", "b", "c")], [P("a", "b", "c")], [], []),
    ([P("a", "b", "c"), P("b", "b", "c")], [P("a", "b", "c")], [P("b", "b", "c")], [P("b", "b", "c")]),
    ([P("a")], [P("a", "aa")], [P("a")], [P("a")]),
    ([P("a", "b", "c")], [P("a")], [P("a", "b", "c")], []),
    ([P("a", "aa", "aab"), P("a", "ab", "aba")], [P("a", "aa")],
     [P("a", "aa", "aab"), P("a", "ab", "aba")], [P("a", "ab", "aba")]),
    ([P("a", "aa", "aab"), P("a", "ab", "aba")], [P("a")], [P("a", "aa", "aab"), P("a", "ab", "aba")], []),
])
def test_difference_and_recursive_difference(a: list, b: list, diff: list, rdiff: list) -> None:
    fa, fb = FieldSet(a), FieldSet(b)
    assert fa - fb == FieldSet(diff)
    assert fa.recursive_difference(fb) == FieldSet(rdiff)


def test_union_intersection_membership() -> None:
    a = FieldSet([P("spec", "replicas"), P("spec"), P("metadata", "labels", "app")])
    b = FieldSet([P("spec", "replicas"), P("spec", "paused"), P("metadata", "labels")])
    assert a | b == FieldSet([P("spec"), P("spec", "replicas"), P("spec", "paused"), P("metadata", "labels"),
                              P("metadata", "labels", "app")])
    assert a & b == FieldSet([P("spec", "replicas")])
    assert P("spec") in a and P("spec", "paused") not in a and P("metadata", "labels") not in a
    assert (a | b).to_fields_v1() == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                                      "f:spec": {".": {}, "f:paused": {}, "f:replicas": {}}}
    assert len(a) == 3 and not FieldSet() and FieldSet([()]).empty()
    assert a.with_prefix(field("spec")) == FieldSet([P("replicas")])
    assert a.leaves() == FieldSet([P("spec", "replicas"), P("metadata", "labels", "app")])
    assert hash(a) == hash(FieldSet(reversed(list(a))))


def test_iteration_follows_upstream_order_and_paths_print_like_upstream() -> None:
    fs = FieldSet([P("spec", "template", "spec", "containers", {"name": "web"}, "image"), P("spec", "replicas"),
                   P("metadata", "labels", "app"), P("spec", "ports", {"protocol": "TCP", "port": 80}),
                   P("metadata", "finalizers", "v:\"x\""), P("spec", "args", 0)])
    assert [path_string(p) for p in fs] == [
        ".metadata.finalizers[=\"x\"]", ".metadata.labels.app", ".spec.replicas", ".spec.args[0]",
        ".spec.ports[port=80,protocol=\"TCP\"]", ".spec.template.spec.containers[name=\"web\"].image"]


DEPLOY = of_kind("apps/v1", "Deployment")
POD = of_kind("v1", "Pod")
CRD_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "properties": {
            "size": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "args": {"type": "array", "items": {"type": "string"}},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                         "properties": {"app": {"type": "string"}}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "routes": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["host", "port"],
                       "items": {"type": "object", "properties": {"host": {"type": "string"},
                                                                  "port": {"type": "integer", "default": 80}}}},
        }},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}
CRD = from_openapi(CRD_SCHEMA)


@pytest.mark.parametrize(("ti", "obj", "want"), [
    # an apply configuration: leaves, map keys and list items; no "." on a struct's own fields
    (DEPLOY, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"spec": {"containers": [{"name": "web", "image": "nginx",
                                                             "ports": [{"containerPort": 80}]}]}}}},
     {"f:apiVersion": {}, "f:kind": {}, "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
      "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {"f:spec": {"f:containers": {
          'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}, "f:ports": {
              'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}}}}),
    # empty maps and nulls are owned as such; finalizers are a set; command is atomic
    (POD, {"metadata": {"annotations": {}, "finalizers": ["a/b", "c"], "creationTimestamp": None},
           "spec": {"containers": [{"name": "c", "command": ["sh", "-c"], "resources": {}}]}},
     {"f:metadata": {"f:annotations": {}, "f:creationTimestamp": {}, "f:finalizers": {'v:"a/b"': {}, 'v:"c"': {}}},
      "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:command": {}, "f:name": {}, "f:resources": {}}}}}),
    # custom resources: sets, atomic lists and maps, preserved unknown fields, key defaults, ObjectMeta
    (CRD, {"metadata": {"labels": {"x": "y"}},
           "spec": {"size": 1, "tags": ["b", "a"], "args": ["x"], "selector": {"app": "a"},
                    "extra": {"deep": {"er": 1}, "list": [1, 2]}, "routes": [{"host": "h"}]}},
     {"f:metadata": {"f:labels": {"f:x": {}}},
      "f:spec": {"f:args": {}, "f:extra": {"f:deep": {".": {}, "f:er": {}}, "f:list": {}},
                 "f:routes": {'k:{"host":"h","port":80}': {".": {}, "f:host": {}}}, "f:selector": {}, "f:size": {},
                 "f:tags": {'v:"a"': {}, 'v:"b"': {}}}}),
    # duplicates in a live list are owned as one atomic item
    (POD, {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}},
     {"f:spec": {"f:containers": {'k:{"name":"a"}': {}}}}),
])
def test_fieldset_of(ti: object, obj: dict, want: dict) -> None:
    assert fieldset_of(obj, ti).to_fields_v1() == want  # type: ignore[arg-type]


def test_fieldset_of_raw_extension_is_atomic() -> None:
    ti = of_kind("apps/v1", "ControllerRevision")
    fs = fieldset_of({"data": {"spec": {"a": 1}}, "revision": 2}, ti)  # type: ignore[arg-type]
    assert fs.to_fields_v1() == {"f:data": {}, "f:revision": {}}


def test_fieldset_of_a_deployment_is_cheap() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "fe"},
                        "annotations": {"a": "b"}},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [
                                     {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                                      "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                      "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                                      "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}],
                                     "volumes": [{"name": "v", "emptyDir": {}}]}}}}
    fieldset_of(obj, DEPLOY)
    runs = []
    for _ in range(30):
        t = time.perf_counter()
        fieldset_of(obj, DEPLOY)
        runs.append(time.perf_counter() - t)
    assert statistics.median(runs) < 0.001
