"""The Kubernetes JSONPath dialect (``k8s.io/client-go/util/jsonpath``), over plain JSON values.

CustomResourceDefinitions name their ``additionalPrinterColumns`` with it (``.spec.replicas``,
``.status.conditions[?(@.type=="Ready")].status``) and kubectl's ``-o jsonpath`` uses the same language. A
template is text with ``{…}`` actions; an action is a chain of steps:

* ``.name`` / ``['name']`` — a map key (``\\.`` escapes a dot inside a name; a quoted key is re-read as a dotted
  path, as upstream does);
* ``[i]``, ``[-1]``, ``[start:end:step]``, ``[*]`` — list indexes and slices; ``[a,b]`` — a union;
* ``.*`` — every value of a map or list; ``..`` — recursive descent;
* ``[?(@.x == "y")]`` — a filter, with ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` or bare existence.

Semantics are upstream's, including its quirks: a missing key yields no result (with ``allow_missing_keys``,
the default, as both CRD columns and kubectl use it) while a wrong type (indexing a map, filtering a string) or
an out-of-range index is an error; comparisons follow Go's text/template (an int never equals a float, ``<`` on
booleans is an error); ``..`` yields only the non-empty maps, lists and strings below a value. ``{range}`` and
``{end}`` are not supported (``JSONPathError``).

Parsing is cached per expression, so a CRD column compiles once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pybernetes.api.tables.goformat import go_json, go_text

__all__ = ["JSONPath", "JSONPathError", "go_json", "go_text", "parse", "parse_column", "print_value"]


class JSONPathError(ValueError):
    """A template that does not parse, or an evaluation error (upstream returns both as Go errors)."""


# ---------------------------------------------------------------------------------------------------------------
# Nodes. A step takes the current values and returns the next ones.


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    pass


@dataclass(frozen=True, slots=True)
class Recursive:
    pass


@dataclass(frozen=True, slots=True)
class Slice:
    start: int | None            # None: not given
    end: int | None
    end_derived: bool            # ``[i]``: end is i+1, computed at parse time
    step: int | None


@dataclass(frozen=True, slots=True)
class Union:
    branches: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True, slots=True)
class Filter:
    left: tuple[Any, ...]
    op: str                      # "exists" or a comparison
    right: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    """A quoted string, number or boolean inside an action: evaluates to itself for every input."""
    value: Any


@dataclass(frozen=True, slots=True)
class Identifier:
    name: str


Step = Field | Wildcard | Recursive | Slice | Union | Filter | Literal | Identifier
Action = tuple[Step, ...]


# ---------------------------------------------------------------------------------------------------------------
# Parser


_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_DICT_KEY = re.compile(r"'([^']*)'")
_SLICE = re.compile(r"(-?\d*)(:-?\d*)?(:-?\d*)?")
_FILTER = re.compile(r"([^!<>=]+)([!<>=]+)(.+?)", re.S)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[str | Action, ...]:
        """The template as text pieces and actions, in order."""
        out: list[str | Action] = []
        text = self.text
        while self.pos < len(text):
            i = text.find("{", self.pos)
            if i < 0:
                out.append(text[self.pos:])
                break
            if i > self.pos:
                out.append(text[self.pos:i])
            self.pos = i + 1
            out.append(self._action())
        return tuple(out)

    def _action(self) -> Action:
        steps: list[Step] = []
        text = self.text
        while True:
            if text.startswith("}", self.pos):
                self.pos += 1
                return tuple(steps)
            if text.startswith("[?(", self.pos):
                steps.append(self._filter())
                continue
            if text.startswith("..", self.pos):
                if steps and isinstance(steps[-1], Recursive):
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                steps.append(Recursive())
                if self.pos < len(text) and _alnum(text[self.pos]):
                    steps.append(self._field())
                continue
            if self.pos >= len(text) or text[self.pos] in "\r\n":
                raise JSONPathError("unclosed action")
            c = text[self.pos]
            self.pos += 1
            if c in " @$":
                continue
            if c == "[":
                steps.extend(self._array())
            elif c in "\"'":
                steps.append(self._quote(c))
            elif c == ".":
                steps.append(self._field())
            elif c in "+-" or c.isdigit():
                self.pos -= 1
                steps.append(self._number())
            elif _alnum(c):
                self.pos -= 1
                steps.append(self._identifier())
            else:
                raise JSONPathError(f"unrecognized character in action: U+{ord(c):04X} {c!r}")

    def _field(self) -> Field | Wildcard:
        text, start = self.text, self.pos
        while self.pos < len(text):
            c = text[self.pos]
            if c == "\\":
                self.pos += 2
                continue
            if c in _TERMINATORS:
                break
            self.pos += 1
        value = text[start:min(self.pos, len(text))]
        if value == "*":
            return Wildcard()
        return Field(value.replace("\\", ""))

    def _identifier(self) -> Literal | Identifier:
        text, start = self.text, self.pos
        while self.pos < len(text) and text[self.pos] not in _TERMINATORS:
            self.pos += 1
        value = text[start:self.pos]
        if value in ("true", "false"):
            return Literal(value == "true")
        return Identifier(value)

    def _number(self) -> Literal:
        text, start = self.text, self.pos
        if text[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(text) and (text[self.pos] == "." or text[self.pos].isdigit()):
            self.pos += 1
        value = text[start:self.pos]
        try:
            return Literal(int(value))
        except ValueError:
            pass
        try:
            return Literal(float(value))
        except ValueError:
            raise JSONPathError(f"cannot parse number {value}") from None

    def _quote(self, quote: str) -> Literal:
        text, start = self.text, self.pos - 1
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise JSONPathError("unterminated quoted string")
            c = text[self.pos]
            self.pos += 1
            if c == quote and text[self.pos - 2] != "\\":
                break
        return Literal(_unquote(text[start:self.pos]))

    def _array(self) -> list[Step]:
        text, start = self.text, self.pos
        end = start
        while True:
            if end >= len(text) or text[end] == "\n":
                raise JSONPathError("unterminated array")
            if text[end] == "]":
                break
            end += 1
        self.pos = end + 1
        inner = text[start:end]
        if inner == "*":
            inner = ":"
        parts = inner.split(",")
        if len(parts) > 1:
            return [Union(tuple(_parse_action(f"[{p.strip(' ')}]") for p in parts))]
        if m := _DICT_KEY.fullmatch(inner):
            return list(_parse_action("." + m[1]))
        m = _SLICE.fullmatch(inner)
        if m is None:
            raise JSONPathError(f"invalid array index {inner}")
        raw = [m[1] or "", (m[2] or "")[1:] if m[2] else None, (m[3] or "")[1:] if m[3] else None]
        start_v = _index(raw[0]) if raw[0] else None
        if raw[1] is None:                                  # "[i]": one element, end derived from start
            return [Slice(start_v, (start_v or 0) + 1, True, _opt_index(raw[2]))]
        return [Slice(start_v, _opt_index(raw[1]), False, _opt_index(raw[2]))]

    def _filter(self) -> Filter:
        text = self.text
        self.pos += 3
        start = self.pos
        begin = end = False
        pair = ""
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise JSONPathError("unterminated filter")
            c = text[self.pos]
            self.pos += 1
            if c in "\"'":
                if not begin:
                    begin, pair = True, c
                    continue
                if text[self.pos - 2] != "\\" and c == pair:
                    end = True
            elif c == ")" and begin == end:
                break
        if self.pos >= len(text) or text[self.pos] != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        expr = text[start:self.pos - 2]
        m = _FILTER.fullmatch(expr)
        if m is None:
            return Filter(_parse_action(expr), "exists", ())
        return Filter(_parse_action(m[1]), m[2], _parse_action(m[3]))


def _alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


def _index(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise JSONPathError(f"array index {s} is not a number") from None


def _opt_index(s: str | None) -> int | None:
    return _index(s) if s else None


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'",
            '"': '"'}


def _unquote(s: str) -> str:
    """``UnquoteExtend``: Go string-literal escapes inside single or double quotes."""
    body = s[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(body):
            raise JSONPathError(f"unquote string {s} error invalid syntax")
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            try:
                out.append(chr(int(body[i + 2:i + 2 + width], 16)))
            except ValueError:
                raise JSONPathError(f"unquote string {s} error invalid syntax") from None
            i += 2 + width
        elif e in "01234567":
            try:
                out.append(chr(int(body[i + 1:i + 4], 8)))
            except ValueError:
                raise JSONPathError(f"unquote string {s} error invalid syntax") from None
            i += 4
        else:
            raise JSONPathError(f"unquote string {s} error invalid syntax")
    return "".join(out)


def _parse_action(text: str) -> Action:
    """An action's steps from its inner text (``parseAction``)."""
    nodes = _Parser("{" + text + "}").parse()
    first = nodes[0] if nodes else ()
    if isinstance(first, str):
        raise JSONPathError(f"invalid action {text}")
    return first


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


def _go_type(v: Any) -> str:
    """The Go type name of a decoded JSON value, for upstream's error texts."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    return "<nil>"


def _children(v: Any) -> list[Any] | None:
    """A value's elements for ``*`` and ``..``: map values, list items, string bytes; None for scalars."""
    if isinstance(v, dict):
        return list(v.values())
    if isinstance(v, list):
        return v
    if isinstance(v, str):
        return list(v.encode())
    return None


def _eval_slice(values: list[Any], step: Slice) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, list):
            raise JSONPathError(f"{_go_type(v)} is not array or slice")
        n = len(v)
        start = step.start if step.start is not None else 0
        if start < 0:
            start += n
        end = step.end if step.end is not None else n
        if end < 0 or (end == 0 and step.end_derived):
            end += n
        if end == start:
            return out
        if start >= n or start < 0:
            raise JSONPathError(f"array index out of bounds: index {start}, length {n}")
        if end > n or end < 0:
            raise JSONPathError(f"array index out of bounds: index {end - 1}, length {n}")
        if start > end:
            raise JSONPathError(f"starting index {start} is greater than ending index {end}")
        stride = 1
        if step.step is not None:
            if step.step <= 0:
                raise JSONPathError("step must be > 0")
            stride = step.step
        out.extend(v[start:end:stride])
    return out


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    raise JSONPathError("invalid type for comparison")


def _less(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        raise JSONPathError("incompatible types for comparison")
    if ka == "bool":
        raise JSONPathError("invalid type for comparison")
    return bool(a < b)


def _equal(a: Any, b: Any) -> bool:
    if _kind(a) != _kind(b):
        raise JSONPathError("incompatible types for comparison")
    return bool(a == b)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equal,
    "!=": lambda a, b: not _equal(a, b),
    "<": _less,
    "<=": lambda a, b: _less(a, b) or _equal(a, b),
    ">": lambda a, b: not (_less(a, b) or _equal(a, b)),
    ">=": lambda a, b: not _less(a, b),
}


def _eval_filter(values: list[Any], step: Filter, allow_missing: bool) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not isinstance(v, list):
            raise JSONPathError(f"{v!r} is not array or slice and cannot be filtered")
        for item in v:
            if step.op == "exists":
                try:
                    if _eval_action([item], step.left, allow_missing):
                        out.append(item)
                except JSONPathError:
                    pass
                continue
            lefts = _eval_action([item], step.left, allow_missing)
            if not lefts:
                continue
            if len(lefts) > 1:
                raise JSONPathError("can only compare one element at a time")
            rights = _eval_action([item], step.right, allow_missing)
            if not rights:
                continue
            if len(rights) > 1:
                raise JSONPathError("can only compare one element at a time")
            compare = _COMPARE.get(step.op)
            if compare is None:
                raise JSONPathError(f"unrecognized filter operator {step.op}")
            if compare(lefts[0], rights[0]):
                out.append(item)
    return out


def _recurse(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        kids = _children(v)
        if kids:
            out.append(v)
            out.extend(_recurse(kids))
    return out


def _eval_action(values: list[Any], steps: Action, allow_missing: bool) -> list[Any]:
    for step in steps:
        if isinstance(step, Field):
            name = step.name
            out = []
            for v in values:
                if isinstance(v, dict) and name in v:
                    out.append(v[name])
            if not out and values and not allow_missing:
                raise JSONPathError(f"{name} is not found")
            values = out
        elif isinstance(step, Slice):
            values = _eval_slice(values, step)
        elif isinstance(step, Filter):
            values = _eval_filter(values, step, allow_missing)
        elif isinstance(step, Wildcard):
            values = [c for v in values if v is not None for c in (_children(v) or ())]
        elif isinstance(step, Recursive):
            values = _recurse(values)
        elif isinstance(step, Union):
            values = [r for branch in step.branches for r in _eval_action(values, branch, allow_missing)]
        elif isinstance(step, Literal):     # quoted text stands alone; numbers and booleans repeat per input
            values = [step.value] if isinstance(step.value, str) else [step.value] * len(values)
        else:
            raise JSONPathError(f"{step.name} is not supported")
    return values


# ---------------------------------------------------------------------------------------------------------------
# Public API


@dataclass(frozen=True, slots=True)
class JSONPath:
    """A parsed template: text pieces and actions. Build with :func:`parse`."""

    source: str
    parts: tuple[str | Action, ...]

    def find(self, data: Any, *, allow_missing_keys: bool = True) -> list[list[Any]]:
        """``FindResults``: one list of values per template piece (a text piece yields itself)."""
        out: list[list[Any]] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append([part])
            else:
                out.append(_eval_action([data], part, allow_missing_keys))
        return out

    def first(self, data: Any) -> tuple[bool, Any]:
        """The first value of the first piece, as a CRD printer column reads it: ``(found, value)``.

        Not found (no value, or an evaluation error) is ``(False, None)``; a JSON null is ``(True, None)``.
        """
        try:
            results = self.find(data)
        except JSONPathError:
            return False, None
        if not results or not results[0]:
            return False, None
        return True, results[0][0]

    def render(self, data: Any, *, allow_missing_keys: bool = True) -> str:
        """``Execute``: every piece printed, values of one piece separated by spaces, maps and lists as JSON."""
        return "".join(" ".join(print_value(v) for v in values)
                       for values in self.find(data, allow_missing_keys=allow_missing_keys))


def print_value(v: Any) -> str:
    """One result as ``PrintResults`` writes it."""
    if isinstance(v, (dict, list)):
        return go_json(v)
    return go_text(v)


@lru_cache(maxsize=1024)
def parse(template: str) -> JSONPath:
    """Parse a template (``{.spec.replicas}`` or text with ``{…}`` actions). Raises :class:`JSONPathError`."""
    return JSONPath(template, _Parser(template).parse())


def parse_column(json_path: str) -> JSONPath:
    """A CRD ``additionalPrinterColumns[].jsonPath``: upstream wraps it in braces before parsing."""
    return parse("{" + json_path + "}")
