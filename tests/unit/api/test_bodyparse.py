"""Request body parsing: JSON/YAML/protobuf bytes to a dict, with Go's syntax errors and duplicate-key wording."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import orjson
import pytest

from pybernetes.api import protobuf
from pybernetes.api.bodyparse import BodyError, go_json_syntax_error, go_yaml_scalar, parse_body, summarize

SHARED = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared"
JSON = "application/json"
YAML = "application/yaml"


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
