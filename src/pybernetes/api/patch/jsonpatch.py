"""JSON patch (RFC 6902) as the Kubernetes API server applies it: gopkg.in/evanphx/json-patch.v4 at v4.12.0,
the version Kubernetes 1.27–1.34 (and kubectl) build with.

Real clients depend on v4's behaviour, so it is copied, quirks included, rather than the RFC's letter:

- negative array indexes count from the end (``-1`` is the last element; for ``add``, the end);
- ``replace`` of a missing object key adds it, ``copy`` from a missing object key copies ``null``;
- a path without a leading ``/`` is resolved as if it had one (``a/b`` means ``/b``), and ``add``/``remove``
  at the root path ``""`` fail while ``replace``/``test`` at ``""`` work on the whole document (a ``replace``
  there with a value that is not an object or array does nothing: v4.12 wraps a nil error into nil);
- ``test`` compares scalars by type and value (``1`` is not ``1.0``) and a missing member equals ``null``, but
  a ``test`` without ``value`` of a missing member crashes v4.12, which the server answers with a 500.

Kubernetes 1.35 moved to v4.13, which turns the two crashes and the silent ``replace`` into 422s; pybernetes
serves 1.33 and keeps v4.12's answers.

How the handler (kubernetes/apiserver ``pkg/endpoints/handlers/patch.go``) reports failures: a body that does not
decode as a list of operations is 400 with the decoder's message; more than 10,000 operations is 413; any
failure while applying is 422 ``Invalid`` whose message is only :data:`GENERIC_INVALID` — the library's text (in
:attr:`PatchError.detail`) never reaches the client. "copy" may add at most 3 MiB per patch (the server's
``JSONPatchMaxCopyBytes``).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from pybernetes.api.patch import PatchError, bad_request, clone, go_quote, invalid, json_kind, server_panic

MAX_OPERATIONS = 10000
MAX_COPY_BYTES = 3 * 1024 * 1024

_MISSING = "missing value"
_BAD_INDEX = "invalid index referenced"


class _Failed(Exception):
    """A library error; becomes the 422 at the top."""


def apply(doc: Any, ops: Any, *, max_copy_bytes: int = MAX_COPY_BYTES) -> Any:
    """Apply the decoded operations ``ops`` to ``doc`` (a JSON object or array) and return the new document."""
    patch = _operations(ops)
    if len(patch) > MAX_OPERATIONS:
        raise PatchError("Request entity too large: The allowed maximum operations in a JSON patch is "
                         f"{MAX_OPERATIONS}, got {len(patch)}", code=413, reason="RequestEntityTooLarge")
    if not isinstance(doc, (dict, list)):
        raise invalid(f"json: cannot unmarshal {json_kind(doc)} into Go value of type jsonpatch.partialDoc")
    state = _State(clone(doc), max_copy_bytes)
    try:
        for op in patch:
            kind = _kind(op)
            handler = _HANDLERS.get(kind)
            if handler is None:
                raise _Failed(f"Unexpected kind: {kind}")
            handler(state, op or {})
    except _Failed as err:
        raise invalid(str(err)) from None
    return state.root


def strict_errors(ops: Any) -> list[str]:
    """What upstream's strict decoding of the body reports (``fieldValidation=Strict|Warn`` only).

    Returns the unknown-field messages (``json patch unknown field "[0].valu"``) that become a 422 (Strict) or
    warnings (Warn); raises the 400 for a body whose operations do not decode. Duplicate keys are lost by the
    time a body is decoded, so they are not reported.
    """
    if ops is None:
        return []
    if not isinstance(ops, list):
        raise _strict_decode(f"json: cannot unmarshal {json_kind(ops)} into Go value of type []handlers.jsonPatchOp")
    found: list[str] = []
    for i, op in enumerate(ops):
        if op is None:
            continue
        if not isinstance(op, dict):
            raise _strict_decode(f"json: cannot unmarshal {json_kind(op)} into Go value of type handlers.jsonPatchOp")
        for key, value in op.items():
            if key not in ("op", "path", "from", "value"):
                found.append(f'json patch unknown field "[{i}].{key}"')
            elif key != "value" and value is not None and not isinstance(value, str):
                raise _strict_decode(f"json: cannot unmarshal {json_kind(value)} into Go struct field "
                                     f"jsonPatchOp.{key} of type string")
    return found


def _strict_decode(message: str) -> PatchError:
    return bad_request(f"error decoding patch: {message}")


def _operations(ops: Any) -> list[dict[str, Any] | None]:
    if ops is None:
        return []
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {json_kind(op)} into Go value of type jsonpatch.Operation")
    return ops


class _State:
    __slots__ = ("copied", "limit", "root")

    def __init__(self, root: dict[str, Any] | list[Any], limit: int) -> None:
        self.root: Any = root
        self.limit = limit
        self.copied = 0


def _kind(op: dict[str, Any] | None) -> str:
    kind = op.get("op") if op else None
    return kind if isinstance(kind, str) else "unknown"


def _field(op: dict[str, Any], name: str) -> str:
    """The string member ``name``, or _Failed with what Go's Path()/From() would say."""
    value = op.get(name)
    if value is None:
        raise _Failed("operation missing path field: missing value" if name == "path"
                      else "operation, missing from field: missing value")
    if not isinstance(value, str):
        raise _Failed(f"json: cannot unmarshal {json_kind(value)} into Go value of type string")
    return value


def _path(op: dict[str, Any], what: str, *, detail: bool = True) -> str:
    """Decode a path member; some operations wrap the decoder's error, others only say "missing value"."""
    try:
        return _field(op, "path")
    except _Failed as err:
        raise _Failed(f"{what} operation failed to decode path: {err if detail else _MISSING}") from None


def _from(op: dict[str, Any], what: str) -> str:
    try:
        return _field(op, "from")
    except _Failed as err:
        raise _Failed(f"{what} operation failed to decode from: {err}") from None


_TOKEN = re.compile("~[01]")


def _unescape(token: str) -> str:
    """RFC 6901: ``~1`` is ``/``, ``~0`` is ``~``, decoded in one left-to-right pass."""
    if "~" not in token:
        return token
    return _TOKEN.sub(lambda m: "/" if m.group() == "~1" else "~", token)


def _find(root: Any, path: str) -> tuple[Any, str] | None:
    """The container holding the last token of ``path`` and that token, or None when any step is missing."""
    parts = path.split("/")
    if len(parts) < 2:
        return None
    node = root
    for part in parts[1:-1]:
        token = _unescape(part)
        if type(node) is dict:
            node = node.get(token)
        else:
            try:
                node = _list_get(node, token)
            except _Failed:
                return None
        if type(node) is not dict and type(node) is not list:
            return None
    return node, _unescape(parts[-1])


_ATOI = re.compile(r"[+-]?[0-9]+\Z")


def _atoi(token: str) -> int:
    """strconv.Atoi: an optional sign and ASCII digits, within int64."""
    if not _ATOI.match(token):
        raise _Failed(f"strconv.Atoi: parsing {go_quote(token)}: invalid syntax")
    n = int(token)
    if not -(1 << 63) <= n < (1 << 63):
        raise _Failed(f"strconv.Atoi: parsing {go_quote(token)}: value out of range")
    return n


def _bad_index(idx: int) -> _Failed:
    return _Failed(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")


def _list_get(arr: list[Any], token: str) -> Any:
    idx = _atoi(token)
    if idx < 0:
        if idx < -len(arr):
            raise _bad_index(idx)
        idx += len(arr)
    if idx >= len(arr):
        raise _bad_index(idx)
    return arr[idx]


def _get(con: Any, key: str) -> Any:
    """Object members that are absent read as null; bad array indexes fail."""
    if type(con) is dict:
        return con.get(key)
    return _list_get(con, key)


def _add(con: Any, key: str, value: Any) -> None:
    if type(con) is dict:
        con[key] = value
        return
    if key == "-":
        con.append(value)
        return
    try:
        idx = _atoi(key)
    except _Failed as err:
        raise _Failed(f"value was not a proper array index: '{key}': {err}") from None
    size = len(con) + 1
    if idx >= size:
        raise _bad_index(idx)
    if idx < 0:
        if idx < -size:
            raise _bad_index(idx)
        idx += size
    con.insert(idx, value)


def _remove(con: Any, key: str) -> None:
    if type(con) is dict:
        if key not in con:
            raise _Failed(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        del con[key]
        return
    idx = _atoi(key)
    if idx >= len(con):
        raise _bad_index(idx)
    if idx < 0:
        if idx < -len(con):
            raise _bad_index(idx)
        idx += len(con)
    del con[idx]


def _set(con: Any, key: str, value: Any) -> None:
    """Only after a successful get: the index is known to be in range."""
    if type(con) is dict:
        con[key] = value
        return
    idx = _atoi(key)
    con[idx + len(con) if idx < 0 else idx] = value


def _op_add(state: _State, op: dict[str, Any]) -> None:
    path = _path(op, "add", detail=False)
    found = _find(state.root, path)
    if found is None:
        raise _Failed(f'add operation does not apply: doc is missing path: "{path}": {_MISSING}')
    try:
        _add(found[0], found[1], clone(op.get("value")))
    except _Failed as err:
        raise _Failed(f"error in add for path: '{path}': {err}") from None


def _op_remove(state: _State, op: dict[str, Any]) -> None:
    path = _path(op, "remove", detail=False)
    found = _find(state.root, path)
    if found is None:
        raise _Failed(f'remove operation does not apply: doc is missing path: "{path}": {_MISSING}')
    try:
        _remove(found[0], found[1])
    except _Failed as err:
        raise _Failed(f"error in remove for path: '{path}': {err}") from None


def _op_replace(state: _State, op: dict[str, Any]) -> None:
    path = _path(op, "replace")
    if path == "":
        if "value" not in op:
            raise server_panic()  # v4 dereferences the missing value
        value = op["value"]
        if isinstance(value, (dict, list)):
            state.root = clone(value)
        return
    found = _find(state.root, path)
    if found is None:
        raise _Failed(f"replace operation does not apply: doc is missing path: {path}: {_MISSING}")
    con, key = found
    try:
        _get(con, key)
    except _Failed:
        raise _Failed(f"replace operation does not apply: doc is missing key: {path}: {_MISSING}") from None
    _set(con, key, clone(op.get("value")))


def _op_move(state: _State, op: dict[str, Any]) -> None:
    src = _from(op, "move")
    found = _find(state.root, src)
    if found is None:
        raise _Failed(f"move operation does not apply: doc is missing from path: {src}: {_MISSING}")
    con, key = found
    try:
        value = _get(con, key)
        _remove(con, key)
    except _Failed as err:
        raise _Failed(f"error in move for path: '{key}': {err}") from None
    path = _path(op, "move")
    found = _find(state.root, path)
    if found is None:
        raise _Failed(f"move operation does not apply: doc is missing destination path: {path}: {_MISSING}")
    try:
        _add(found[0], found[1], value)
    except _Failed as err:
        raise _Failed(f"error in move for path: '{path}': {err}") from None


def _op_test(state: _State, op: dict[str, Any]) -> None:
    path = _path(op, "test")
    if path == "":
        if "value" not in op:
            raise server_panic()  # v4 dereferences the missing value
        if not _equal(state.root, op["value"]):
            raise _Failed("testing value  failed: test failed")
        return
    found = _find(state.root, path)
    if found is None:
        raise _Failed(f"test operation does not apply: is missing path: {path}: {_MISSING}")
    try:
        value = _get(found[0], found[1])
    except _Failed as err:
        raise _Failed(f"error in test for path: '{path}': {err}") from None
    expected = op.get("value")
    if value is None:
        if "value" not in op:
            raise server_panic()  # v4.12 reads the missing value's raw bytes
        if expected is None:
            return
    elif "value" in op and _equal(value, expected):
        return
    raise _Failed(f"testing value {path} failed: test failed")


def _op_copy(state: _State, op: dict[str, Any]) -> None:
    src = _from(op, "copy")
    found = _find(state.root, src)
    if found is None:
        raise _Failed(f"copy operation does not apply: doc is missing from path: {src}: {_MISSING}")
    try:
        value = _get(found[0], found[1])
    except _Failed as err:
        raise _Failed(f"error in copy for from: '{src}': {err}") from None
    path = _path(op, "copy", detail=False)
    found = _find(state.root, path)
    if found is None:
        raise _Failed(f"copy operation does not apply: doc is missing destination path: {path}: {_MISSING}")
    if value is not None:
        encoded = orjson.dumps(value)
        state.copied += len(encoded)
        if state.limit > 0 and state.copied > state.limit:
            raise _Failed(f"Unable to complete the copy, the accumulated size increase of copy is {state.copied}, "
                          f"exceeding the limit {state.limit}")
        value = orjson.loads(encoded)
    try:
        _add(found[0], found[1], value)
    except _Failed as err:
        raise _Failed(f"error while adding value during copy: {err}") from None


def _equal(a: Any, b: Any) -> bool:
    """v4's structural equality: objects ignore member order, scalars must agree in JSON type and value."""
    if type(a) is dict:
        if type(b) is not dict or len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b:
                return False
            w = b[k]
            if v is None or w is None:
                if v is not w:
                    return False
            elif not _equal(v, w):
                return False
        return True
    if type(a) is list:
        if type(b) is not list or len(a) != len(b):
            return False
        return all(x is y if x is None or y is None else _equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


_HANDLERS = {"add": _op_add, "remove": _op_remove, "replace": _op_replace, "move": _op_move, "test": _op_test,
             "copy": _op_copy}
