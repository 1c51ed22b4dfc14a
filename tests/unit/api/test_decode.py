"""Request body decoding: JSON/YAML/protobuf parsing with Go's messages, duplicates, and the typed check."""

from __future__ import annotations

import copy
import pathlib
import re
import time
from typing import Any

import orjson
import pytest

from pybernetes.api import protobuf
from pybernetes.api.decode import (
    BodyError,
    CheckResult,
    cannot_handle,
    check_object,
    go_json_syntax_error,
    go_yaml_scalar,
    parse_body,
    summarize,
)
from pybernetes.api.typeinfo import from_openapi, of_kind

SHARED = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared"
JSON = "application/json"
YAML = "application/yaml"

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                                   "ports": [{"containerPort": 80}],
                                                   "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]}}},
}


# ------------------------------------------------------------------------------------------ JSON

@pytest.mark.parametrize(("body", "message"), [
    (b"", "unexpected end of JSON input"),
    (b"{", "unexpected end of JSON input"),
    (b'{"a" 1}', "invalid character '1' after object key"),
    (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
    (b'{"a":tru}', "invalid character '}' in literal true (expecting 'e')"),
    (b'{"a":1}x', "invalid character 'x' after top-level value"),
    (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
    (b'{"a":[1,]}', "invalid character ']' looking for beginning of value"),
    (b'{"a":-x}', "invalid character 'x' in numeric literal"),
    (b'{"a":1.e5}', "invalid character 'e' after decimal point in numeric literal"),
    (b'{"a":1e+}', "invalid character '}' in exponent of numeric literal"),
    (b'{"a":"\\q"}', "invalid character 'q' in string escape code"),
    (b'{"a":"\\u12x4"}', "invalid character 'x' in \\u hexadecimal character escape"),
    (b'{"a":"\x01"}', "invalid character '\\x01' in string literal"),
    (b"\xef\xbb\xbf{}", "invalid character '\u00ef' looking for beginning of value"),
    (b"bad json", "invalid character 'b' looking for beginning of value"),
])
def test_json_syntax_errors_read_like_go(body: bytes, message: str) -> None:
    with pytest.raises(BodyError) as e:
        parse_body(body, JSON)
    assert str(e.value) == f"couldn't get version/kind; json parse error: {message}"
    assert go_json_syntax_error(body) == message


def test_bad_json_full_message_as_the_create_handler_words_it() -> None:
    with pytest.raises(BodyError) as e:
        parse_body(b"{bad json", JSON)
    assert e.value.for_kind("Deployment") == (
        "the object provided is unrecognized (must be of type Deployment): couldn't get version/kind; "
        "json parse error: invalid character 'b' looking for beginning of object key string ({bad json)")
    assert summarize(b"x" * 40) == ("78" * 30) + " ..."


@pytest.mark.parametrize(("body", "message"), [
    (b"[1]", "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type "
             'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'),
    (b'{"kind": 5}', "couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct "
                     "field .kind of type string"),
    (b'{"apiVersion": "a/b/c"}', "unexpected GroupVersion string: a/b/c"),
])
def test_apiversion_and_kind_are_read_first(body: bytes, message: str) -> None:
    with pytest.raises(BodyError) as e:
        parse_body(body, JSON)
    assert str(e.value) == message


def test_null_body_is_an_empty_object_and_go_tolerated_bytes_are_accepted() -> None:
    assert parse_body(b"null", JSON) == {}
    assert parse_body(b'{"a":"x\xffy"}', JSON) == {"a": "x\ufffdy"}          # Go replaces bad UTF-8
    assert parse_body(b'{"a":"\\ud800"}', JSON) == {"a": "\ufffd"}          # and lone surrogates
    assert parse_body(b'{"a":123456789012345678901234567890}', JSON) == {"a": 1.2345678901234568e29}  # as Go's float64


@pytest.mark.parametrize(("body", "want"), [
    (b'{"a":1,"a":2}', ['duplicate field "a"']),
    (b'{"a":1,"b":{"c":1,"c":2},"a":3,"a":4}', ['duplicate field "a"', 'duplicate field "b.c"']),
    (b'{"l":[{"x":1},{"x":1,"x":2}]}', ['duplicate field "l[1].x"']),
    (b'{"a":"x:y","b":"\\u003a"}', []),
    (b'{"a":"\\u003a","a":1}', ['duplicate field "a"']),
    (b'{"a":{"b:c":1},"d":"e:f"}', []),
])
def test_duplicate_fields(body: bytes, want: list[str]) -> None:
    dups: list[str] = []
    obj = parse_body(body, JSON, duplicates=dups)
    assert dups == want
    assert obj == orjson.loads(body)                  # the last value wins, as in Go


def test_duplicate_check_keeps_the_common_path_fast() -> None:
    body = orjson.dumps(DEPLOYMENT)
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        parse_body(body, JSON, duplicates=[])
    with_check = (time.perf_counter() - start) / n
    assert with_check < 50e-6, f"{with_check * 1e6:.1f} µs"


# ------------------------------------------------------------------------------------------ YAML

@pytest.mark.parametrize(("text", "want"), [
    ("yes", True), ("on", True), ("y", True), ("N", False), ("off", False), ("~", None), ("null", None),
    ("012", 10), ("0x1F", 31), ("0o17", 15), ("0b101", 5), ("-0b101", -5), ("1_000", 1000), ("+5", 5),
    ("08", 8.0), ("1e3", 1000.0), (".5", 0.5), ("1.", 1.0),
    ("2008-01-01", "2008-01-01"), ("12:30", "12:30"), ("=", "="), (".1_0", ".1_0"), ("0x", "0x"),
    ("18446744073709551615", 18446744073709551615), ("Yes please", "Yes please"),
])
def test_go_yaml_plain_scalars(text: str, want: Any) -> None:
    got = go_yaml_scalar(text)
    assert got == want and type(got) is type(want)


def test_yaml_body_converts_like_sigs_k8s_io_yaml() -> None:
    body = b"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  quoted: "yes"
  float: 2.0
  big: 1e30
  when: 2008-01-01T01:01:01Z
  anchor: &a hello
  alias: *a
on: 1
list: [1.0, 2.5, yes, [3.0]]
1.5: half
3: three
"""
    obj = parse_body(body, YAML)
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                   "data": {"quoted": "yes", "float": 2, "big": 1e30, "when": "2008-01-01T01:01:01Z",
                            "anchor": "hello", "alias": "hello"},
                   "true": 1, "list": [1, 2.5, True, [3]], "1.5": "half", "3": "three"}
    assert type(obj["data"]["float"]) is int                # Go's JSON writes 2.0 as 2


def test_yaml_duplicates_use_go_yaml_strict_wording() -> None:
    dups: list[str] = []
    obj = parse_body(b"a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", YAML, duplicates=dups)
    assert obj == {"a": 3, "b": {"c": 2}}
    assert dups == ['yaml: unmarshal errors:\n  line 4: key "c" already set in map\n'
                    '  line 5: key "a" already set in map']


@pytest.mark.parametrize(("body", "message"), [
    (b"a: 1\n---\nb: 2\n", "multi-document"),
    (b"a: [1\n", "yaml: line"),
    (b"a: .inf\n", "json: unsupported value: +Inf"),
    (b"- 1\n", "cannot unmarshal array"),
    (b"? [1, 2]\n: x\n", "invalid map key"),
])
def test_yaml_errors(body: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=re.escape(message)):
        parse_body(body, YAML)


def test_empty_yaml_is_an_empty_object() -> None:
    assert parse_body(b"", YAML) == {}
    assert parse_body(b"# nothing\n", "application/yaml; charset=utf-8") == {}


# ------------------------------------------------------------------------------------------ protobuf

def test_protobuf_bodies_go_through_the_codec() -> None:
    text = (SHARED / "kubectl-transcripts" / "16-auth_can-i_create_pods.txt").read_text()
    hexdata = re.search(r"PROTOBUF\(hex\): ([0-9a-f]+)", text)
    assert hexdata
    obj = parse_body(bytes.fromhex(hexdata.group(1)), protobuf.CONTENT_TYPE)
    assert obj["kind"] == "SelfSubjectAccessReview"
    with pytest.raises(BodyError, match="does not appear to be a protobuf message"):
        parse_body(b"{}", protobuf.CONTENT_TYPE)


def test_unknown_content_type() -> None:
    with pytest.raises(BodyError, match="unsupported content type"):
        parse_body(b"{}", "text/plain")


# ------------------------------------------------------------------------------------------ check_object

DEPLOY_TI = of_kind("apps/v1", "Deployment")


def _check(obj: dict[str, Any], api_version: str = "apps/v1", kind: str = "Deployment",
           mode: str = "Strict") -> CheckResult:
    ti = of_kind(api_version, kind)
    assert ti is not None
    return check_object(obj, ti, mode=mode)  # type: ignore[arg-type]


def test_valid_deployment_passes_unchanged() -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    result = _check(obj)
    assert result == CheckResult()
    assert obj == DEPLOYMENT


@pytest.mark.parametrize("mode", ["Strict", "Warn", "Ignore"])
def test_unknown_fields_are_reported_and_pruned(mode: str) -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    obj["spec"]["foo"] = 1
    obj["metadata"]["bar"] = {"x": 1}
    obj["spec"]["template"]["spec"]["containers"][0]["bogus"] = True
    obj["spec"]["template"]["spec"]["volumes"] = [{"name": "v", "emptyDir": {}, "nope": 1}]
    result = _check(obj, mode=mode)
    assert result.unknown == ["metadata.bar", "spec.template.spec.containers[0].bogus",
                              "spec.template.spec.volumes[0].nope", "spec.foo"]     # document order, as Go finds them
    assert result.type_errors == []
    assert result.strict_errors(['duplicate field "a"'])[:2] == ['duplicate field "a"', 'unknown field "metadata.bar"']
    assert obj["spec"]["template"]["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]   # inline VolumeSource
    assert "foo" not in obj["spec"] and "bar" not in obj["metadata"]


def test_case_matters_like_upstreams_case_sensitive_decoder() -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    obj["spec"]["Replicas"] = 1
    assert _check(obj).unknown == ["spec.Replicas"]


@pytest.mark.parametrize(("path", "value", "message"), [
    (("spec", "replicas"), "3",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (("spec", "replicas"), 1.5,
     "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (("spec", "replicas"), 1 << 40,
     "json: cannot unmarshal number 1099511627776 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (("spec", "paused"), "yes",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    (("spec",), "x", "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"),
    (("metadata", "labels"), ["a"],
     "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    (("metadata", "labels", "app"), 5,
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    (("spec", "template", "spec", "containers"), {},
     "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type "
     "[]v1.Container"),
    (("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "80",
     "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports."
     "containerPort of type int32"),
    (("spec", "strategy"), {"rollingUpdate": {"maxSurge": True}},
     "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge "
     "of type int32"),
    (("metadata", "creationTimestamp"), "yesterday",
     'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'),
    (("metadata", "creationTimestamp"), 5,
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
    (("spec", "template", "spec", "containers", 0, "resources", "limits", "cpu"), "lots",
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    (("spec", "template", "spec", "containers", 0, "resources", "limits", "cpu"), True,
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
])
def test_type_errors_read_like_go(path: tuple[Any, ...], value: Any, message: str) -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    target: Any = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert _check(obj, mode="Ignore").type_errors[0] == message


def test_the_fatal_error_is_reported_first_as_go_returns_it() -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    obj["spec"]["replicas"] = "3"                          # a saved type error, earlier in the document
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "lots"   # a fatal one
    errors = _check(obj).type_errors
    assert errors[0].startswith("quantities must match")
    assert errors[1].startswith("json: cannot unmarshal string")


@pytest.mark.parametrize(("value", "want"), [
    ("0.5", "500m"), ("1000m", "1"), ("100M", "100M"), (2, "2"), (0.25, "250m"), ("1.5Gi", "1536Mi"),
])
def test_quantities_are_canonicalised(value: Any, want: str) -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = value
    assert _check(obj).type_errors == []
    assert obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == want


@pytest.mark.parametrize(("value", "want"), [
    ("2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00Z"), ("2024-05-01T10:00:00.75Z", "2024-05-01T10:00:00Z"),
    (None, None),
])
def test_times_are_accepted_and_made_canonical(value: Any, want: Any) -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    obj["metadata"]["creationTimestamp"] = value
    assert _check(obj).type_errors == []
    assert obj["metadata"]["creationTimestamp"] == want


def test_int_or_string_raw_json_and_secret_bytes() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}]}}
    assert _check(svc, "v1", "Service") == CheckResult()
    cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"}, "revision": 1,
          "data": {"anything": [1, {"goes": True}], "here": None}}
    assert _check(cr, "apps/v1", "ControllerRevision") == CheckResult()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"ok": "aGVsbG8=",
                                                                                      "bad": "aGVsbG8"}}
    assert _check(secret, "v1", "Secret").type_errors == ["illegal base64 data at input byte 4"]


def test_events_micro_time_and_status_conditions() -> None:
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
          "eventTime": "2024-01-01T00:00:00.123456Z", "reportingController": "x"}
    assert _check(ev, "events.k8s.io/v1", "Event") == CheckResult()
    ev["eventTime"] = "2024-01-01T00:00:00Z"
    assert _check(ev, "events.k8s.io/v1", "Event").type_errors == [
        'parsing time "2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"']


def test_crd_schema_unions_drop_unknown_silently() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "foos.example.com"},
           "spec": {"group": "example.com", "names": {"plural": "foos", "kind": "Foo"}, "scope": "Namespaced",
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                                "default": {"a": 1}}},
                        "additionalProperties": False,
                        "items": {"type": "string", "bogus": 1}}}}]}}
    result = _check(crd, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert result == CheckResult()
    schema_ = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema_["items"] == {"type": "string"}


# ------------------------------------------------------------------------------------------ custom resources

CR_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                         "properties": {"spec": {"type": "object"}}},
        }},
        "status": {"type": "object"},
    },
}


def test_custom_resources_are_pruned_by_their_structural_schema() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f", "junk": 1},
           "spec": {"replicas": 1, "zzz": 1, "items": [{"name": "a", "extra": 2}], "labels": {"a": "b"},
                    "free": {"anything": {"deep": 1}, "known": {"a": "x", "b": "y"}},
                    "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "nope": 1},
                                 "spec": {"x": 1}, "other": 1}},
           "status": {"s": 1}, "top": 1}
    result = check_object(obj, from_openapi(CR_SCHEMA), mode="Ignore")
    assert result.unknown == sorted(["metadata.junk", "spec.zzz", "spec.items[0].extra", "spec.free.known.b",
                                     "spec.template.metadata.nope", "spec.template.spec.x",
                                     "spec.template.other", "status.s", "top"])
    assert obj == {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"},
                   "spec": {"replicas": 1, "items": [{"name": "a"}], "labels": {"a": "b"},
                            "free": {"anything": {"deep": 1}, "known": {"a": "x"}},
                            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                         "spec": {}}},
                   "status": {}}


def test_custom_resource_preserving_everything() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"}, "spec": {"x": [1]}}
    ti = from_openapi({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    assert check_object(obj, ti, mode="Strict") == CheckResult()
    assert obj["spec"] == {"x": [1]}


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown field validation mode"):
        check_object({}, DEPLOY_TI, mode="Loose")  # type: ignore[arg-type, arg-type]


def test_cannot_handle_wording() -> None:
    assert cannot_handle("Deployment", "v1", "strict decoding error: unknown field \"spec.foo\"") == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field '
        '"spec.foo"')


def test_parse_and_check_of_a_typical_deployment_is_fast() -> None:
    body = orjson.dumps(DEPLOYMENT)
    n = 1000
    start = time.perf_counter()
    for _ in range(n):
        check_object(parse_body(body, JSON, duplicates=[]), DEPLOY_TI, mode="Strict")
    per = (time.perf_counter() - start) / n
    assert per < 150e-6, f"{per * 1e6:.0f} µs"
