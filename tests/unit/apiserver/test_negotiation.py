"""negotiation.choose: the Accept headers real clients send → the representation we answer (or 406)."""

from __future__ import annotations

import pathlib
import re

import pytest

from pybernetes.api.errors import NotAcceptable
from pybernetes.apiserver.negotiation import JSON, YAML, Output, choose, parse_accept

SHARED = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared"
OBJ = ("Table", "PartialObjectMetadata")
LIST = ("Table", "PartialObjectMetadataList")
TABLE_V1 = Output("json", "Table", "v1", "application/json")
KUBECTL_GET = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io," \
              "application/json"
DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;" \
            "g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"


@pytest.mark.parametrize(("accept", "allow_as", "want"), [
    (None, LIST, JSON),
    ("", LIST, JSON),
    # kubectl get / get -w (every version 1.27-1.33): Table v1 first
    (KUBECTL_GET, LIST, TABLE_V1),
    (KUBECTL_GET, OBJ, TABLE_V1),
    ("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", LIST,
     Output("json", "Table", "v1beta1", "application/json")),
    # ... but an endpoint that cannot make Tables (delete, reviews) falls back to plain JSON
    (KUBECTL_GET, (), JSON),
    # kubectl 1.32+ typed calls; 1.27-1.31 typed calls; kubectl top; kubectl get --raw, logs
    ("application/vnd.kubernetes.protobuf,application/json", (), JSON),
    ("application/json, */*", (), JSON),
    ("application/vnd.kubernetes.protobuf, */*", (), JSON),
    ("*/*", (), JSON),
    ("application/*", (), JSON),
    # the Python client (kubernetes 37) and kubernetes_asyncio: one type; discovery headers on a resource
    ("application/json", LIST, JSON),
    ("application/json;stream=watch", LIST, JSON),
    ("application/vnd.kubernetes.protobuf;stream=watch,application/json;stream=watch", LIST, JSON),
    (DISCOVERY, LIST, JSON),
    # metadata-only clients (garbage collector, namespace controller)
    ("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;"
     "as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", LIST,
     Output("json", "PartialObjectMetadataList", "v1", "application/json")),
    ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", OBJ,
     Output("json", "PartialObjectMetadata", "v1")),
    # YAML, also for Tables; parameters and types are case-insensitive, values quoted or not
    ("application/yaml", (), YAML),
    ("application/yaml;as=Table;g=meta.k8s.io;v=v1", LIST, Output("yaml", "Table", "v1", "application/yaml")),
    ('Application/JSON; AS="Table"; G="meta.k8s.io"; V="v1"', LIST, TABLE_V1),
    # q values decide before header order (goautoneg); wildcards sort after concrete types
    ("application/yaml;q=0.5, application/json", (), JSON),
    ("application/json;q=0.1, application/yaml;q=0.9", (), YAML),
    ("*/*, application/yaml", (), YAML),
    # conversions we cannot make are skipped: unknown kinds, wrong group/version, g/v without as, protobuf Tables
    ("application/json;as=Table;g=example.com;v=v1,application/yaml", LIST, YAML),
    ("application/json;as=Table;g=meta.k8s.io;v=v2,application/yaml", LIST, YAML),
    ("application/json;as=Deployment;g=meta.k8s.io;v=v1,application/yaml", LIST, YAML),
    ("application/json;g=meta.k8s.io;v=v1,application/yaml", LIST, YAML),
    ("application/vnd.kubernetes.protobuf;as=Table;g=meta.k8s.io;v=v1,application/yaml", LIST, YAML),
    # yaml has no watch stream serializer; malformed clauses are ignored
    ("application/yaml;stream=watch,application/json", LIST, JSON),
    ("application/json;stream=other,application/yaml", LIST, YAML),
    ("garbage, application/json", (), JSON),
])
def test_choose(accept: str | None, allow_as: tuple[str, ...], want: Output) -> None:
    assert choose(accept, allow_as=allow_as) == want


@pytest.mark.parametrize("accept", [
    "text/plain", "application/xml", "text/html, image/png", "application/vnd.kubernetes.protobuf",
    "text/yaml", "application/json;as=Table;g=meta.k8s.io;v=v1", "garbage", ",",
])
def test_not_acceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable) as ei:
        choose(accept, allow_as=())
    assert ei.value.code == 406
    assert ei.value.reason == "NotAcceptable"
    assert str(ei.value).startswith("only the following media types are accepted: application/json")


def test_parse_accept_drops_q_and_orders_like_goautoneg() -> None:
    # Go's insertion sort with goautoneg's (inconsistent) predicate puts json;q=0.9 before text/* (q=1): a
    # concrete subtype beats a wildcard whatever the q values.
    got = parse_accept("*/*;q=0.8, text/*, application/json;q=0.9;as=Table, application/yaml")
    assert [(m.type, m.params) for m in got] == [
        ("application/yaml", ()), ("application/json", (("as", "Table"),)), ("text/*", ()), ("*/*", ())]
    assert [m.type for m in parse_accept("*, application/json")] == ["application/json", "*/*"]


def test_every_accept_header_in_the_kubectl_transcripts_is_answered() -> None:
    """kubectl 1.32's real requests (CLIENTS.md): each Accept header gets JSON (or a Table where asked)."""
    headers = set()
    for f in sorted((SHARED / "kubectl-transcripts").glob("*.txt")):
        for m in re.finditer(r"^(GET|POST|PUT|PATCH|DELETE) (\S+) Accept=(.+?)(?: \S+=|$)", f.read_text(), re.M):
            headers.add(m.group(3))
    assert len(headers) >= 4
    for h in headers:
        out = choose(h, allow_as=LIST)
        assert out.format == "json" and out.content_type == "application/json", h
        assert out.as_kind == ("Table" if "as=Table" in h else ""), h
