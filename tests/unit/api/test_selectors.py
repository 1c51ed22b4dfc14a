"""Label selectors: cases from upstream labels/selector_test.go and the LabelSelector helpers."""

from __future__ import annotations

import pytest

from pybernetes.api import selectors as s
from pybernetes.api.field import Path

LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


@pytest.mark.parametrize("text", ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1",
                                  "x>1,z<5"])
def test_parse_round_trip(text):
    assert str(s.parse_label_selector(text)) == text.replace(" ", "")


@pytest.mark.parametrize(("text", "canonical"), [
    ("x=a,a=x", "a=x,x=a"),                               # deterministic: sorted by key
    ("\rx", "x"),
    ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
    ("this-is-another-dns.domain.com/key-with-dash in (so,what)", "this-is-another-dns.domain.com/key-with-dash in "
                                                                 "(so,what)"),
    ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"),
    ("foo  in\t (abc)", "foo in (abc)"),
    ("x notin\n (abc)", "x notin (abc)"),
    ("x  notin\t\t\t(abc,def)", "x notin (abc,def)"),
    ("x in (abc,)", "x in (,abc)"),
    ("x in ()", "x in ()"),
    ("x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"),
    ("x,y in (a)", "x,y in (a)"),
    ("x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"),
    ("x notin ( )", "x notin ()"),
    ("x notin (, a)", "x notin (,a)"),
    ("a ", "a"),
    ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),   # 'in'/'notin' are identifiers inside a list
    ("x==y", "x==y"),
    ("notin=in", "notin=in"),
])
def test_parse_forms(text, canonical):
    assert str(s.parse_label_selector(text)) == canonical


@pytest.mark.parametrize(("text", "message"), [
    ("x=a||y=b", "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": " + LABEL_VALUE_MSG),
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must "
            "be an integer"),
    ("x>", "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must "
           "be an integer"),
    ("x,,y", "found ',', expected: identifier after ','"),
    (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
    ("x nott in (y)", "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt"),
    ("a in (xyz),", "found '', expected: identifier after ','"),
    ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"),
    ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
    ("a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
    ("a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
    ("(", "found '(', expected: !, identifier, or 'end of string'"),
    ("x in a", "unable to parse requirement: found 'a' expected: '('"),
    ("x=a b", "found 'b', expected: ',' or 'end of string'"),
    ("a/b/c=x", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of "
                "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
                "'example.com/MyName')"),
    ("x=" + "a" * 64, "unable to parse requirement: values[0][x]: Invalid value: \"" + "a" * 64 + "\": must be no "
                      "more than 63 characters"),
    ("x=-" + "a" * 64, "unable to parse requirement: values[0][x]: Invalid value: \"-" + "a" * 64 + "\": must be "
                       "no more than 63 characters; " + LABEL_VALUE_MSG),
])
def test_parse_errors(text, message):
    with pytest.raises(ValueError) as info:
        s.parse_label_selector(text)
    assert str(info.value) == message


@pytest.mark.parametrize(("selector", "labels", "match"), [
    ("", {"x": "y"}, True),
    ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x<1", {"x": "2"}, False),
    ("x>1", {"x": "v2"}, False),
    ("x>1", {}, False),
    ("x!=y", {}, True),
    ("x notin (a)", {}, True),
    ("x in (a,b)", {"x": "b"}, True),
    ("x in ()", {"x": ""}, True),
    ("x in ()", {"y": "baz"}, False),
    ("x=", {"x": ""}, True),
    ("x=", {}, False),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    ("x", None, False),
    ("!x", None, True),
])
def test_matches(selector, labels, match):
    assert s.parse_label_selector(selector).matches(labels) is match


def test_everything_and_nothing():
    assert s.parse_label_selector("").empty and s.EVERYTHING.matches({"a": "b"})
    assert not s.NOTHING.empty and not s.NOTHING.matches({}) and str(s.NOTHING) == ""
    assert s.selector_from_set(None).empty and s.selector_from_set({}).empty
    sel = s.selector_from_set({"foo": "bar", "baz": "blah"})
    assert str(sel) == "baz=blah,foo=bar"
    assert sel.matches({"foo": "bar", "baz": "blah", "x": "y"}) and not sel.matches({"foo": "bar"})


def test_parse_is_cached_and_selectors_are_values():
    a = s.parse_label_selector("app=web,tier in (a,b)")
    assert a is s.parse_label_selector("app=web,tier in (a,b)")
    assert a == s.parse_label_selector("tier in (b,a),app=web") and hash(a) == hash(
        s.parse_label_selector("tier in (b,a),app=web"))


@pytest.mark.parametrize(("text", "key", "value"), [
    ("x=a", "x", "a"), ("x==a", "x", "a"), ("x in (a)", "x", "a"), ("x in (a,b)", "x", None), ("x!=a", "x", None),
    ("x", "x", None), ("y=a", "x", None),
])
def test_requires_exact_match(text, key, value):
    assert s.parse_label_selector(text).requires_exact_match(key) == value


@pytest.mark.parametrize(("key", "op", "values", "message"), [
    ("x1", s.IN, [], 'values: Invalid value: []string{}: for \'in\', \'notin\' operators, values set can\'t be empty'),
    ("x5", s.EQUALS, ["bar", "foo"],
     'values: Invalid value: []string{"bar", "foo"}: exact-match compatibility requires one single value'),
    ("x8", s.EXISTS, ["foo"],
     'values: Invalid value: []string{"foo"}: values set must be empty for exists and does not exist'),
    ("x13", s.GREATER_THAN, [],
     "values: Invalid value: []string{}: for 'Gt', 'Lt' operators, exactly one value is required"),
    ("x14", s.GREATER_THAN, ["bar"],
     "values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x17", s.EQUALS, ["a b"], 'values[0][x17]: Invalid value: "a b": ' + LABEL_VALUE_MSG),
    ("x18", "unsupportedOp", [], 'operator: Unsupported value: "unsupportedOp": supported values: "in", "notin", '
                                 '"=", "==", "!=", "gt", "lt", "exists", "!"'),
])
def test_new_requirement_errors(key, op, values, message):
    with pytest.raises(ValueError) as info:
        s.new_requirement(key, op, values)
    assert str(info.value) == message


def test_new_requirement_aggregates_errors():
    with pytest.raises(ValueError) as info:
        s.new_requirement("a" * 254, s.GREATER_THAN, ["x y"])
    text = str(info.value)
    assert text.startswith("[key: Invalid value: ") and text.endswith("]")
    assert "values[0]: Invalid value: \"x y\": for 'Gt', 'Lt'" in text and "values[0][" in text


@pytest.mark.parametrize(("d", "text", "labels", "match"), [
    (None, "", {"a": "b"}, False),
    ({}, "", {"a": "b"}, True),
    ({"matchLabels": {}}, "", {}, True),
    ({"matchLabels": {"app": "web"}}, "app=web", {"app": "web"}, True),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
     "app=web,tier in (a,b)", {"app": "web", "tier": "a"}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, "tier notin (a)", {}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, "tier", {"tier": ""}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, "!tier", {"tier": ""}, False),
])
def test_label_selector_from_dict(d, text, labels, match):
    sel = s.label_selector_from_dict(d)
    assert str(sel) == text
    assert sel.matches(labels) is match


@pytest.mark.parametrize(("d", "message"), [
    ({"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["1"]}]},
     '"Gt" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "k", "operator": "In"}]},
     "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"),
    ({"matchLabels": {"k": "bad value"}}, 'values[0][k]: Invalid value: "bad value": ' + LABEL_VALUE_MSG),
])
def test_label_selector_from_dict_errors(d, message):
    with pytest.raises(ValueError) as info:
        s.label_selector_from_dict(d)
    assert str(info.value) == message


def test_validate_label_selector():
    p = Path("spec", "selector")
    assert s.validate_label_selector(None, p) == []
    assert s.validate_label_selector({"matchLabels": {"a": "b"}, "matchExpressions": [
        {"key": "k", "operator": "In", "values": ["v"]}, {"key": "e", "operator": "Exists"}]}, p) == []
    errs = s.validate_label_selector({"matchLabels": {"a": "-"}, "matchExpressions": [
        {"key": "k", "operator": "In"},
        {"key": "k", "operator": "Exists", "values": ["v"]},
        {"key": "Bad/Key/x", "operator": "Gt", "values": ["-x"]},
    ]}, p)
    assert [str(e) for e in errs] == [
        'spec.selector.matchLabels: Invalid value: "-": ' + LABEL_VALUE_MSG,
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or "
        "'NotIn'",
        "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or "
        "'DoesNotExist'",
        'spec.selector.matchExpressions[2].operator: Invalid value: "Gt": not a valid selector operator',
        'spec.selector.matchExpressions[2].key: Invalid value: "Bad/Key/x": a qualified name must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
        "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
        "'example.com/MyName')",
        'spec.selector.matchExpressions[2].values[0]: Invalid value: "-x": ' + LABEL_VALUE_MSG,
    ]
    relaxed = s.validate_label_selector({"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["-x"]}]}, p,
                                        allow_invalid_label_value=True, allow_unknown_operator=True)
    assert relaxed == []
