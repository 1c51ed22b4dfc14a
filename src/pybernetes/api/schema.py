"""Typed access to the upstream API facts in ``generated/schema.json``.

The file is produced by ``tools/gen_schema.py`` from ``shared/k8s-api/schema.json``; every consumer (protobuf
codec, strict decoding, strategic merge patch, server-side apply, OpenAPI) reads field facts through here so that
there is exactly one notion of "the JSON properties of a message": proto fields renamed by ``jsonName`` and with
``inline`` sub-messages flattened, as Go's encoding/json does with embedded structs.
"""

from __future__ import annotations

import functools
import pathlib
from dataclasses import dataclass, field

import orjson

SCALARS = frozenset({"string", "int32", "int64", "uint32", "uint64", "bool", "bytes", "double", "float",
                     "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"})

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"


@dataclass(frozen=True, slots=True)
class Field:
    number: int
    name: str                 # proto name
    json: str                 # JSON key ("-" when not in JSON)
    type: str                 # scalar name, message name, or "map<K,V>"
    repeated: bool
    map_key: str | None = None
    map_value: str | None = None
    inline: bool = False
    omitempty: bool = False
    pointer: bool = False
    required: bool = False
    patch_strategy: str | None = None
    patch_merge_key: str | None = None
    list_type: str | None = None
    list_map_keys: tuple[str, ...] = ()
    map_type: str | None = None
    enum: tuple[str, ...] = ()
    default: str | None = None

    @property
    def is_map(self) -> bool:
        return self.map_key is not None

    @property
    def is_message(self) -> bool:
        """True when the (element) type is a message, for maps: when the value type is."""
        t = self.map_value if self.map_key is not None else self.type
        return t is not None and t not in SCALARS

    @property
    def element_type(self) -> str:
        return self.map_value if self.map_key is not None else self.type  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Message:
    name: str
    package: str
    fields: tuple[Field, ...]
    special: str | None = None          # specialJSON form, e.g. "quantity", "rfc3339", "int-or-string"
    scope: str | None = None            # "Namespaced" | "Cluster" for top-level kinds
    gvk: tuple[str, str, str] | None = None
    subresources: tuple[str, ...] = ()
    type_meta: bool = False
    by_number: dict[int, Field] = field(default_factory=dict, compare=False, repr=False)


class Schema:
    """All messages, kinds and JSON properties; one instance per process (see :func:`schema`)."""

    def __init__(self, raw: dict) -> None:
        self.raw = raw
        self.sources: list[dict] = raw["sources"]
        self.packages: dict[str, dict] = raw["packages"]
        special = raw["specialJSON"]
        self.messages: dict[str, Message] = {}
        for name, m in raw["messages"].items():
            fields = tuple(_field(f) for f in m.get("fields", ()))
            gvk = m.get("gvk")
            subs = tuple(s.lstrip("/") for s in (m.get("markers") or {}).get("subresources", ()))
            msg = Message(name=name, package=m["package"], fields=fields, special=special.get(name),
                          scope=m.get("scope"), gvk=(gvk["group"], gvk["version"], gvk["kind"]) if gvk else None,
                          subresources=subs, type_meta=bool(m.get("typeMeta")),
                          by_number={f.number: f for f in fields})
            self.messages[name] = msg
        # "group/version/Kind" (core: "v1/Kind") -> message name
        self.kinds: dict[str, str] = raw["kinds"]
        self._props: dict[str, dict[str, Field]] = {}

    def message(self, name: str) -> Message:
        return self.messages[name]

    def kind(self, api_version: str, kind: str) -> Message | None:
        name = self.kinds.get(f"{api_version}/{kind}")
        return self.messages.get(name) if name else None

    def properties(self, name: str) -> dict[str, Field]:
        """JSON key -> Field for a message, inline sub-messages flattened, ``json: "-"`` fields dropped."""
        props = self._props.get(name)
        if props is None:
            props = {}
            msg = self.messages.get(name)
            for f in msg.fields if msg else ():
                if f.inline and f.type in self.messages:
                    props.update(self.properties(f.type))
                elif f.json != "-":
                    props[f.json] = f
            if msg and msg.type_meta:
                props.setdefault("apiVersion", Field(0, "apiVersion", "apiVersion", "string", False))
                props.setdefault("kind", Field(0, "kind", "kind", "string", False))
            self._props[name] = props
        return props

    def resolve(self, root: str, path: list[str]) -> Field | None:
        """The field at a JSON path (keys only; list elements are stepped through implicitly)."""
        msg, fld = root, None
        for key in path:
            if msg is None:
                return None
            fld = self.properties(msg).get(key)
            if fld is None:
                return None
            msg = fld.element_type if fld.is_message else None
        return fld


def _field(f: dict) -> Field:
    m = f.get("map")
    return Field(
        number=f["number"], name=f["name"], json=f.get("jsonName", f["name"]), type=f["type"],
        repeated=f.get("repeated", False),
        map_key=m["key"] if m else None, map_value=m["value"] if m else None,
        inline=f.get("inline", False), omitempty=f.get("omitempty", False) or f.get("omitzero", False),
        pointer=f.get("pointer", False), required=f.get("required", False),
        patch_strategy=f.get("patchStrategy"), patch_merge_key=f.get("patchMergeKey"),
        list_type=f.get("listType"), list_map_keys=tuple(f.get("listMapKeys", ())),
        map_type=f.get("mapType"), enum=tuple(f.get("enum", ())), default=f.get("default"),
    )


@functools.cache
def schema() -> Schema:
    path = pathlib.Path(__file__).with_name("generated") / "schema.json"
    return Schema(orjson.loads(path.read_bytes()))
