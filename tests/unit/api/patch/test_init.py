"""The shared pieces of pybernetes.api.patch: media types, errors as Status, body decoding, Go renderings."""

from __future__ import annotations

import pytest

from pybernetes.api import patch
from pybernetes.api.patch import (
    APPLY_PATCH,
    GENERIC_INVALID,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    check_content_type,
    clone,
    go_float,
    go_quote,
    go_s,
    go_type,
    go_v,
)
from pybernetes.api.typeinfo import of_kind

CRD_ACCEPTS = ("the body of the request was in an unknown format - accepted media types include: "
               "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


@pytest.mark.parametrize(("content_type", "custom", "want"), [
    ("application/strategic-merge-patch+json", False, STRATEGIC_MERGE_PATCH),
    ("application/merge-patch+json; charset=utf-8", False, MERGE_PATCH),
    ("application/json-patch+json", True, JSON_PATCH),
    ("application/apply-patch+yaml", True, APPLY_PATCH),
])
def test_accepted_content_types(content_type: str, custom: bool, want: str) -> None:
    assert check_content_type(content_type, custom=custom) == want


@pytest.mark.parametrize(("content_type", "custom", "message"), [
    # Custom resources are never offered strategic merge patch; upstream answers 415 before reading the body.
    ("application/strategic-merge-patch+json", True, CRD_ACCEPTS),
    ("application/json", False, "the body of the request was in an unknown format - accepted media types include: "
     "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, "
     "application/apply-patch+yaml"),
])
def test_unsupported_content_type_is_415(content_type: str, custom: bool, message: str) -> None:
    with pytest.raises(PatchError) as info:
        check_content_type(content_type, custom=custom)
    assert (info.value.code, info.value.reason, info.value.message) == (415, "UnsupportedMediaType", message)


def test_decode() -> None:
    assert patch.decode(b'{"a": [1]}', patch_type=STRATEGIC_MERGE_PATCH) == {"a": [1]}


@pytest.mark.parametrize(("body", "patch_type", "strict", "message"), [
    (b'{"a":', MERGE_PATCH, False, "Invalid JSON Patch"),
    (b'{"a":', MERGE_PATCH, True, "error decoding patch: unexpected end of JSON input"),
    (b"", JSON_PATCH, False, "unexpected end of JSON input"),
    (b"[1,2", JSON_PATCH, True, "error decoding patch: unexpected end of JSON input"),
    (b'{"a":}', STRATEGIC_MERGE_PATCH, False, "invalid character '}' looking for beginning of value"),
    (b'{"a":}', STRATEGIC_MERGE_PATCH, True, "invalid character '}' looking for beginning of value"),
    (b"{a:1}", STRATEGIC_MERGE_PATCH, False, "invalid character 'a' looking for beginning of object key string"),
    (b'{"a":1}x', JSON_PATCH, False, "invalid character 'x' after top-level value"),
])
def test_undecodable_bodies_are_400(body: bytes, patch_type: str, strict: bool, message: str) -> None:
    with pytest.raises(PatchError) as info:
        patch.decode(body, patch_type=patch_type, strict=strict)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


def test_patch_error_becomes_status() -> None:
    err = patch.invalid("testing value /a failed: test failed")
    assert err.detail == "testing value /a failed: test failed"
    assert err.to_api_error().to_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": GENERIC_INVALID,
        "reason": "Invalid", "code": 422}
    # A plain Go error in upstream's handler: 500 without a reason.
    status = patch.internal("boom").to_api_error().to_status()
    assert (status["code"], "reason" in status, status["message"]) == (500, False, "boom")


def test_dispatch_by_patch_type() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}}
    assert patch.apply(MERGE_PATCH, doc, {"metadata": {"labels": {"a": None}}}) == {"metadata": {"labels": {}}}
    ops = [{"op": "remove", "path": "/metadata/labels/a"}]
    assert patch.apply(JSON_PATCH, doc, ops) == {"metadata": {"labels": {}}}
    pod = of_kind("v1", "Pod")
    assert patch.apply(STRATEGIC_MERGE_PATCH, doc, {"metadata": {"labels": {"b": "2"}}}, ti=pod) == {
        "metadata": {"labels": {"a": "1", "b": "2"}}}
    with pytest.raises(PatchError):
        patch.apply(STRATEGIC_MERGE_PATCH, doc, {})


def test_clone_shares_nothing() -> None:
    value = {"a": [{"b": 1}], "c": "d"}
    copy = clone(value)
    copy["a"][0]["b"] = 2
    assert value == {"a": [{"b": 1}], "c": "d"}
    assert clone("x") == "x"


@pytest.mark.parametrize(("value", "want"), [
    ({"b": 1, "a": "x", "$patch": "merge"}, "map[$patch:merge a:x b:1]"),
    ([1, "two", None, True, {"k": [2.5]}], "[1 two <nil> true map[k:[2.5]]]"),
    ({}, "map[]"),
    ([], "[]"),
])
def test_go_v(value: object, want: str) -> None:
    assert go_v(value) == want


@pytest.mark.parametrize(("value", "want"), [
    ("merge", "merge"), (5, "%!s(int64=5)"), (1.5, "%!s(float64=1.5)"), (True, "%!s(bool=true)"),
    (None, "%!s(<nil>)"), ({"a": 1}, "map[a:%!s(int64=1)]"),
])
def test_go_s(value: object, want: str) -> None:
    assert go_s(value) == want


@pytest.mark.parametrize(("value", "want"), [
    (1.0, "1"), (1.5, "1.5"), (-2.25, "-2.25"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (1e6, "1e+06"), (1e21, "1e+21"), (0.0001, "0.0001"), (0.00001, "1e-05"), (0.1, "0.1"), (0.0, "0"),
    (-0.0, "-0"), (1.7976931348623157e308, "1.7976931348623157e+308"), (5e-324, "5e-324"), (100.5, "100.5"),
])
def test_go_float_matches_strconv_g_shortest(value: float, want: str) -> None:
    assert go_float(value) == want


@pytest.mark.parametrize(("value", "want"), [
    ({}, "map[string]interface {}"), ([], "[]interface {}"), ("s", "string"), (1, "int64"), (1.0, "float64"),
    (False, "bool"), (None, "%!s(<nil>)"),
])
def test_go_type(value: object, want: str) -> None:
    assert go_type(value) == want


def test_go_quote() -> None:
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
