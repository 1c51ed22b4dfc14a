"""The Kubernetes JSONPath dialect as client-go's util/jsonpath evaluates it over decoded JSON."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.tables.jsonpath import JSONPathError, parse, parse_column

POD: dict[str, Any] = {
    "kind": "Pod",
    "metadata": {"name": "web-0", "labels": {"app": "web", "app.kubernetes.io/name": "web"}, "annotations": None},
    "spec": {"replicas": 3, "ratio": 0.5, "paused": False,
             "containers": [{"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
                            {"name": "b", "image": "busybox",
                             "ports": [{"containerPort": 8080}, {"containerPort": 9}]}]},
    "status": {"conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"},
                              {"type": "Ready", "status": "True"}],
               "counts": [1, 5, 10], "score": 1.5},
}


@pytest.mark.parametrize(("template", "want"), [
    ("{.spec.replicas}", [[3]]),
    ("{.metadata.name}", [["web-0"]]),
    ("{$.metadata.name}", [["web-0"]]),
    ("{.metadata.missing}", [[]]),
    ("{.metadata.annotations}", [[None]]),
    ("{.metadata.labels.app\\.kubernetes\\.io/name}", [["web"]]),
    ("{.metadata.labels['app']}", [["web"]]),
    ("{.spec.containers[0].name}", [["a"]]),
    ("{.spec.containers[-1].name}", [["b"]]),
    ("{.spec.containers[*].name}", [["a", "b"]]),
    ("{.spec.containers[:1].image}", [["nginx"]]),
    ("{.status.counts[0:3:2]}", [[1, 10]]),
    ("{.status.counts[1:]}", [[5, 10]]),
    ("{.status.counts[0,2]}", [[1, 10]]),
    ("{.spec.containers[*].ports[*].containerPort}", [[80, 8080, 9]]),
    ("{.status.conditions[?(@.type==\"Ready\")].status}", [["False", "True"]]),
    ("{.status.conditions[?(@.type=='Initialized')].status}", [["True"]]),
    ("{.status.conditions[?(@.type!=\"Ready\")].type}", [["Initialized"]]),
    ("{.status.conditions[?(@.reason)].type}", [[]]),
    ("{.status.conditions[?(@.status)].type}", [["Initialized", "Ready", "Ready"]]),
    ("{.spec.containers[?(@.ports[0].containerPort > 100)].name}", [["b"]]),
    ("{.spec.containers[?(@.ports[0].containerPort <= 80)].name}", [["a"]]),
    ("{..containerPort}", [[80, 8080, 9]]),
    ("{.spec.containers[0].*}", [["a", "nginx", [{"containerPort": 80}]]]),
    ("{.kind} is {.metadata.name}", [["Pod"], [" is "], ["web-0"]]),
    ("name: {.metadata.name}", [["name: "], ["web-0"]]),
    ("{.spec.containers[5:5]}", [[]]),
    ("{.status.counts[*] \"text\"}", [["text"]]),          # quoted text stands alone
    ("{.status.counts[*] 7}", [[7, 7, 7]]),                 # a number repeats once per current value
])
def test_find(template: str, want: list[list[Any]]) -> None:
    assert parse(template).find(POD) == want


@pytest.mark.parametrize("template", [
    "{.spec.containers[5].name}",                  # out of range
    "{.spec.replicas[0]}",                        # indexing a number
    "{.spec[0]}",                                 # indexing a map
    "{.metadata.name[?(@.x)]}",                   # filtering a string
    "{.status.conditions[?(@.type==1)].status}",  # string == int
    "{.status.counts[?(@ == 1.0)]}",              # int == float never compare in Go templates
    "{.spec.containers[?(@.name < true)].name}",  # ordering booleans
    "{.status.counts[0:2:0]}",                    # step must be > 0
    "{.status.counts[2:1]}",                      # start after end
])
def test_evaluation_errors(template: str) -> None:
    with pytest.raises(JSONPathError):
        parse(template).find(POD)


@pytest.mark.parametrize("template", ["{.spec", "{.a[0}", "{.a[x]}", "{.a[?(@.b=='c']}", "{#}", "{.a['b]}"])
def test_parse_errors(template: str) -> None:
    with pytest.raises(JSONPathError):
        parse(template)


def test_range_is_not_supported() -> None:
    with pytest.raises(JSONPathError, match="range"):
        parse("{range .items[*]}{.x}{end}").find({"items": []})


def test_missing_keys_can_be_errors() -> None:
    assert parse("{.spec.nope}").find(POD) == [[]]
    with pytest.raises(JSONPathError, match="nope is not found"):
        parse("{.spec.nope}").find(POD, allow_missing_keys=False)


def test_literals_in_filters() -> None:
    items = {"items": [{"n": 1, "ok": True, "f": 2.5}, {"n": 2, "ok": False, "f": 0.5}]}
    assert parse("{.items[?(@.ok == true)].n}").find(items) == [[1]]
    assert parse("{.items[?(@.n >= 2)].n}").find(items) == [[2]]
    assert parse("{.items[?(@.f < 1.5)].n}").find(items) == [[2]]
    assert parse("{.items[?(@.n == -1)].n}").find(items) == [[]]


def test_recursive_descent_yields_containers_only() -> None:
    data = {"a": {"b": 1, "c": [2, {"d": "x"}]}, "e": ""}
    assert parse("{..d}").find(data) == [["x"]]
    found = parse("{..}").find(data)[0]
    assert data in found and data["a"] in found and "x" in found
    assert 1 not in found and "" not in found


def test_quoted_key_is_reparsed_as_a_path() -> None:
    # upstream turns ['a.b'] into .a.b; escape the dot to reach a dotted key
    data = {"a": {"b": 1}, "a.b": 2}
    assert parse("{['a.b']}").find(data) == [[1]]
    assert parse("{['a\\.b']}").find(data) == [[2]]


def test_first_reads_a_crd_column() -> None:
    col = parse_column('.status.conditions[?(@.type=="Ready")].status')
    assert col.source == '{.status.conditions[?(@.type=="Ready")].status}'
    assert col.first(POD) == (True, "False")
    assert parse_column(".status.nothing").first(POD) == (False, None)
    assert parse_column(".metadata.annotations").first(POD) == (True, None)
    assert parse_column(".spec.containers[9]").first(POD) == (False, None)      # an error is "not found"


def test_parse_is_cached() -> None:
    assert parse("{.spec.replicas}") is parse("{.spec.replicas}")


@pytest.mark.parametrize(("template", "want"), [
    ("{.spec.containers[*].name}", "a b"),
    ("{.metadata.labels}", '{"app":"web","app.kubernetes.io/name":"web"}'),
    ("{.status.counts}", "[1,5,10]"),
    ("{.spec.paused} {.status.score}", "false 1.5"),
    ("{.metadata.annotations}", "<no value>"),
    ("{.metadata.name}{\"\\n\"}", "web-0\n"),
    ("{.nothing}", ""),
])
def test_render(template: str, want: str) -> None:
    assert parse(template).render(POD) == want
