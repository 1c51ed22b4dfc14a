"""The compiled SMD view of types: list kinds and keys from the upstream markers, item path elements, Go zeros."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.ssatypes import (
    DEDUCED,
    LIST,
    MAP,
    STRUCT,
    PathElementError,
    TypeNode,
    item_pe,
    node_of,
    root_node,
)
from pybernetes.api.typeinfo import from_openapi, of_kind

DEPLOY = of_kind("apps/v1", "Deployment")


def _at(*path: str) -> TypeNode:
    assert DEPLOY is not None
    n: TypeNode | None = root_node(DEPLOY)
    for name in path:
        assert n is not None
        n = n.field(name)
    assert n is not None
    return n


@pytest.mark.parametrize(("path", "kind", "rel", "keys", "atomic"), [
    (("spec", "template", "spec", "containers"), LIST, "map", ("name",), False),
    (("metadata", "finalizers"), LIST, "set", (), False),
    (("spec", "template", "spec", "tolerations"), LIST, "atomic", (), True),
    (("metadata", "labels"), MAP, "", (), False),
    (("spec", "selector"), STRUCT, "", (), True),             # LabelSelector is +structType=atomic
])
def test_list_and_struct_kinds_follow_the_upstream_markers(path: tuple[str, ...], kind: int, rel: str,
                                                             keys: tuple[str, ...], atomic: bool) -> None:
    n = _at(*path)
    assert (n.kind, n.rel, n.keys, n.atomic) == (kind, rel, keys, atomic)


def test_map_list_keys_carry_their_defaults() -> None:
    ports = _at("spec", "template", "spec", "containers").elem
    assert ports is not None
    ports = ports.field("ports")
    assert ports is not None
    assert ports.keys == ("containerPort", "protocol")
    assert ports.key_defaults == {"protocol": "TCP"}
    assert item_pe({"containerPort": 80}, ports) == 'k:{"containerPort":80,"protocol":"TCP"}'


@pytest.mark.parametrize(("path", "item", "want"), [
    (("spec", "template", "spec", "containers"), {"name": "web", "image": "x"}, 'k:{"name":"web"}'),
    (("metadata", "finalizers"), "example.com/x", 'v:"example.com/x"'),
])
def test_item_path_elements(path: tuple[str, ...], item: Any, want: str) -> None:
    assert item_pe(item, _at(*path)) == want


@pytest.mark.parametrize(("path", "item", "message"), [
    (("spec", "template", "spec", "containers"), None, "associative list with keys may not have a null element"),
    (("spec", "template", "spec", "containers"), "x", "associative list with keys may not have non-map elements"),
    (("spec", "template", "spec", "containers"), {"image": "x"},
     'associative list with keys has an element that omits key field "name" (and doesn\'t have default value)'),
    (("metadata", "finalizers"), {"a": 1}, "associative list without keys has an element that's a map type"),
    (("metadata", "finalizers"), None, "associative list without keys has an element that's an explicit null"),
])
def test_items_without_a_path_element(path: tuple[str, ...], item: Any, message: str) -> None:
    with pytest.raises(PathElementError) as e:
        item_pe(item, _at(*path))
    assert str(e.value) == message


def test_zero_struct_has_the_keys_go_always_writes() -> None:
    assert _at("spec").zero() == {"selector": None, "strategy": {},
                                  "template": {"metadata": {"creationTimestamp": None}, "spec": {"containers": None}}}
    assert _at("spec").declared("replicas") and not _at("spec").declared("bogus")


def test_nodes_are_compiled_once_per_type() -> None:
    assert DEPLOY is not None
    assert root_node(DEPLOY) is root_node(DEPLOY)
    assert node_of(DEPLOY) is node_of(DEPLOY)


def test_custom_resource_root_gets_object_meta_and_preserved_fields_are_deduced() -> None:
    ti = from_openapi({"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}})
    root = root_node(ti)
    meta, spec = root.field("metadata"), root.field("spec")
    assert meta is not None and meta.kind == STRUCT and meta.message is not None
    assert spec is not None and spec.kind == DEDUCED
