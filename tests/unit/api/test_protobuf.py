"""The protobuf codec against upstream's round-trip fixtures, real kubectl bodies, Go's value forms and bad input."""

from __future__ import annotations

import pathlib
import re
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybernetes.api import protobuf as pb
from pybernetes.api.resources import BUILTIN
from pybernetes.api.schema import SCALARS, schema

SHARED = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared"
TESTDATA = SHARED / "k8s-api" / "testdata"
TRANSCRIPTS = SHARED / "kubectl-transcripts"

SERVED_GROUPS = {r.group or "core" for r in BUILTIN}


def _split(stem: str) -> tuple[str, str, str]:
    group, version, kind = stem.rsplit(".", 2)
    return group, version, kind


def _fixtures(served: bool) -> list[str]:
    out = []
    for p in sorted(TESTDATA.glob("*.pb")):
        group, version, _ = _split(p.stem)
        if "alpha" in version:
            continue
        if (group in SERVED_GROUPS) == served:
            out.append(p.stem)
    return out


def _prune_unserved(value: Any, message: str) -> bool:
    """Drop from a fixture's JSON the fields whose type is not in our schema (alpha types of a newer release);
    True when something was dropped."""
    sch = schema()
    msg = sch.messages.get(message)
    if msg is None or msg.special or not isinstance(value, dict):
        return False
    dropped = False
    for key, f in sch.properties(message).items():
        if key not in value:
            continue
        t = f.element_type
        if t not in SCALARS and t not in sch.messages:
            del value[key]
            dropped = True
            continue
        if t in sch.messages:
            items = value[key]
            if f.is_map:
                items = list((items or {}).values())
            elif not f.repeated:
                items = [items]
            for item in items or ():
                dropped |= _prune_unserved(item, t)
    return dropped


def _load(stem: str) -> tuple[bytes, dict[str, Any], str, str]:
    data = (TESTDATA / f"{stem}.pb").read_bytes()
    want = orjson.loads((TESTDATA / f"{stem}.json").read_bytes())
    group, version, kind = _split(stem)
    api_version = version if group == "core" else f"{group}/{version}"
    return data, want, api_version, kind


def _check_fixture(stem: str) -> None:
    data, want, api_version, kind = _load(stem)
    name = pb.message_for(api_version, kind)
    assert name is not None
    dropped = _prune_unserved(want, name)
    if "kind" in want:
        got = pb.decode(data)
        assert list(got)[:2] == ["kind", "apiVersion"]
    else:                                   # WatchEvent: the envelope's TypeMeta is empty
        got = pb.decode(data, default_api_version=api_version, default_kind=kind)
        del got["kind"], got["apiVersion"]
    assert got == want
    again = pb.encode({"kind": kind, "apiVersion": api_version, **got})
    if not dropped and "kind" in want:
        assert again == data                # byte for byte what Go's gogo marshaller wrote
    assert pb.decode(again) == {"kind": kind, "apiVersion": api_version, **got}


@pytest.mark.parametrize("stem", _fixtures(served=True))
def test_served_fixture_decodes_to_its_json_twin_and_round_trips(stem: str) -> None:
    _check_fixture(stem)


@pytest.mark.parametrize("stem", _fixtures(served=False))
def test_other_ga_and_beta_fixtures_decode_too(stem: str) -> None:
    _check_fixture(stem)


def test_fixture_coverage() -> None:
    assert len(_fixtures(served=True)) >= 100
    assert "apps.v1.Deployment" in _fixtures(served=True)


@pytest.mark.parametrize("stem", [p.stem for p in sorted(TESTDATA.glob("*.pb")) if "alpha" in p.stem])
def test_alpha_versions_are_refused_cleanly(stem: str) -> None:
    with pytest.raises(pb.ProtobufError, match="is registered for version"):
        pb.decode((TESTDATA / f"{stem}.pb").read_bytes())


def _kubectl_body(name: str) -> bytes:
    text = (TRANSCRIPTS / name).read_text()
    m = re.search(r"PROTOBUF\(hex\): ([0-9a-f]+)", text)
    assert m
    return bytes.fromhex(m.group(1))


def test_kubectl_create_deployment_body() -> None:
    data = _kubectl_body("09-create_deployment_nginx_--image_nginx:1.19.1.txt")
    obj = pb.decode(data)
    assert obj == {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nginx"}},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.19.1", "resources": {}}]}},
                 "strategy": {}},
        "status": {},
    }
    assert pb.encode(obj) == data


def test_kubectl_auth_can_i_body() -> None:
    data = _kubectl_body("16-auth_can-i_create_pods.txt")
    obj = pb.decode(data)
    assert obj == {
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
        "status": {"allowed": False},
    }
    assert pb.encode(obj) == data


def test_decoding_a_typical_deployment_is_fast() -> None:
    data = _kubectl_body("09-create_deployment_nginx_--image_nginx:1.19.1.txt")
    pb.decode(data)
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        pb.decode(data)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 0.0005, f"{per_call * 1e6:.0f} µs per decode"


# ------------------------------------------------------------------------------------------ Go's zero-value rules

@pytest.mark.parametrize(("message", "want"), [
    # non-omitempty string → "", non-pointer struct with omitempty → {}
    ("k8s.io.api.core.v1.Container", {"name": "", "resources": {}}),
    # non-pointer Time with omitempty is still written (a struct is never empty) as null
    ("k8s.io.api.core.v1.PodCondition", {"type": "", "status": "", "lastProbeTime": None,
                                         "lastTransitionTime": None}),
    # nil slice without omitempty → null
    ("k8s.io.api.core.v1.PodSpec", {"containers": None}),
    # int32 without omitempty → 0; IntOrString zero → 0
    ("k8s.io.api.core.v1.ServicePort", {"port": 0, "targetPort": 0}),
    # creationTimestamp is omitzero: a zero time is left out
    ("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", {}),
    ("k8s.io.api.apps.v1.Deployment", {"metadata": {}, "spec": {"selector": None, "template": {
        "metadata": {}, "spec": {"containers": None}}, "strategy": {}}, "status": {}}),
])
def test_zero_values_render_as_go_encoding_json_does(message: str, want: dict[str, Any]) -> None:
    assert pb.decode_message(b"", message) == want


def _field(number: int, wire: int, payload: bytes) -> bytes:
    out = bytearray()
    pb._put_varint(out, number << 3 | wire)
    if wire == 2:
        pb._put_varint(out, len(payload))
    out += payload
    return bytes(out)


def _varint(v: int) -> bytes:
    out = bytearray()
    pb._put_varint(out, v)
    return bytes(out)


TIME_MSG = "k8s.io.apimachinery.pkg.apis.meta.v1.Time"
MICRO_MSG = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime"


@pytest.mark.parametrize(("payload", "want"), [
    (b"", None),                                                        # zero time
    (_field(1, 0, _varint(0)), "1970-01-01T00:00:00Z"),                 # the epoch is not zero
    (_field(1, 0, _varint(1199149261)) + _field(2, 0, _varint(5)), "2008-01-01T01:01:01Z"),   # nanos dropped
    (_field(1, 0, _varint(-62135596800)), None),                        # 0001-01-01T00:00:00Z is Go's zero
    (_field(1, 0, _varint(253402300799)), "9999-12-31T23:59:59Z"),
    (_field(1, 0, _varint(-62135596801)), "0000-12-31T23:59:59Z"),
])
def test_time(payload: bytes, want: str | None) -> None:
    assert pb.decode_message(payload, TIME_MSG) == want


@pytest.mark.parametrize(("payload", "want"), [
    (b"", None),
    (_field(1, 0, _varint(1199149261)) + _field(2, 0, _varint(123456789)), "2008-01-01T01:01:01.123456Z"),
    # negative nanos truncate toward zero to microseconds, then normalise into the previous second
    (_field(1, 0, _varint(10)) + _field(2, 0, _varint(-1500)), "1970-01-01T00:00:09.999999Z"),
])
def test_micro_time(payload: bytes, want: str | None) -> None:
    assert pb.decode_message(payload, MICRO_MSG) == want


@pytest.mark.parametrize(("payload", "want"), [
    (_field(1, 0, _varint(0)) + _field(2, 0, _varint(8080)), 8080),
    (_field(1, 0, _varint(1)) + _field(3, 2, b"http"), "http"),
    (b"", 0),
])
def test_int_or_string(payload: bytes, want: int | str) -> None:
    assert pb.decode_message(payload, "k8s.io.apimachinery.pkg.util.intstr.IntOrString") == want


def test_int_or_string_with_an_impossible_type_is_an_error() -> None:
    with pytest.raises(pb.ProtobufError, match=r"impossible IntOrString\.Type"):
        pb.decode_message(_field(1, 0, _varint(7)), "k8s.io.apimachinery.pkg.util.intstr.IntOrString")


@pytest.mark.parametrize(("text", "want"), [("0.5", "500m"), ("1000m", "1"), ("100M", "100M"), ("", None)])
def test_quantity_is_canonicalised_as_go_parses_it(text: str, want: str | None) -> None:
    msg = "k8s.io.apimachinery.pkg.api.resource.Quantity"
    if want is None:
        with pytest.raises(pb.ProtobufError, match="quantities must match"):
            pb.decode_message(_field(1, 2, text.encode()), msg)
    else:
        assert pb.decode_message(_field(1, 2, text.encode()), msg) == want
    assert pb.decode_message(b"", msg) == "0"


def test_packed_and_unpacked_repeated_scalars_decode_alike() -> None:
    msg = "k8s.io.api.core.v1.PodSecurityContext"          # supplementalGroups: repeated int64
    number = next(f.number for f in schema().messages[msg].fields if f.name == "supplementalGroups")
    unpacked = _field(number, 0, _varint(1)) + _field(number, 0, _varint(2))
    packed = _field(number, 2, _varint(1) + _varint(2))
    assert pb.decode_message(unpacked, msg)["supplementalGroups"] == [1, 2]
    assert pb.decode_message(packed, msg)["supplementalGroups"] == [1, 2]


def test_unknown_fields_are_skipped_and_map_keys_sorted() -> None:
    meta = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    entry_b = _field(1, 2, b"b") + _field(2, 2, b"2")
    entry_a = _field(1, 2, b"a") + _field(2, 2, b"1")
    data = _field(99, 2, b"junk") + _field(98, 0, _varint(5)) + _field(11, 2, entry_b) + _field(11, 2, entry_a)
    got = pb.decode_message(data, meta)
    assert got == {"labels": {"a": "1", "b": "2"}}
    assert list(got["labels"]) == ["a", "b"]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    meta = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert pb.decode_message(_field(1, 2, b"a\xffb\xe2\x82"), meta) == {"name": "a\ufffdb\ufffd\ufffd"}


# ------------------------------------------------------------------------------------------ malformed input

DEPLOYMENT_PB = (TESTDATA / "apps.v1.Deployment.pb").read_bytes()


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty data"),
    (b"k8s", "does not appear to be a protobuf message"),
    (b"{\"kind\": 1}", "does not appear to be a protobuf message"),
    (b"k8s\x00", "empty body"),
    (b"k8s\x00\x0a\x05\x0a\x01v", "unexpected EOF"),                       # TypeMeta longer than the data
    (b"k8s\x00\x0a\xff", "unexpected EOF"),                               # truncated varint
    (b"k8s\x00" + b"\x0a" + b"\xff" * 11, "integer overflow"),            # over-long varint
    (b"k8s\x00\x2f", "illegal wireType 7"),                              # unknown field, bad wire type
    (b"k8s\x00\x0a\x00", "Object 'Kind' is missing"),
    (b"k8s\x00\x0a\x0a\x0a\x02v1\x12\x04Nope", 'no kind "Nope" is registered for version "v1"'),
    (b"k8s\x00\x0a\x0d\x0a\x02v1\x12\x07Service\x12\x02\x08\x01", "wrong wireType = 0 for field metadata"),
    (b"k8s\x00\x0a\x0d\x0a\x02v1\x12\x07Service\x12\x02\x00\x00", "illegal tag 0"),
])
def test_malformed_input_raises_protobuf_error(data: bytes, message: str) -> None:
    with pytest.raises(pb.ProtobufError, match=re.escape(message)):
        pb.decode(data)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    msg = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    number = next(f.number for f in schema().messages[msg].fields if f.name == "not")
    data = b""
    for _ in range(5000):
        data = _field(number, 2, data)
    with pytest.raises(pb.ProtobufError, match="nested too deeply"):
        pb.decode_message(data, msg)


def test_truncation_anywhere_is_an_error_not_a_crash() -> None:
    failures = 0
    for cut in range(len(pb.MAGIC), len(DEPLOYMENT_PB), 37):
        try:
            pb.decode(DEPLOYMENT_PB[:cut])
        except pb.ProtobufError:
            failures += 1
    assert failures > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    for candidate in (data, b"k8s\x00" + data):
        try:
            pb.decode(candidate)
        except pb.ProtobufError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=4, max_value=len(DEPLOYMENT_PB) - 1),
                          st.integers(min_value=0, max_value=255)), min_size=1, max_size=4),
       st.integers(min_value=5, max_value=len(DEPLOYMENT_PB)))
def test_fuzz_mutated_fixture(edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(DEPLOYMENT_PB[:cut])
    for pos, byte in edits:
        if pos < len(data):
            data[pos] = byte
    try:
        obj = pb.decode(bytes(data))
    except pb.ProtobufError:
        return
    orjson.dumps(obj)                       # whatever decodes is JSON-ready
