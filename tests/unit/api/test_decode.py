"""Request body decoding: the typed check, and parse_body (tested in test_bodyparse) as decode exports it."""

from __future__ import annotations

import copy
import time
from typing import Any

import orjson
import pytest

from pybernetes.api import bodyparse, decode
from pybernetes.api.decode import CheckResult, cannot_handle, check_object, parse_body
from pybernetes.api.typeinfo import from_openapi, of_kind

JSON = "application/json"

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                                   "ports": [{"containerPort": 80}],
                                                   "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]}}},
}


# ------------------------------------------------------------------------------------------ parse_body

def test_duplicate_check_keeps_the_common_path_fast() -> None:
    body = orjson.dumps(DEPLOYMENT)
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        parse_body(body, JSON, duplicates=[])
    with_check = (time.perf_counter() - start) / n
    assert with_check < 50e-6, f"{with_check * 1e6:.1f} µs"


@pytest.mark.parametrize("name", ["BodyError", "cannot_handle", "go_json_syntax_error", "go_yaml_scalar", "parse_body",
                                  "summarize"])
def test_parse_body_and_its_helpers_are_still_exported_here(name: str) -> None:
    assert getattr(decode, name) is getattr(bodyparse, name)


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


# ---------------------------------------------------------------------------------------------- remembered clean specs
def _pod_with(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **meta}, "spec": copy.deepcopy(spec)}


CLEAN_SPEC = {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "100m"}}}]}


@pytest.mark.parametrize(("spec", "want_spec", "unknown", "type_errors"), [
    (CLEAN_SPEC, CLEAN_SPEC, [], []),
    ({"containers": [{"name": "c", "image": "nginx", "bogus": 1}]},
     {"containers": [{"name": "c", "image": "nginx"}]}, ["spec.containers[0].bogus"], []),
    ({"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "0.1"}}}]},
     CLEAN_SPEC, [], []),
    ({"containers": [{"name": "c", "image": "nginx", "tty": None}]},
     {"containers": [{"name": "c", "image": "nginx", "tty": None}]}, [], []),
    ({"containers": [{"name": "c", "image": 5}]}, {"containers": [{"name": "c", "image": 5}]}, [],
     ["json: cannot unmarshal number into Go struct field Container.spec.containers.image of type string"]),
])
def test_a_spec_checked_again_gives_the_same_result(spec: dict[str, Any], want_spec: dict[str, Any],
                                                    unknown: list[str], type_errors: list[str]) -> None:
    """Specs the check left untouched and found nothing in are remembered; all others are checked every time."""
    pod = of_kind("v1", "Pod")
    assert pod is not None
    for i in range(3):
        obj = _pod_with(spec, uid=str(i))
        got = check_object(obj, pod)
        assert (obj["spec"], got.unknown, got.type_errors) == (want_spec, unknown, type_errors)
    remembered = ("k8s.io.api.core.v1.PodSpec", orjson.dumps(spec)) in decode._CLEAN
    assert remembered == (want_spec == spec and not unknown and not type_errors)
    assert not any(message.endswith("ObjectMeta") for message, _ in decode._CLEAN)


def test_a_remembered_spec_does_not_hide_metadata_errors() -> None:
    pod = of_kind("v1", "Pod")
    assert pod is not None
    check_object(_pod_with(CLEAN_SPEC), pod)
    got = check_object(_pod_with(CLEAN_SPEC, bogus=1), pod)
    assert got.unknown == ["metadata.bogus"]
