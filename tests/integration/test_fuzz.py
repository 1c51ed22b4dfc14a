"""Fuzz the API from its own OpenAPI v3 documents with schemathesis: no 5xx, ever, and every 4xx is a Status.

The server's ``/openapi/v3`` group-version documents (the ones kubectl reads) are loaded into schemathesis, and
each operation of a handful of resources (core configmaps, secrets, services; apps deployments; batch jobs) is
driven with generated requests: schema-conforming ones (positive), schema-violating ones (negative), and — to get
past the query-string checks into decoding and validation — generated objects posted as plain JSON and sent as
merge and strategic merge patches to a live object. Responses are checked, not the server's opinion of them: any
5xx, any 4xx body that is not a ``metav1.Status`` as Go writes it, or any 2xx that is not a JSON object fails.

Generation is bounded (``PYBERNETES_FUZZ_EXAMPLES`` per operation and mode, default 6) and derandomized so CI is
repeatable; set ``PYBERNETES_FUZZ_RANDOM=1`` to explore new inputs locally.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import schemathesis
import urllib3
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.harness import Server
from tests.integration.test_bad_input import STATUS_KEYS, Http, go_json
from tests.integration.test_bad_input import http as http  # the raw HTTPS fixture, shared
from tests.integration.test_bad_input import no_server_tracebacks as no_server_tracebacks

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
EXAMPLES = int(os.environ.get("PYBERNETES_FUZZ_EXAMPLES", "6"))
RANDOM = os.environ.get("PYBERNETES_FUZZ_RANDOM", "") == "1"
TARGET = "fuzz-target"
JSON, MERGE, SMP = "application/json", "application/merge-patch+json", "application/strategic-merge-patch+json"


@dataclass(frozen=True)
class Kind:
    doc: str                    # OpenAPI v3 document (key of /openapi/v3's paths)
    collection: str             # path template of the namespaced collection
    seed: Obj                   # a valid object, created as the target of item operations


KINDS = {
    "configmaps": Kind("api/v1", "/api/v1/namespaces/{namespace}/configmaps",
                       {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}),
    "secrets": Kind("api/v1", "/api/v1/namespaces/{namespace}/secrets",
                    {"apiVersion": "v1", "kind": "Secret", "stringData": {"a": "1"}}),
    "services": Kind("api/v1", "/api/v1/namespaces/{namespace}/services",
                     {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}),
    "deployments": Kind("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "spec": {"selector": {"matchLabels": {"app": "f"}}, "template": {
            "metadata": {"labels": {"app": "f"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
    "jobs": Kind("apis/batch/v1", "/apis/batch/v1/namespaces/{namespace}/jobs", {
        "apiVersion": "batch/v1", "kind": "Job",
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}}}),
}
# Pod-template kinds: schemathesis needs seconds per generated body (tens for schema-violating ones), so their
# PUT is fuzzed through POST's body strategy only and their bodies get no negative run.
HEAVY = frozenset({"deployments", "jobs"})
OPERATIONS = [(kind, method, item) for kind in KINDS
              for method, item in (("GET", False), ("POST", False), ("DELETE", False), ("GET", True),
                                   ("PUT", True), ("PATCH", True), ("DELETE", True))]


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def schemas(http: Http) -> dict[str, Any]:
    """Our own OpenAPI v3 documents, as kubectl finds them (index, then the hashed group-version URL)."""
    index = http("GET", "/openapi/v3", ct=None)
    assert index.status_code == 200, index.text[:500]
    out = {}
    for doc in {k.doc for k in KINDS.values()}:
        url = index.json()["paths"][doc]["serverRelativeURL"]
        r = http("GET", url, ct=None)
        assert r.status_code == 200, r.text[:500]
        out[doc] = schemathesis.openapi.from_dict(r.json())
    return out


@pytest.fixture(scope="module")
def ns(http: Http) -> Iterator[str]:
    """One namespace for the whole module (a kubectl-made namespace per operation would cost more than the fuzz),
    deleted afterwards so the controllers stop working on whatever the fuzz managed to create."""
    name = f"fuzz-{os.getpid()}-{secrets.token_hex(3)}"
    r = http("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text[:500]
    yield name
    http("DELETE", f"/api/v1/namespaces/{name}", ct=None)


def hypothesis_settings(examples: int) -> settings:
    # No shrinking: every problem is collected and reported at once, so the run stays bounded in time.
    return settings(max_examples=examples, deadline=None, database=None, derandomize=not RANDOM,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


# ---------------------------------------------------------------------------------------------------- checks
def problems_with(resp: requests.Response, what: str) -> list[str]:
    """What is wrong with a response: a 5xx, a 4xx that is not a Go-written Status, a 2xx that is not an object."""
    code = resp.status_code
    head = f"{what} -> {code}"
    if code >= 500:
        return [f"{head}: {resp.text[:600]}"]
    if (runes := warning_runes(resp)) > WARNING_BUDGET:
        return [f"{head}: {runes} runes of Warning headers (upstream caps them near {WARNING_BUDGET})"]
    try:
        body = resp.json()
    except ValueError:
        return [f"{head}: body is not JSON: {resp.content[:300]!r}"]
    if 200 <= code < 300:
        return [] if isinstance(body, dict) and body.get("kind") else [f"{head}: not an object: {resp.text[:300]}"]
    if not isinstance(body, dict) or body.get("kind") != "Status":
        return [f"{head}: 4xx without a Status: {resp.text[:300]}"]
    wrong = []
    if resp.content != go_json(body):
        wrong.append("not compact Go JSON with a trailing newline")
    if list(body) != [k for k in STATUS_KEYS if k in body]:
        wrong.append(f"key order {list(body)}")
    if (body.get("apiVersion"), body.get("metadata"), body.get("status"), body.get("code")) != \
            ("v1", {}, "Failure", code):
        wrong.append("apiVersion/metadata/status/code")
    if not body.get("reason") or not body.get("message") or "Traceback" in body["message"]:
        wrong.append("reason/message")
    return [f"{head}: {', '.join(wrong)}: {resp.text[:400]}"] if wrong else []


# Upstream's recorder writes at most 4 Ki runes of warning text, plus the one item (<= 256 runes) that crosses it.
WARNING_BUDGET = 4 * 1024 + 256


def warning_runes(resp: Any) -> int:
    """Characters of warning text in the response's Warning headers (``299 - "text"``, UTF-8 on the wire), from a
    ``requests`` response (its raw headers keep repeated fields apart) or a schemathesis one (name -> values)."""
    if (raw := getattr(resp, "raw", None)) is not None:
        values = raw.headers.getlist("Warning")
    else:
        values = [v for k, vs in resp.headers.items() if k.lower() == "warning" and isinstance(vs, list) for v in vs]
    texts = (v.encode("latin-1").decode("utf-8", "replace").removeprefix('299 - "').removesuffix('"') for v in values)
    return sum(len(t.replace('\\"', '"').replace("\\\\", "\\")) for t in texts)


def describe(case: Any) -> str:
    body = json.dumps(case.body, default=str)[:300] if case.body is not None else ""
    return f"{case.method} {case.formatted_path}?{case.query or ''} [{case.media_type}] {body}"


def run(strategy: st.SearchStrategy[Any], send: Callable[[Any], tuple[requests.Response, str]],
        examples: int = EXAMPLES) -> tuple[list[str], dict[int, int]]:
    problems: list[str] = []
    codes: dict[int, int] = {}

    @hypothesis_settings(examples)
    @given(strategy)
    def one(x: Any) -> None:
        resp, what = send(x)
        codes[resp.status_code] = codes.get(resp.status_code, 0) + 1
        problems.extend(problems_with(resp, what))

    one()
    return problems, codes


# ---------------------------------------------------------------------------------------------------- the fuzz
def ensure_target(http: Http, ns: str, kind: Kind) -> None:
    body = {**kind.seed, "metadata": {"name": TARGET}}
    r = http("POST", kind.collection.format(namespace=ns), body)
    assert r.status_code in (201, 409), r.text[:500]


@pytest.mark.parametrize(("kind_name", "method", "item"), OPERATIONS,
                         ids=[f"{k}-{m}{'-item' if i else ''}" for k, m, i in OPERATIONS])
def test_fuzz_operation(http: Http, schemas: dict[str, Any], ns: str, kind_name: str, method: str,
                        item: bool) -> None:
    kind = KINDS[kind_name]
    path = kind.collection + ("/{name}" if item else "")
    op = schemas[kind.doc][path][method]
    params: Obj = {"namespace": ns, **({"name": TARGET} if item else {})}
    # A list must not become a watch: without timeoutSeconds that stream would outlive the test.
    query = {"watch": "false"} if method == "GET" and not item else None
    ensure_target(http, ns, kind)

    def via_schemathesis(case: Any) -> tuple[requests.Response, str]:
        return case.call(base_url=http.url, session=http.session, verify=http.session.verify,
                         cert=http.session.cert, timeout=30), describe(case)

    problems, codes = [], {}
    heavy_body = kind_name in HEAVY and method in ("POST", "PUT", "PATCH")
    modes = [] if heavy_body and method == "PUT" else [(GenerationMode.POSITIVE, query, EXAMPLES)]
    if method != "GET" and modes:
        # The same with valid options (dry run, so nothing piles up): requests get past the query checks into
        # decoding, defaulting, validation and admission.
        valid = {"dryRun": "All", **({"fieldManager": "fuzz", "fieldValidation": "Strict"} if method != "DELETE"
                                     else {})}
        modes.append((GenerationMode.POSITIVE, valid, EXAMPLES))
    if not heavy_body:
        modes.append((GenerationMode.NEGATIVE, query, EXAMPLES if method in ("GET", "DELETE")
                      else max(3, EXAMPLES // 2)))
    for mode, q, examples in modes:
        found, seen = run(op.as_strategy(generation_mode=mode, path_parameters=params, query=q),
                          via_schemathesis, examples)
        problems += found
        for c, n in seen.items():
            codes[c] = codes.get(c, 0) + n
    if method in ("POST", "PUT", "PATCH"):
        problems += fuzz_bodies(http, schemas, ns, kind, method, heavy=kind_name in HEAVY)
    assert not problems, f"{len(problems)} bad responses (codes seen {codes}):\n" + "\n".join(problems[:20])
    assert sum(codes.values()) >= EXAMPLES // 2 or not modes, codes


def json_body(case: Any) -> Any:
    """A generated case's body as a JSON value (schemathesis marks an absent body with a sentinel)."""
    return case.body if isinstance(case.body, (dict, list, str, int, float, bool)) else None


def fuzz_bodies(http: Http, schemas: dict[str, Any], ns: str, kind: Kind, method: str, *, heavy: bool) -> list[str]:
    """Objects generated from the kind's schema, sent as plain JSON (POST/PUT) or as merge and strategic merge
    patches of the live target (PATCH), with each fieldValidation mode."""
    post = schemas[kind.doc][kind.collection]["POST"]
    objects = post.as_strategy(path_parameters={"namespace": ns}).map(json_body)
    if not heavy:
        # Schema-violating objects too (wrong types, missing fields), sent as plain JSON this time.
        objects = objects | post.as_strategy(generation_mode=GenerationMode.NEGATIVE,
                                             path_parameters={"namespace": ns}).map(json_body)
    validation = st.sampled_from(["Strict", "Warn", "Ignore"])
    item = kind.collection.format(namespace=ns) + f"/{TARGET}"

    if method == "PATCH":
        def send(x: tuple[Any, str, str]) -> tuple[requests.Response, str]:
            body, mode, ct = x
            what = f"PATCH {item}?fieldValidation={mode} [{ct}] {json.dumps(body, default=str)[:300]}"
            return http("PATCH", f"{item}?fieldValidation={mode}", body, ct=ct), what
        problems, _ = run(st.tuples(objects, validation, st.sampled_from([MERGE, SMP])), send)
        return problems

    path = item if method == "PUT" else kind.collection.format(namespace=ns)

    def send_object(x: tuple[Any, str]) -> tuple[requests.Response, str]:
        body, mode = x
        if method == "PUT" and isinstance(body, dict):
            body = {**body, "metadata": {**(body.get("metadata") or {}), "name": TARGET}}
        what = f"{method} {path}?fieldValidation={mode} {json.dumps(body, default=str)[:300]}"
        return http(method, f"{path}?fieldValidation={mode}", body), what
    problems, _ = run(st.tuples(objects, validation), send_object)
    return problems


def test_fuzzed_server_is_healthy(http: Http) -> None:
    r = http("GET", "/readyz", ct=None)
    assert (r.status_code, r.text) == (200, "ok")


def test_problems_with_catches_what_it_should() -> None:
    """The checker itself: a 500, a 4xx that is not a Status, and a pretty-printed Status are all problems."""
    def resp(code: int, body: bytes) -> requests.Response:
        r = requests.Response()
        r.status_code, r._content = code, body
        return r
    good = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"m","reason":"R",'
            b'"code":400}\n')
    assert problems_with(resp(400, good), "x") == []
    assert problems_with(resp(500, good.replace(b"400", b"500")), "x")
    assert problems_with(resp(400, b'{"error":"no"}'), "x")
    assert problems_with(resp(400, json.dumps(json.loads(good), indent=1).encode()), "x")
    assert problems_with(resp(400, good.replace(b'"code":400', b'"code":404')), "x")
    assert problems_with(resp(200, b"[]"), "x")
    created = resp(201, b'{"kind":"ConfigMap"}')
    created.raw = SimpleNamespace(headers=urllib3.HTTPHeaderDict())
    for i in range(18):                                     # 18 x 256 runes: over upstream's budget
        wire = f'299 - "{i:03d}{"é" * 250}\\"x\\""'.encode()    # http.client reads header bytes as latin-1
        created.raw.headers.add("Warning", wire.decode("latin-1"))
    assert warning_runes(created) == 18 * 256
    assert problems_with(created, "x")
    as_schemathesis = SimpleNamespace(status_code=201, headers={"Warning": created.raw.headers.getlist("Warning")})
    assert warning_runes(as_schemathesis) == 18 * 256 and problems_with(as_schemathesis, "x")
    created.raw.headers = urllib3.HTTPHeaderDict({"Warning": '299 - "unknown field \\"a\\""'})
    assert warning_runes(created) == len('unknown field "a"') and problems_with(created, "x") == []


@pytest.fixture(scope="module", autouse=True)
def _keep_server(server: Server) -> Iterator[None]:
    """Fuzzing must not crash or wedge the server process."""
    yield
    assert server.proc.poll() is None, "the server exited during fuzzing:\n" + "".join(server.log[-50:])
