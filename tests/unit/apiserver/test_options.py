"""options: ListOptions / WriteOptions / DeleteOptions from query strings (and delete bodies), with upstream's
400 (cannot decode) and 422 (decoded but not allowed) answers, and continue tokens."""

from __future__ import annotations

import base64

import orjson
import pytest
from multidict import MultiDict

from pybernetes.api.errors import APIError
from pybernetes.apiserver.options import (
    Continue,
    DeleteOptions,
    ListOptions,
    WriteOptions,
    decode_continue,
    encode_continue,
    parse_rv,
)

PREFIX = "/registry/core/pods/ns/"


def status_of(fn, *args, **kw) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(APIError) as ei:
        fn(*args, **kw)
    return ei.value.code, ei.value.reason, str(ei.value)


# ------------------------------------------------------------------------------------------------ ListOptions
def test_list_options_defaults_and_values() -> None:
    o = ListOptions.parse({})
    assert (o.limit, o.watch, o.allow_bookmarks, o.timeout_seconds, o.send_initial_events) == (0, False, False,
                                                                                              None, None)
    o = ListOptions.parse({"labelSelector": "a=b", "fieldSelector": "metadata.name=x", "limit": "500",
                           "continue": "", "watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": "30",
                           "resourceVersion": "12"})
    assert (o.label_selector, o.field_selector, o.limit, o.watch, o.allow_bookmarks, o.timeout_seconds,
            o.resource_version) == ("a=b", "metadata.name=x", 500, True, True, 30, "12")
    assert ListOptions.parse({"limit": "-5"}).limit == 0


@pytest.mark.parametrize(("value", "want"), [
    ("true", True), ("1", True), ("True", True), ("", True), ("f", True), ("yes", True),
    ("false", False), ("FALSE", False), ("False", False), ("0", False),
])
def test_query_bools_decode_like_upstream(value: str, want: bool) -> None:
    assert ListOptions.parse({"watch": value}).watch is want
    assert ListOptions.parse({"allowWatchBookmarks": value}).allow_bookmarks is want


@pytest.mark.parametrize(("query", "message"), [
    ({"limit": "abc"}, 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ({"limit": ""}, 'strconv.ParseInt: parsing "": invalid syntax'),
    ({"limit": "1.5"}, 'strconv.ParseInt: parsing "1.5": invalid syntax'),
    ({"limit": "1_000"}, 'strconv.ParseInt: parsing "1_000": invalid syntax'),
    ({"limit": "99999999999999999999"}, 'strconv.ParseInt: parsing "99999999999999999999": value out of range'),
    ({"timeoutSeconds": "soon"}, 'strconv.ParseInt: parsing "soon": invalid syntax'),
    ({"resourceVersion": "abc"},
     'invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": '
     'invalid syntax'),
    ({"resourceVersion": "-1"},
     'invalid resource version: resourceVersion: Invalid value: "-1": strconv.ParseUint: parsing "-1": '
     'invalid syntax'),
    ({"continue": "x", "resourceVersion": "5"}, "specifying resource version is not allowed when using continue"),
])
def test_undecodable_list_parameters_are_400(query: dict[str, str], message: str) -> None:
    assert status_of(ListOptions.parse, query) == (400, "BadRequest", message)


def test_continue_with_resource_version_zero_is_allowed() -> None:
    assert ListOptions.parse({"continue": "x", "resourceVersion": "0"}).continue_token == "x"


LIST_INVALID = 'ListOptions.meta.k8s.io "" is invalid: '


@pytest.mark.parametrize(("query", "errors"), [
    ({"resourceVersionMatch": "Exact"},
     ["resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"]),
    ({"resourceVersionMatch": "NotOlderThan", "continue": "abc"},
     ["resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
      "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided"]),
    ({"resourceVersion": "1", "resourceVersionMatch": "Sometimes"},
     ['resourceVersionMatch: Unsupported value: "Sometimes": supported values: "Exact", "NotOlderThan", ""']),
    ({"resourceVersion": "0", "resourceVersionMatch": "Exact"},
     ['resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"']),
    ({"sendInitialEvents": "true"}, ["sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"]),
    # watches: resourceVersionMatch only with sendInitialEvents, and only NotOlderThan
    ({"watch": "1", "resourceVersionMatch": "NotOlderThan"},
     ["resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
      "provided"]),
    ({"watch": "1", "sendInitialEvents": "true"},
     ["resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"]),
    ({"watch": "1", "sendInitialEvents": "true", "resourceVersionMatch": "Exact", "resourceVersion": "3"},
     ["resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
      'resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"']),
])
def test_disallowed_list_options_are_one_422(query: dict[str, str], errors: list[str]) -> None:
    code, reason, message = status_of(ListOptions.parse, query)
    assert (code, reason) == (422, "Invalid")
    agg = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    assert message == LIST_INVALID + agg


@pytest.mark.parametrize("query", [
    {"resourceVersion": "10", "resourceVersionMatch": "Exact"},
    {"resourceVersion": "10", "resourceVersionMatch": "NotOlderThan"},
    {"resourceVersion": "0", "resourceVersionMatch": "NotOlderThan"},
    {"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan", "resourceVersion": ""},
    {"watch": "true", "sendInitialEvents": "false", "resourceVersionMatch": "NotOlderThan", "resourceVersion": "7"},
])
def test_allowed_resource_version_combinations(query: dict[str, str]) -> None:
    o = ListOptions.parse(query)
    assert o.resource_version_match == query["resourceVersionMatch"]


def test_send_initial_events_tristate() -> None:
    base = {"watch": "1", "resourceVersionMatch": "NotOlderThan"}
    assert ListOptions.parse({**base, "sendInitialEvents": "true"}).send_initial_events is True
    assert ListOptions.parse({**base, "sendInitialEvents": "false"}).send_initial_events is False
    assert ListOptions.parse({"watch": "1"}).send_initial_events is None


@pytest.mark.parametrize(("value", "want"), [("0", 0), ("1", 1), ("18446744073709551615", 2 ** 64 - 1)])
def test_parse_rv(value: str, want: int) -> None:
    assert parse_rv(value) == want


@pytest.mark.parametrize("value", ["", " 1", "+1", "1e3", "18446744073709551616", "x"])
def test_parse_rv_rejects(value: str) -> None:
    assert status_of(parse_rv, value)[:2] == (400, "BadRequest")


# ------------------------------------------------------------------------------------------------ continue tokens
def token(d: object, *, pad: bool = False) -> str:
    raw = base64.urlsafe_b64encode(orjson.dumps(d)).decode()
    return raw if pad else raw.rstrip("=")


@pytest.mark.parametrize("key", ["/registry/core/pods/ns/a", "/registry/core/pods/ns/web-0",
                                 "/registry/core/pods/ns/ünï", "/registry/core/pods/ns/" + "x" * 250])
def test_continue_token_round_trip(key: str) -> None:
    tok = encode_continue(42, key, PREFIX)
    assert "=" not in tok and "+" not in tok and "/" not in tok       # raw URL-safe base64
    assert orjson.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))) == {
        "v": "meta.k8s.io/v1", "rv": 42, "start": key[len(PREFIX):] + "\x00"}
    assert decode_continue(tok, PREFIX) == Continue(42, key)


def test_continue_token_is_relative_to_the_prefix() -> None:
    tok = encode_continue(7, "/registry/core/pods/ns/a", PREFIX)
    # the same token against another namespace's prefix stays inside that prefix
    assert decode_continue(tok, "/registry/core/pods/other/") == Continue(7, "/registry/core/pods/other/a")
    # a leading slash in start is allowed and means the same key (upstream cleans "/" + start)
    assert decode_continue(token({"v": "meta.k8s.io/v1", "rv": 3, "start": "/b\x00"}), PREFIX) == \
        Continue(3, PREFIX + "b")


INVALID = "invalid continue token: continue key is not valid"


@pytest.mark.parametrize(("tok", "message"), [
    ("not-a-token", INVALID),
    ("!!!", INVALID),
    (token([1, 2]), INVALID),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "a"}, pad=True) if len(
        token({"v": "meta.k8s.io/v1", "rv": 5, "start": "a"})) % 4 else "a===", INVALID),
    (token({"v": "meta.k8s.io/v2", "rv": 5, "start": "a"}),
     INVALID + ": server does not recognize this encoded version"),
    (token({"v": "meta.k8s.io/v1", "rv": 0, "start": "a"}),
     INVALID + ": incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
    (token({"v": "meta.k8s.io/v1", "start": "a"}),
     INVALID + ": incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": ""}),
     INVALID + ": encoded start key empty (version meta.k8s.io/v1)"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "../../secrets/ns/x"}), INVALID + ": ../../secrets/ns/x"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "a/../../b"}), INVALID + ": a/../../b"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "a//b"}), INVALID + ": a//b"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "//a"}), INVALID + ": //a"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "a/"}), INVALID + ": a/"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "./a"}), INVALID + ": ./a"),
    (token({"v": "meta.k8s.io/v1", "rv": "5", "start": "a"}), INVALID),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": 3}), INVALID),
    (token({"v": "meta.k8s.io/v1", "rv": -1, "start": "a"}),
     INVALID + ": inconsistent continuation (negative resourceVersion) is not supported"),
])
def test_bad_continue_tokens_are_400(tok: str, message: str) -> None:
    assert status_of(decode_continue, tok, PREFIX) == (400, "BadRequest", message)


# ------------------------------------------------------------------------------------------------ WriteOptions
def test_write_options() -> None:
    o = WriteOptions.parse({})
    assert (o.dry_run, o.field_manager, o.field_validation, o.force) == (False, "", "Warn", False)
    assert WriteOptions.parse({}, default_validation="Strict").field_validation == "Strict"
    o = WriteOptions.parse(MultiDict([("dryRun", "All"), ("fieldManager", "kubectl-create"),
                                      ("fieldValidation", "Ignore"), ("force", "true")]))
    assert (o.dry_run, o.field_manager, o.field_validation, o.force) == (True, "kubectl-create", "Ignore", True)
    assert WriteOptions.parse({"fieldManager": "m" * 128}).field_manager == "m" * 128


@pytest.mark.parametrize(("query", "kind", "errors"), [
    (MultiDict([("dryRun", "Maybe")]), "CreateOptions",
     ['dryRun: Unsupported value: []string{"Maybe"}: supported values: "All"']),
    (MultiDict([("dryRun", "All"), ("dryRun", "Server")]), "UpdateOptions",
     ['dryRun: Unsupported value: []string{"All", "Server"}: supported values: "All"']),
    ({"fieldValidation": "Loose"}, "CreateOptions",
     ['fieldValidation: Unsupported value: "Loose": supported values: "", "Ignore", "Strict", "Warn"']),
    ({"fieldValidation": "strict"}, "CreateOptions",
     ['fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"']),
    ({"fieldManager": "m" * 129}, "CreateOptions",
     ["fieldManager: Too long: may not be more than 128 bytes"]),
    ({"fieldManager": "é" * 65}, "CreateOptions",                           # 130 bytes, 65 characters
     ["fieldManager: Too long: may not be more than 128 bytes"]),
    ({"fieldManager": "a\tb\x07"}, "CreateOptions",
     ['fieldManager: Invalid value: "a\\tb\\u0007": invalid character U+0009 (at position 1)',
      'fieldManager: Invalid value: "a\\tb\\u0007": invalid character U+0007 (at position 3)']),
    (MultiDict([("fieldManager", "x" * 200), ("dryRun", "No"), ("fieldValidation", "No")]), "PatchOptions",
     ["fieldManager: Too long: may not be more than 128 bytes",
      'dryRun: Unsupported value: []string{"No"}: supported values: "All"',
      'fieldValidation: Unsupported value: "No": supported values: "", "Ignore", "Strict", "Warn"']),
    ({"force": "true"}, "PatchOptions", ["force: Forbidden: may not be specified for non-apply patch"]),
])
def test_bad_write_options_are_one_422(query: object, kind: str, errors: list[str]) -> None:
    code, reason, message = status_of(WriteOptions.parse, query, kind=kind)
    assert (code, reason) == (422, "Invalid")
    agg = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    assert message == f'{kind}.meta.k8s.io "" is invalid: {agg}'


def test_apply_patch_options() -> None:
    o = WriteOptions.parse({"fieldManager": "kubectl", "force": "false"}, kind="PatchOptions", apply=True)
    assert (o.field_manager, o.force) == ("kubectl", False)
    assert status_of(WriteOptions.parse, {}, kind="PatchOptions", apply=True)[2] == \
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'


def test_invalid_details_name_the_options_kind_and_causes() -> None:
    with pytest.raises(APIError) as ei:
        WriteOptions.parse({"fieldValidation": "Loose"})
    assert ei.value.details == {"group": "meta.k8s.io", "kind": "CreateOptions", "causes": [
        {"reason": "FieldValueNotSupported", "field": "fieldValidation",
         "message": 'Unsupported value: "Loose": supported values: "", "Ignore", "Strict", "Warn"'}]}


# ------------------------------------------------------------------------------------------------ DeleteOptions
def test_delete_options_from_body_and_query() -> None:
    o = DeleteOptions.parse({}, None)
    assert (o.grace_period_seconds, o.propagation_policy, o.preconditions, o.dry_run, o.orphan_dependents) == \
        (None, None, {}, False, None)
    o = DeleteOptions.parse({}, {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground",
                                 "gracePeriodSeconds": 0, "preconditions": {"uid": "u1", "resourceVersion": None},
                                 "dryRun": ["All"]})
    assert (o.grace_period_seconds, o.propagation_policy, o.preconditions, o.dry_run) == (0, "Foreground",
                                                                                        {"uid": "u1"}, True)
    o = DeleteOptions.parse(MultiDict([("gracePeriodSeconds", "30"), ("propagationPolicy", "Orphan"),
                                       ("dryRun", "All")]), None)
    assert (o.grace_period_seconds, o.propagation_policy, o.dry_run) == (30, "Orphan", True)
    assert DeleteOptions.parse({"gracePeriodSeconds": "5"}, {"gracePeriodSeconds": 1}).grace_period_seconds == 1
    assert DeleteOptions.parse({"orphanDependents": "false"}, None).orphan_dependents is False
    assert DeleteOptions.parse({}, {"orphanDependents": True}).orphan_dependents is True


@pytest.mark.parametrize(("query", "body", "errors"), [
    ({"propagationPolicy": "Sideways"}, None,
     ['propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", '
      '"nil"']),
    ({}, {"propagationPolicy": "Background", "orphanDependents": True},
     ['propagationPolicy: Invalid value: "Background": orphanDependents and deletionPropagation cannot be both '
      'set']),
    ({}, {"propagationPolicy": "Nope", "orphanDependents": False, "dryRun": ["x"]},
     ['propagationPolicy: Invalid value: "Nope": orphanDependents and deletionPropagation cannot be both set',
      'propagationPolicy: Unsupported value: "Nope": supported values: "Foreground", "Background", "Orphan", '
      '"nil"', 'dryRun: Unsupported value: []string{"x"}: supported values: "All"']),
])
def test_bad_delete_options_are_one_422(query: dict[str, str], body: dict | None, errors: list[str]) -> None:
    code, reason, message = status_of(DeleteOptions.parse, query, body)
    assert (code, reason) == (422, "Invalid")
    agg = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    assert message == f'DeleteOptions.meta.k8s.io "" is invalid: {agg}'


@pytest.mark.parametrize(("query", "body"), [
    ({"gracePeriodSeconds": "later"}, None),
    ({}, {"gracePeriodSeconds": "5"}),
    ({}, {"gracePeriodSeconds": True}),
    ({}, {"dryRun": "All"}),
    ({}, ["not", "an", "object"]),
])
def test_undecodable_delete_options_are_400(query: dict[str, str], body: object) -> None:
    assert status_of(DeleteOptions.parse, query, body)[:2] == (400, "BadRequest")
