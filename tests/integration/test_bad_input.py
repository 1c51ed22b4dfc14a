"""Bad input over raw HTTPS: every refusal is a ``metav1.Status`` with upstream's code and reason, never a 500 or
a traceback, and never leaves a half-written object behind (each test reads the object back after).

Requests go through ``requests`` with the admin client certificate from the server's kubeconfig, so the bodies,
Content-Types and query strings are exactly what the test writes — no client library cleans them up first.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from http import client as http_client
from typing import Any

import pytest
import requests
import yaml

from tests.harness import Server

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
LIMIT = 3 * 1024 * 1024                 # upstream's MaxRequestBodyBytes
STATUS_KEYS = ("kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code")
NOT_FOUND_BODY = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could '
                  b'not find the requested resource","reason":"NotFound","details":{},"code":404}\n')
JSON, YAML, PROTOBUF = "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"
MERGE, SMP, JSONPATCH, APPLY = ("application/merge-patch+json", "application/strategic-merge-patch+json",
                                "application/json-patch+json", "application/apply-patch+yaml")


@dataclass
class Http:
    """Raw HTTPS to the server as the admin user (client certificate)."""

    session: requests.Session
    url: str

    def __call__(self, method: str, path: str, body: Any = None, *, ct: str | None = JSON,
                 headers: dict[str, str] | None = None) -> requests.Response:
        h = dict(headers or {})
        if ct is not None:
            h["Content-Type"] = ct
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        return self.session.request(method, self.url + path, data=body, headers=h, timeout=30)


@pytest.fixture(scope="module")
def http(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    kc = yaml.safe_load(server.kubeconfig.read_text())
    cluster, user = kc["clusters"][0]["cluster"], kc["users"][0]["user"]
    d = tmp_path_factory.mktemp("raw-https")
    paths = {}
    for name, key in (("ca", cluster["certificate-authority-data"]), ("crt", user["client-certificate-data"]),
                      ("key", user["client-key-data"])):
        paths[name] = d / name
        paths[name].write_bytes(base64.b64decode(key))
    s = requests.Session()
    s.trust_env = False                 # REQUESTS_CA_BUNDLE in the environment would override `verify`
    s.verify = str(paths["ca"])
    s.cert = (str(paths["crt"]), str(paths["key"]))
    # Go clients take any number of headers; http.client refuses a response with over 100, yet upstream's warning
    # recorder allows 4 Ki runes of Warning text, i.e. ~240 short unknown-field warnings under fieldValidation=Warn.
    max_headers = http_client._MAXHEADERS
    http_client._MAXHEADERS = 1000
    yield Http(s, server.url)
    http_client._MAXHEADERS = max_headers
    s.close()


@pytest.fixture(scope="module", autouse=True)
def no_server_tracebacks(server: Server) -> Iterator[None]:
    """Whatever these tests send, the server logs no failed request and no unhandled exception."""
    start = len(server.log)
    yield
    new = "".join(server.log[start:])
    for marker in ("request failed", "Unhandled exception", "Traceback"):
        assert marker not in new, f"server logged {marker!r}:\n{new[-4000:]}"


def go_json(obj: Any) -> bytes:
    """``obj`` as Go's json.Encoder writes it: compact, HTML characters escaped, newline-terminated."""
    out = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    for ch, esc in ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
                    ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029")):
        out = out.replace(ch, esc)
    return out + b"\n"


def expect_status(resp: requests.Response, code: int, reason: str, message: str | None = None, *,
                  prefix: str | None = None) -> Obj:
    """Check a failure response is exactly a metav1.Status as the Go server writes it, and return it."""
    assert resp.status_code == code, (resp.status_code, resp.text[:2000])
    assert resp.headers["Content-Type"].split(";")[0] == "application/json"
    st = resp.json()
    assert resp.content == go_json(st), resp.content[:500]
    assert list(st) == [k for k in STATUS_KEYS if k in st]
    assert (st["kind"], st["apiVersion"], st["metadata"], st["status"]) == ("Status", "v1", {}, "Failure")
    assert st["code"] == code and st.get("reason", "") == reason, st
    assert st["message"] and "Traceback" not in st["message"] and 'File "' not in st["message"]
    if message is not None:
        assert st["message"] == message
    if prefix is not None:
        assert st["message"].startswith(prefix), st["message"]
    return st


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def deploy_path(ns: str, name: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments" + (f"/{name}" if name else "")


def assert_absent(http: Http, path: str) -> None:
    r = http("GET", path, ct=None)
    assert r.status_code == 404, f"{path} exists after a refused write: {r.text[:500]}"


def assert_no_configmaps(http: Http, ns: str) -> None:
    """Nothing but what the cluster itself puts in a namespace (kube-root-ca.crt) was written."""
    r = http("GET", cm_path(ns) + "?fieldSelector=metadata.name!=kube-root-ca.crt", ct=None)
    assert r.status_code == 200 and r.json()["items"] == [], r.text[:1000]


def deployment(name: str = "d", **spec: Any) -> Obj:
    base = {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {**base, **spec}}


def unrecognized(kind: str, why: str, summary: str) -> str:
    return f"the object provided is unrecognized (must be of type {kind}): {why} ({summary})"


FIND_KIND = ('struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
             'Kind string "json:\\"kind,omitempty\\"" }')


# ---------------------------------------------------------------------------------------------------- malformed bodies
@pytest.mark.parametrize(("ct", "body", "message"), [
    (JSON, b'{"metadata": {"name": "x"',
     unrecognized("ConfigMap", "couldn't get version/kind; json parse error: unexpected end of JSON input",
                  '{"metadata": {"name": "x"')),
    (JSON, b'{"metadata": {"name": "x"}}}',
     unrecognized("ConfigMap", "couldn't get version/kind; json parse error: invalid character '}' after top-level "
                  "value", '{"metadata": {"name": "x"}}}')),
    (JSON, b"",
     unrecognized("ConfigMap", "couldn't get version/kind; json parse error: unexpected end of JSON input",
                  "<empty>")),
    (JSON, b"[1,2]",
     unrecognized("ConfigMap", "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go "
                  f"value of type {FIND_KIND}", "5b312c325d")),
    (JSON, b'"str"',
     unrecognized("ConfigMap", "couldn't get version/kind; json parse error: json: cannot unmarshal string into Go "
                  f"value of type {FIND_KIND}", "2273747222")),
    (JSON, b'{"kind": 1, "metadata": {"name": "x"}}', None),
    (JSON, b"\xff\xfe", None),
    (JSON, b'{"metadata":{"name":"x"},"data":' + b"[" * 20000 + b"]" * 20000 + b"}", None),
    (JSON, b'{"metadata":{"name":"x"},"data":{"a":NaN}}', None),
    (YAML, b"metadata: [x", None),
    (YAML, b"\tmetadata: x", None),
    (YAML, b"metadata: &a [*a]", None),
    (YAML, b"metadata:\n  name: " + b"[" * 10000, None),
    (PROTOBUF, b"garbage!", unrecognized("ConfigMap", "provided data does not appear to be a protobuf message, "
                                          "expected prefix [107 56 115 0]", "6761726261676521")),
    (PROTOBUF, b"k8s\x00", unrecognized("ConfigMap", "empty body", "6b387300")),
    (PROTOBUF, b"k8s\x00\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", None),
    (PROTOBUF, b'{"metadata":{"name":"x"}}', None),
])
def test_malformed_body_is_400(http: Http, ns: str, ct: str, body: bytes, message: str | None) -> None:
    st = expect_status(http("POST", cm_path(ns), body, ct=ct), 400, "BadRequest", message)
    if message is None:
        assert st["message"].startswith(("the object provided is unrecognized (must be of type ConfigMap): ",
                                         'ConfigMap in version "v1" cannot be handled as a ConfigMap: ')), st
    assert_no_configmaps(http, ns)


def test_yaml_numbers_beyond_go_ranges(http: Http, ns: str) -> None:
    """Found by the fuzzer (both were 500s): sigs.k8s.io/yaml names float keys at float32 precision, so 1e300
    overflows to ".inf"; a binary literal beyond int64 stays the string go-yaml leaves it."""
    big = "-0b" + "1" * 70
    body = f"metadata: {{name: fk}}\ndata: {{1e300: a, -1e300: b, 0.1: c, d: {big}}}\n".encode()
    r = http("POST", cm_path(ns), body, ct=YAML)
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {".inf": "a", "-.inf": "b", "0.1": "c", "d": big}
    r = http("DELETE", cm_path(ns), f"gracePeriodSeconds: {big}\n".encode(), ct=YAML)
    expect_status(r, 400, "BadRequest")


@pytest.mark.parametrize(("ct", "body"), [
    ("text/plain", b'{"metadata":{"name":"x"}}'),
    ("application/xml", b"<configmap/>"),
    ("application/cbor", b"\xa0"),
])
def test_unsupported_content_type_is_415(http: Http, ns: str, ct: str, body: bytes) -> None:
    expect_status(http("POST", cm_path(ns), body, ct=ct), 415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types include: "
                  "application/json, application/yaml, application/vnd.kubernetes.protobuf")
    assert_no_configmaps(http, ns)


@pytest.mark.parametrize("encoding", ["gzip", "br", "x-unknown"])
def test_content_encoding_is_not_undone(http: Http, ns: str, encoding: str) -> None:
    """Go's server never decompresses a request body: compressed bytes are a decoding error (as a Status, not the
    HTTP parser's plain text), and a plain body is read as sent whatever Content-Encoding claims."""
    body = gzip.compress(b'{"metadata":{"name":"z"}}')
    expect_status(http("POST", cm_path(ns), body, headers={"Content-Encoding": encoding}), 400, "BadRequest",
                  prefix="the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; "
                  "json parse error: invalid character '\\x1f' looking for beginning of value")
    assert_no_configmaps(http, ns)
    r = http("POST", cm_path(ns), {"metadata": {"name": "plain"}}, headers={"Content-Encoding": encoding})
    assert r.status_code == 201, r.text


def test_unsupported_method_is_405(http: Http, ns: str) -> None:
    r = http("OPTIONS", cm_path(ns), ct=None)
    expect_status(r, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    assert r.json()["details"] == {"kind": "configmaps"}
    r = http("OPTIONS", deploy_path(ns), ct=None)
    assert expect_status(r, 405, "MethodNotAllowed")["details"] == {"group": "apps", "kind": "deployments"}


def test_unacceptable_accept_is_406(http: Http, ns: str) -> None:
    st = expect_status(http("GET", cm_path(ns), ct=None, headers={"Accept": "text/html"}), 406, "NotAcceptable")
    assert "application/json" in st["message"]


# ---------------------------------------------------------------------------------------------------- wrong types
def cannot_handle(kind: str, why: str) -> str:
    return f'{kind} in version "v1" cannot be handled as a {kind}: {why}'


@pytest.mark.parametrize(("change", "why"), [
    ({"spec": {"replicas": "three"}},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"spec": {"replicas": 2.5}},
     "json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"spec": {"replicas": 3000000000}},
     "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"spec": {"replicas": True}},
     "json: cannot unmarshal bool into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"spec": {"paused": "yes"}},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    ({"spec": {"template": {"spec": {"containers": {"name": "c"}}}}},
     "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type "
     "[]v1.Container"),
    ({"metadata": "d"}, "json: cannot unmarshal string into Go struct field Deployment.metadata of type v1.ObjectMeta"),
    ({"metadata": {"name": "d", "labels": ["a"]}},
     "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    ({"metadata": {"name": "d", "labels": {"a": 1}}},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
])
def test_wrong_types_are_400(http: Http, ns: str, change: Obj, why: str) -> None:
    body = deployment()
    for key, value in change.items():
        if key == "spec" and isinstance(value, dict) and "template" in value:
            body["spec"]["template"]["spec"].update(value["template"]["spec"])
        elif key == "spec":
            body["spec"].update(value)
        else:
            body[key] = value
    expect_status(http("POST", deploy_path(ns), body), 400, "BadRequest", cannot_handle("Deployment", why))
    assert_absent(http, deploy_path(ns, "d"))


def test_wrong_types_on_update_leave_the_object_alone(http: Http, ns: str) -> None:
    created = http("POST", deploy_path(ns), deployment()).json()
    bad = json.loads(json.dumps(created))
    bad["spec"]["replicas"] = "many"
    expect_status(http("PUT", deploy_path(ns, "d"), bad), 400, "BadRequest", cannot_handle(
        "Deployment", "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"))
    # A patch that yields a wrong type is a kind-less 422 on the field "patch", in every validation mode.
    for mode in ("Strict", "Warn", "Ignore"):
        st = expect_status(http("PATCH", deploy_path(ns, "d") + f"?fieldValidation={mode}",
                                {"spec": {"replicas": "many"}}, ct=MERGE), 422, "Invalid")
        assert st["message"].startswith(' "" is invalid: patch: Invalid value: "{')
        assert st["message"].endswith('": json: cannot unmarshal string into Go struct field DeploymentSpec.'
                                      "spec.replicas of type int32")
        assert [c["field"] for c in st["details"]["causes"]] == ["patch"]
    st = expect_status(http("PATCH", deploy_path(ns, "d"), {"spec": {"replicas": "many"}}, ct=SMP), 422, "Invalid")
    assert st["message"] == (' "" is invalid: patch: Invalid value: "map[spec:map[replicas:many]]": json: cannot '
                             "unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32")
    # The deployment controller may write status meanwhile; the spec and its generation must be untouched.
    after = http("GET", deploy_path(ns, "d"), ct=None).json()
    assert (after["metadata"]["generation"], after["spec"]) == (created["metadata"]["generation"], created["spec"])


# ---------------------------------------------------------------------------------------------------- field validation
UNKNOWN = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "d", "bogus": 1},
           "spec": {"foo": 1, "selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx", "baz": 3}]}}}}
UNKNOWN_MSGS = ['unknown field "metadata.bogus"', 'unknown field "spec.foo"',
                'unknown field "spec.template.spec.containers[0].baz"']


def warnings_of(resp: requests.Response) -> list[str]:
    raw = resp.raw.headers.getlist("Warning") if hasattr(resp.raw.headers, "getlist") else []
    out = []
    for h in raw:
        assert h.startswith('299 - "') and h.endswith('"'), h
        out.append(h[len('299 - "'):-1].replace('\\"', '"').replace("\\\\", "\\"))
    return out


@pytest.mark.parametrize("mode", ["Strict", "Warn", "Ignore", None])
def test_unknown_fields_by_field_validation(http: Http, ns: str, mode: str | None) -> None:
    query = f"?fieldValidation={mode}" if mode else ""
    r = http("POST", deploy_path(ns) + query, UNKNOWN)
    if mode == "Strict":
        expect_status(r, 400, "BadRequest", cannot_handle("Deployment", "strict decoding error: "
                                                          + ", ".join(UNKNOWN_MSGS)))
        assert_absent(http, deploy_path(ns, "d"))
        return
    assert r.status_code == 201, r.text
    # Warn is the default; Ignore drops the fields silently. Either way they are not stored.
    assert warnings_of(r) == ([] if mode == "Ignore" else UNKNOWN_MSGS)
    stored = http("GET", deploy_path(ns, "d"), ct=None).json()
    assert "bogus" not in stored["metadata"] and "foo" not in stored["spec"]
    assert "baz" not in stored["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(("ct", "body"), [
    (MERGE, {"bogus": 1, "data": {"b": "2"}}),
    (JSONPATCH, [{"op": "add", "path": "/bogus", "value": 1}]),
])
def test_unknown_fields_in_patches(http: Http, ns: str, ct: str, body: Any) -> None:
    rv = http("POST", cm_path(ns), {"metadata": {"name": "p"}, "data": {"a": "1"}}).json()["metadata"][
        "resourceVersion"]
    st = expect_status(http("PATCH", cm_path(ns, "p") + "?fieldValidation=Strict", body, ct=ct), 422, "Invalid")
    assert st["message"].endswith('": strict decoding error: unknown field "bogus"')
    assert st["details"]["causes"][0]["field"] == "patch"
    assert http("GET", cm_path(ns, "p"), ct=None).json()["metadata"]["resourceVersion"] == rv
    r = http("PATCH", cm_path(ns, "p") + "?fieldValidation=Warn", body, ct=ct)
    assert r.status_code == 200 and warnings_of(r) == ['unknown field "bogus"']
    assert "bogus" not in r.json()


def test_unknown_fields_in_strategic_merge_patch(http: Http, ns: str) -> None:
    http("POST", cm_path(ns), {"metadata": {"name": "p"}, "data": {"a": "1"}})
    st = expect_status(http("PATCH", cm_path(ns, "p") + "?fieldValidation=Strict", {"bogus": 1}, ct=SMP),
                       422, "Invalid")
    assert st["message"] == ' "" is invalid: patch: Invalid value: "map[bogus:1]": strict decoding error: ' \
                            'unknown field "bogus"'
    assert st["details"] == {"causes": [{"reason": "FieldValueInvalid", "message": 'Invalid value: "map[bogus:1]": '
                                         'strict decoding error: unknown field "bogus"', "field": "patch"}]}


def test_duplicate_fields(http: Http, ns: str) -> None:
    body = b'{"metadata":{"name":"a","name":"b"},"data":{"k":"1","k":"2"}}'
    expect_status(http("POST", cm_path(ns) + "?fieldValidation=Strict", body), 400, "BadRequest", cannot_handle(
        "ConfigMap", 'strict decoding error: duplicate field "metadata.name", duplicate field "data.k"'))
    assert_no_configmaps(http, ns)
    r = http("POST", cm_path(ns) + "?fieldValidation=Warn", body)
    assert r.status_code == 201 and warnings_of(r) == ['duplicate field "metadata.name"', 'duplicate field "data.k"']
    assert (r.json()["metadata"]["name"], r.json()["data"]) == ("b", {"k": "2"})      # the last one wins


def test_duplicate_yaml_keys(http: Http, ns: str) -> None:
    body = b"metadata:\n  name: a\n  name: b\n"
    st = expect_status(http("POST", cm_path(ns) + "?fieldValidation=Strict", body, ct=YAML), 400, "BadRequest")
    assert st["message"].startswith(cannot_handle("ConfigMap", "strict decoding error: yaml: unmarshal errors:\n"))
    assert 'key "name" already set in map' in st["message"]
    assert_no_configmaps(http, ns)
    # Warn: go-yaml's multi-line message cannot be a header; upstream drops it and so do we (no broken response).
    r = http("POST", cm_path(ns), body, ct=YAML)
    assert r.status_code == 201 and r.json()["metadata"]["name"] == "b"
    assert warnings_of(r) == []


def test_bad_field_validation_value(http: Http, ns: str) -> None:
    # Upstream validates the decoded CreateOptions: one 422 naming the options kind.
    st = expect_status(http("POST", cm_path(ns) + "?fieldValidation=Loose", {"metadata": {"name": "x"}}), 422,
                       "Invalid", 'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: '
                       '"Loose": supported values: "", "Ignore", "Strict", "Warn"')
    assert st["details"]["kind"] == "CreateOptions" and st["details"]["group"] == "meta.k8s.io"
    assert_no_configmaps(http, ns)


# ---------------------------------------------------------------------------------------------------- invalid names
RFC1123_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                     "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


@pytest.mark.parametrize("name", ["Bad_Name", "UPPER", "-a", "a-", "a b", "x<y&z>", "ünï", "a" * 254])
def test_invalid_object_name_is_422(http: Http, ns: str, name: str) -> None:
    st = expect_status(http("POST", cm_path(ns), {"metadata": {"name": name}}), 422, "Invalid")
    detail = "must be no more than 253 characters" if len(name) > 253 else RFC1123_SUBDOMAIN
    shown = json.dumps(name, ensure_ascii=False)
    assert st["message"] == f"ConfigMap {shown} is invalid: metadata.name: Invalid value: {shown}: {detail}"
    assert st["details"] == {"name": name, "kind": "ConfigMap", "causes": [
        {"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {detail}", "field": "metadata.name"}]}
    assert_no_configmaps(http, ns)


def test_missing_name_and_bad_generate_name(http: Http, ns: str) -> None:
    expect_status(http("POST", cm_path(ns), {"metadata": {}}), 422, "Invalid",
                  'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required')
    st = expect_status(http("POST", cm_path(ns), {"metadata": {"generateName": "Bad_"}}), 422, "Invalid")
    assert "metadata.generateName: Invalid value: \"Bad_\"" in st["message"]
    assert_no_configmaps(http, ns)


def test_invalid_namespace_name_is_422(http: Http) -> None:
    st = expect_status(http("POST", "/api/v1/namespaces", {"metadata": {"name": "Not_A_Label"}}), 422, "Invalid")
    assert st["message"].startswith('Namespace "Not_A_Label" is invalid: metadata.name: Invalid value: '
                                    '"Not_A_Label": a lowercase RFC 1123 label must consist of')
    assert_absent(http, "/api/v1/namespaces/Not_A_Label")


def test_name_mismatch_on_update_is_400(http: Http, ns: str) -> None:
    created = http("POST", cm_path(ns), {"metadata": {"name": "keep"}, "data": {"a": "1"}}).json()
    other = {**created, "metadata": {**created["metadata"], "name": "other"}}
    expect_status(http("PUT", cm_path(ns, "keep"), other), 400, "BadRequest",
                  "the name of the object (other) does not match the name on the URL (keep)")
    elsewhere = {**created, "metadata": {**created["metadata"], "namespace": "default"}}
    expect_status(http("PUT", cm_path(ns, "keep"), elsewhere), 400, "BadRequest",
                  "the namespace of the provided object does not match the namespace sent on the request")
    assert_absent(http, cm_path(ns, "other"))
    assert http("GET", cm_path(ns, "keep"), ct=None).json()["metadata"]["resourceVersion"] == \
        created["metadata"]["resourceVersion"]


# ---------------------------------------------------------------------------------------------------- unknown things
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/widgets"),
    ("GET", "/api/v1/namespaces/default/widgets"),
    ("POST", "/api/v1/namespaces/default/widgets"),
    ("GET", "/api/v2/pods"),
    ("GET", "/apis/nope.example.com/v1/things"),
    ("POST", "/apis/nope.example.com/v1/namespaces/default/things"),
    ("GET", "/apis/apps/v9/deployments"),
    ("GET", "/apis/apps/v1/namespaces/default/deployments/x/nosuchsubresource"),
    ("GET", "/api/v1/namespaces/default/configmaps/x/status"),
    ("DELETE", "/apis/nope.example.com/v1/things"),
    ("GET", "/nonsense"),
])
def test_unknown_resources_groups_versions_are_404(http: Http, method: str, path: str) -> None:
    r = http(method, path, {"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "x"}} if method == "POST"
             else None)
    expect_status(r, 404, "NotFound")
    assert r.content == NOT_FOUND_BODY


@pytest.mark.parametrize(("body", "fragment"), [
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}, "Pod"),
    ({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "x"}}, "Widget"),
    ({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, "apps/v1"),
    ({"apiVersion": "a/b/c", "kind": "ConfigMap", "metadata": {"name": "x"}}, "a/b/c"),
])
def test_unknown_or_mismatched_kind_in_body_is_400(http: Http, ns: str, body: Obj, fragment: str) -> None:
    st = expect_status(http("POST", cm_path(ns), body), 400, "BadRequest")
    assert fragment in st["message"]
    assert_no_configmaps(http, ns)


# ---------------------------------------------------------------------------------------------------- size limits
def chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (chunked transfer encoding), so the server has to count as it reads."""
    yield b'{"metadata":{"name":"big"},"data":{"a":"'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}}'


@pytest.mark.parametrize(("method", "ct", "chunked"), [
    ("POST", JSON, False), ("POST", JSON, True), ("POST", YAML, False), ("PUT", JSON, False),
    ("PATCH", MERGE, False), ("PATCH", MERGE, True), ("PATCH", APPLY, False),
])
def test_body_over_3mib_is_413(http: Http, ns: str, method: str, ct: str, chunked: bool) -> None:
    existing = http("POST", cm_path(ns), {"metadata": {"name": "big"}, "data": {"a": "small"}}).json()
    path = cm_path(ns) if method == "POST" else cm_path(ns, "big")
    if ct == APPLY:
        path += "?fieldManager=test"
    body: Any = chunks(LIMIT + 1) if chunked else json.dumps(
        {"metadata": {"name": "big"}, "data": {"a": "x" * (LIMIT + 1)}}).encode()
    expect_status(http(method, path, body, ct=ct), 413, "RequestEntityTooLarge",
                  f"Request entity too large: limit is {LIMIT}")
    after = http("GET", cm_path(ns, "big"), ct=None).json()
    assert after["metadata"]["resourceVersion"] == existing["metadata"]["resourceVersion"]
    assert after["data"] == {"a": "small"}


def test_object_over_1mib_under_the_body_limit_is_422(http: Http, ns: str) -> None:
    body = {"metadata": {"name": "big"}, "data": {"a": "x" * (2 * 1024 * 1024)}}
    expect_status(http("POST", cm_path(ns), body), 422, "Invalid",
                  'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes')
    annotations = {"metadata": {"name": "big", "annotations": {"a": "x" * 300_000}}}
    expect_status(http("POST", cm_path(ns), annotations), 422, "Invalid",
                  'ConfigMap "big" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes')
    assert_no_configmaps(http, ns)


# ---------------------------------------------------------------------------------------------------- namespaces
@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "x"}}),
    ("/apis/apps/v1/namespaces/{ns}/deployments", deployment("x")),
    ("/api/v1/namespaces/{ns}/services", {"metadata": {"name": "x"}, "spec": {"ports": [{"port": 80}]}}),
    ("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", {"metadata": {"name": "x"}, "rules": []}),
])
def test_create_in_missing_namespace_is_404(http: Http, ns: str, path: str, body: Obj) -> None:
    missing = f"{ns[:40]}-missing"
    expect_status(http("POST", path.format(ns=missing), body), 404, "NotFound",
                  f'namespaces "{missing}" not found')
    st = expect_status(http("GET", path.format(ns=missing) + "/x", ct=None), 404, "NotFound")
    assert st["details"]["name"] == "x"
    assert_absent(http, f"/api/v1/namespaces/{missing}")


def test_apply_and_update_in_missing_namespace(http: Http, ns: str) -> None:
    missing = f"{ns[:40]}-missing"
    apply = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
    expect_status(http("PATCH", cm_path(missing, "x") + "?fieldManager=t", apply, ct=APPLY), 404, "NotFound",
                  f'namespaces "{missing}" not found')
    expect_status(http("PUT", cm_path(missing, "x"), {"metadata": {"name": "x"}}), 404, "NotFound",
                  'configmaps "x" not found')
    assert_absent(http, cm_path(missing, "x"))


def test_create_in_terminating_namespace_is_403(http: Http, ns: str) -> None:
    name = f"{ns[:40]}-ending"
    http("POST", "/api/v1/namespaces", {"metadata": {"name": name, "finalizers": ["pybernetes.test/hold"]}})
    try:
        assert http("DELETE", f"/api/v1/namespaces/{name}", ct=None).status_code in (200, 202)
        st = expect_status(http("POST", cm_path(name), {"metadata": {"name": "x"}}), 403, "Forbidden",
                           f'configmaps "x" is forbidden: unable to create new content in namespace {name} because it '
                           "is being terminated")
        assert st["details"]["causes"] == [{"reason": "NamespaceTerminating",
                                            "message": f"namespace {name} is being terminated",
                                            "field": "metadata.namespace"}]
        assert_absent(http, cm_path(name, "x"))
    finally:
        http("PATCH", f"/api/v1/namespaces/{name}", {"metadata": {"finalizers": None}}, ct=MERGE)


# ---------------------------------------------------------------------------------------------------- protobuf
def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def field(num: int, data: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """``k8s\\0`` + runtime.Unknown{typeMeta: {apiVersion, kind}, raw} — the wire form kubectl 1.32 sends."""
    return b"k8s\x00" + field(1, field(1, api_version.encode()) + field(2, kind.encode())) + field(2, raw)


def pb_configmap(name: str, **data: str) -> bytes:
    meta = field(1, field(1, name.encode()))
    return meta + b"".join(field(2, field(1, k.encode()) + field(2, v.encode())) for k, v in data.items())


def test_protobuf_bodies(http: Http, ns: str) -> None:
    ok = http("POST", cm_path(ns), envelope("v1", "ConfigMap", pb_configmap("pb", k="v")), ct=PROTOBUF)
    assert ok.status_code == 201 and ok.json()["data"] == {"k": "v"}, ok.text
    st = expect_status(http("POST", cm_path(ns), envelope("v1", "ConfigMap", pb_configmap("Bad_PB")), ct=PROTOBUF),
                       422, "Invalid")
    assert st["message"].startswith('ConfigMap "Bad_PB" is invalid: metadata.name: Invalid value: "Bad_PB"')
    for body in (envelope("v1", "Pod", pb_configmap("x")), envelope("v1", "Widget", pb_configmap("x")),
                 envelope("v1", "ConfigMap", pb_configmap("trunc"))[:-3],
                 envelope("v1", "ConfigMap", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")):
        expect_status(http("POST", cm_path(ns), body, ct=PROTOBUF), 400, "BadRequest")
    missing = f"{ns[:40]}-missing"
    expect_status(http("POST", cm_path(missing), envelope("v1", "ConfigMap", pb_configmap("x")), ct=PROTOBUF),
                  404, "NotFound", f'namespaces "{missing}" not found')
    names = [c["metadata"]["name"] for c in http("GET", cm_path(ns), ct=None).json()["items"]]
    assert sorted(n for n in names if n != "kube-root-ca.crt") == ["pb"]


def test_kubectl_protobuf_errors(server: Server, ns: str) -> None:
    """kubectl 1.32 sends these creates as protobuf; its errors must read as against a real cluster."""
    p = server.kubectl("create", "configmap", "x", "-n", f"{ns[:40]}-missing", check=False)
    assert p.returncode == 1 and p.stderr.strip() == \
        f'error: failed to create configmap: namespaces "{ns[:40]}-missing" not found'
    p = server.kubectl("create", "namespace", "Bad_NS", check=False)
    assert p.returncode == 1
    assert p.stderr.startswith('The Namespace "Bad_NS" is invalid: metadata.name: Invalid value: "Bad_NS": '
                               "a lowercase RFC 1123 label must consist of"), p.stderr


# ---------------------------------------------------------------------------------------------------- patches
@pytest.mark.parametrize(("ct", "body", "code", "reason"), [
    (MERGE, b'{"data":', 400, "BadRequest"),
    (MERGE, b"[1]", 400, "BadRequest"),
    (SMP, b'"x"', 400, "BadRequest"),
    (SMP, b"{", 400, "BadRequest"),
    (JSONPATCH, b'{"op":"add"}', 400, "BadRequest"),
    (JSONPATCH, b"[1,2]", 400, "BadRequest"),
    (JSONPATCH, b'[{"op":"bogus","path":"/data/a"}]', 422, "Invalid"),
    (JSONPATCH, b'[{"op":"remove","path":"/data/missing"}]', 422, "Invalid"),
    (JSONPATCH, b'[{"op":"test","path":"/data/a","value":"other"}]', 422, "Invalid"),
    (JSONPATCH, b'[{"op":"add","path":"/no/such/parent","value":1}]', 422, "Invalid"),
    (JSONPATCH, b'[{"op":"replace","path":"/metadata/name","value":"renamed"}]', 400, "BadRequest"),
    (APPLY, b"data: [a", 400, "BadRequest"),
    (APPLY, b"- a\n- b\n", 400, "BadRequest"),
    ("application/x-bogus-patch", b"{}", 415, "UnsupportedMediaType"),
    (JSON, b"{}", 415, "UnsupportedMediaType"),
])
def test_bad_patches_leave_the_object_alone(http: Http, ns: str, ct: str, body: bytes, code: int,
                                            reason: str) -> None:
    rv = http("POST", cm_path(ns), {"metadata": {"name": "p"}, "data": {"a": "1"}}).json()["metadata"][
        "resourceVersion"]
    path = cm_path(ns, "p") + ("?fieldManager=test" if ct == APPLY else "")
    expect_status(http("PATCH", path, body, ct=ct), code, reason)
    after = http("GET", cm_path(ns, "p"), ct=None).json()
    assert (after["metadata"]["resourceVersion"], after["data"]) == (rv, {"a": "1"})
    assert_absent(http, cm_path(ns, "renamed"))


@pytest.mark.parametrize(("patch", "message"), [
    ({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
     "map: map[image:x] does not contain declared merge key: name"),
    ({"spec": {"$patch": "bogus"}}, "unknown patch type: bogus in map: map[$patch:bogus]"),
])
def test_broken_strategic_merge_patch_is_400_not_500(http: Http, ns: str, patch: Obj, message: str) -> None:
    """Upstream lets these plain Go errors out as 500s; they are the request's fault, so we answer 400."""
    created = http("POST", deploy_path(ns), deployment()).json()
    expect_status(http("PATCH", deploy_path(ns, "d"), patch, ct=SMP), 400, "BadRequest", message)
    after = http("GET", deploy_path(ns, "d"), ct=None).json()
    assert (after["metadata"]["generation"], after["spec"]) == (created["metadata"]["generation"], created["spec"])


def test_apply_without_field_manager_is_422(http: Http, ns: str) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
    expect_status(http("PATCH", cm_path(ns, "a"), body, ct=APPLY), 422, "Invalid",
                  'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    assert_absent(http, cm_path(ns, "a"))


# ---------------------------------------------------------------------------------------------------- query strings
@pytest.mark.parametrize(("method", "query", "message"), [
    ("GET", "limit=abc", None),
    ("GET", "labelSelector=a%20in%20(", None),
    ("GET", "labelSelector=a=b=c", None),
    ("GET", "fieldSelector=metadata.name", None),
    ("GET", "fieldSelector=spec.nope=1",
     '"spec.nope" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("GET", "resourceVersion=abc", None),
    ("GET", "continue=not-a-token", None),
    ("GET", "watch=true&timeoutSeconds=soon", None),
    ("DELETE", "gracePeriodSeconds=later", None),
])
def test_undecodable_query_parameters_are_400(http: Http, ns: str, method: str, query: str,
                                              message: str | None) -> None:
    expect_status(http(method, cm_path(ns) + "?" + query), 400, "BadRequest", message)
    assert_no_configmaps(http, ns)


@pytest.mark.parametrize(("method", "query", "message"), [
    ("GET", "resourceVersionMatch=Exact", 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
     "resourceVersionMatch is forbidden unless resourceVersion is provided"),
    ("GET", "resourceVersion=1&resourceVersionMatch=Sometimes", 'ListOptions.meta.k8s.io "" is invalid: '
     'resourceVersionMatch: Unsupported value: "Sometimes": supported values: "Exact", "NotOlderThan", ""'),
    ("POST", "dryRun=Maybe", 'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
     '[]string{"Maybe"}: supported values: "All"'),
])
def test_invalid_options_are_422(http: Http, ns: str, method: str, query: str, message: str) -> None:
    r = http(method, cm_path(ns) + "?" + query, {"metadata": {"name": "q"}} if method == "POST" else None)
    expect_status(r, 422, "Invalid", message)
    assert_no_configmaps(http, ns)


def test_delete_preconditions_and_bad_delete_options(http: Http, ns: str) -> None:
    created = http("POST", cm_path(ns), {"metadata": {"name": "d"}}).json()
    uid = created["metadata"]["uid"]
    expect_status(http("DELETE", cm_path(ns, "d"), {"kind": "DeleteOptions", "apiVersion": "v1",
                                                    "preconditions": {"uid": "not-the-uid"}}),
                  409, "Conflict", f'Operation cannot be fulfilled on configmaps "d": Precondition failed: UID in '
                  f"precondition: not-the-uid, UID in object meta: {uid}")
    expect_status(http("DELETE", cm_path(ns, "d"), b"not json"), 400, "BadRequest")
    expect_status(http("DELETE", cm_path(ns, "d") + "?propagationPolicy=Sideways"), 422, "Invalid")
    assert http("GET", cm_path(ns, "d"), ct=None).json()["metadata"]["uid"] == uid


def test_status_body_escapes_html_like_go(http: Http, ns: str) -> None:
    r = http("POST", cm_path(ns), {"metadata": {"name": "a<b>&c"}})
    expect_status(r, 422, "Invalid")
    assert b"a\\u003cb\\u003e\\u0026c" in r.content and b"<" not in r.content


def test_server_is_still_healthy(http: Http) -> None:
    r = http("GET", "/readyz", ct=None)
    assert (r.status_code, r.text) == (200, "ok")

