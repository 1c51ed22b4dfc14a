"""The Swagger 2.0 document as google/gnostic's ``openapi.v2.Document`` protobuf message.

kubectl 1.27/1.28 fetch ``/openapi/v2`` with ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``
and unmarshal it into gnostic's generated Go types (``openapiv2/OpenAPIv2.proto``); there is no JSON fallback. We
encode the same dict that is served as JSON, so both forms always agree. Only the parts our documents use are
mapped; field numbers are those of the ``.proto``.

Gnostic keeps free-form values (``enum`` members, ``default``, every ``x-…`` vendor extension) as an ``Any`` whose
``yaml`` field holds the value as YAML text. kubectl reads ``x-kubernetes-group-version-kind`` by YAML-decoding it
(into ``map[string]string`` on operations, a list of maps on definitions). JSON is a subset of YAML, so the value's
compact JSON is written there: exact for every JSON value, and far cheaper than a YAML emitter.

The writer is deliberately tiny: every message is built bottom-up as ``bytes`` (a length-delimited field needs
its payload's length first), which for a document of a few MB costs a few tens of milliseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import orjson

Enc = Callable[[Any], bytes]


# ------------------------------------------------------------------------------------------- wire format
_SMALL = [bytes((i,)) for i in range(128)]


def _varint(n: int) -> bytes:
    if 0 <= n < 128:                                             # lengths and keys: nearly always one byte
        return _SMALL[n]
    out = bytearray()
    n &= 0xFFFFFFFFFFFFFFFF                                      # negative int64 → two's complement, 10 bytes
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


@functools.cache
def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


@functools.lru_cache(maxsize=1 << 16)
def string(number: int, value: str | None) -> bytes:
    """A proto3 string field; the empty string is the default and is not written. Cached: documents repeat the
    same names, types and references thousands of times."""
    return _len(number, value.encode()) if value else b""


def strings(number: int, values: Iterable[str] | None) -> bytes:
    return b"".join(_len(number, v.encode()) for v in values or ())


def boolean(number: int, value: bool | None) -> bytes:
    return _key(number, 0) + b"\x01" if value else b""


def message(number: int, payload: bytes | None, *, always: bool = False) -> bytes:
    """An embedded message; an empty one is still written when ``always`` (it is a set oneof member)."""
    return _len(number, payload) if payload or (always and payload is not None) else b""


def messages(number: int, values: Iterable[Any] | None, enc: Enc) -> bytes:
    return b"".join(_len(number, enc(v)) for v in values or ())


# ---------------------------------------------------------------------------------------------- values
def _any(value: Any) -> bytes:
    """gnostic ``Any``: field 2 ``yaml`` holds the value's text (compact JSON is valid YAML)."""
    return string(2, orjson.dumps(value).decode() + "\n")


def _named(value_enc: Enc) -> Callable[[tuple[str, Any]], bytes]:
    """``Named*`` pairs (gnostic's ordered maps): 1 name, 2 value."""
    return lambda kv: string(1, kv[0]) + message(2, value_enc(kv[1]), always=True)


_named_any = _named(_any)


def _extensions(number: int, obj: dict[str, Any]) -> bytes:
    return messages(number, [(k, v) for k, v in obj.items() if k.startswith("x-")], _named_any)


# --------------------------------------------------------------------------------------------- schemas
def schema(s: dict[str, Any]) -> bytes:
    """``Schema``: 1 _ref, 2 format, 3 title, 4 description, 5 default, 19 required, 20 enum, 21 additional_properties,
    22 type, 23 items, 24 all_of, 25 properties, 27 read_only, 31 vendor_extension."""
    typ = s.get("type")
    items = s.get("items")
    ap = s.get("additionalProperties")
    return b"".join((
        string(1, s.get("$ref")), string(2, s.get("format")), string(3, s.get("title")),
        string(4, s.get("description")),
        message(5, _any(s["default"]) if "default" in s else None),
        strings(19, s.get("required")),
        messages(20, s.get("enum"), _any),
        message(21, _additional_properties(ap) if ap is not None else None, always=True),
        message(22, strings(1, [typ] if isinstance(typ, str) else typ) if typ else None),
        message(23, messages(1, [items] if isinstance(items, dict) else items, schema) if items is not None else None,
                always=True),
        messages(24, s.get("allOf"), schema),
        message(25, messages(1, s["properties"].items(), _named_schema) if "properties" in s else None, always=True),
        boolean(27, s.get("readOnly")),
        _extensions(31, s),
    ))


def _additional_properties(ap: Any) -> bytes:
    """``AdditionalPropertiesItem`` oneof: 1 schema, 2 boolean."""
    if isinstance(ap, bool):
        return _key(2, 0) + (b"\x01" if ap else b"\x00")
    return message(1, schema(ap), always=True)


_named_schema = _named(schema)


# ------------------------------------------------------------------------------------------ parameters
def _parameter(p: dict[str, Any]) -> bytes:
    """``ParametersItem`` → ``Parameter`` oneof: 1 body_parameter, 2 non_body_parameter."""
    if "$ref" in p:
        return message(2, string(1, p["$ref"]), always=True)                  # JsonReference{_ref}
    if p["in"] == "body":
        body = b"".join((string(1, p.get("description")), string(2, p["name"]), string(3, "body"),
                         boolean(4, p.get("required")), message(5, schema(p.get("schema", {})), always=True),
                         _extensions(6, p)))
        return message(1, message(1, body, always=True), always=True)
    # NonBodyParameter oneof: 1 header, 2 formData, 3 query, 4 path. The sub-schemas share their first fields
    # (required, in, description, name) but number type/format/uniqueItems differently.
    where = p["in"]
    if where in ("query", "formData"):
        tail = (6, 7, 20, 23)
    else:
        tail = (5, 6, 19, 22)
    sub = b"".join((boolean(1, p.get("required")), string(2, where), string(3, p.get("description")),
                    string(4, p["name"]), string(tail[0], p.get("type")), string(tail[1], p.get("format")),
                    boolean(tail[2], p.get("uniqueItems")), _extensions(tail[3], p)))
    kind = {"header": 1, "formData": 2, "query": 3, "path": 4}[where]
    return message(1, message(2, message(kind, sub, always=True), always=True), always=True)


# ------------------------------------------------------------------------------------------ operations
def _response(r: dict[str, Any]) -> bytes:
    """``ResponseValue`` oneof 1 ``Response``: 1 description, 2 schema (``SchemaItem`` oneof 1 ``Schema``)."""
    resp = string(1, r.get("description")) + message(
        2, message(1, schema(r["schema"]), always=True) if "schema" in r else None, always=True) + _extensions(5, r)
    return message(1, resp, always=True)


def operation(op: dict[str, Any]) -> bytes:
    """``Operation``: 1 tags, 2 summary, 3 description, 5 operation_id, 6 produces, 7 consumes, 8 parameters,
    9 responses (``Responses``: 1 response_code), 10 schemes, 11 deprecated, 13 vendor_extension."""
    responses = messages(1, op.get("responses", {}).items(), _named(_response))
    return b"".join((
        strings(1, op.get("tags")), string(2, op.get("summary")), string(3, op.get("description")),
        string(5, op.get("operationId")), strings(6, op.get("produces")), strings(7, op.get("consumes")),
        messages(8, op.get("parameters"), _parameter), message(9, responses, always=True),
        strings(10, op.get("schemes")), boolean(11, op.get("deprecated")), _extensions(13, op),
    ))


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def path_item(item: dict[str, Any]) -> bytes:
    """``PathItem``: 1 _ref, 2 get, 3 put, 4 post, 5 delete, 6 options, 7 head, 8 patch, 9 parameters."""
    parts = [message(n, operation(item[m]), always=True) for m, n in _METHODS.items() if m in item]
    parts.append(messages(9, item.get("parameters"), _parameter))
    parts.append(_extensions(10, item))
    return b"".join(parts)


# ------------------------------------------------------------------------------------------- document
def _security_definition(d: dict[str, Any]) -> bytes:
    """``SecurityDefinitionsItem`` oneof; only 2 ``ApiKeySecurity`` {1 type, 2 name, 3 in, 4 description}."""
    if d.get("type") != "apiKey":
        return b""
    key = string(1, "apiKey") + string(2, d.get("name")) + string(3, d.get("in")) + string(4, d.get("description"))
    return message(2, key, always=True)


def _security_requirement(req: dict[str, list[str]]) -> bytes:
    """``SecurityRequirement``: 1 additional_properties (``NamedStringArray``; ``StringArray``: 1 value)."""
    return messages(1, req.items(), _named(lambda scopes: strings(1, scopes)))


def encode_document(doc: dict[str, Any]) -> bytes:
    """``Document``: 1 swagger, 2 info, 3 host, 4 base_path, 5 schemes, 6 consumes, 7 produces, 8 paths,
    9 definitions, 12 security, 13 security_definitions, 16 vendor_extension."""
    info = doc.get("info", {})
    info_b = string(1, info.get("title")) + string(2, info.get("version")) + string(3, info.get("description"))
    paths = messages(2, doc.get("paths", {}).items(), _named(path_item))            # Paths: 2 path (NamedPathItem)
    definitions = messages(1, doc.get("definitions", {}).items(), _named_schema)    # Definitions: 1 NamedSchema
    security_defs = messages(1, doc.get("securityDefinitions", {}).items(), _named(_security_definition))
    return b"".join((
        string(1, doc.get("swagger")), message(2, info_b, always=True), string(3, doc.get("host")),
        string(4, doc.get("basePath")), strings(5, doc.get("schemes")), strings(6, doc.get("consumes")),
        strings(7, doc.get("produces")), message(8, paths, always=True), message(9, definitions, always=True),
        messages(12, doc.get("security"), _security_requirement),
        message(13, security_defs if "securityDefinitions" in doc else None, always=True),
        _extensions(16, doc),
    ))
