"""Label selectors, as apimachinery ``pkg/labels`` (v0.33).

Label selectors come as query strings (``?labelSelector=app=web,tier in (fe,be),!canary``) or as
``metav1.LabelSelector`` objects inside specs (``matchLabels`` + ``matchExpressions``); both become one
immutable :class:`LabelSelector`. Parse errors raise ``ValueError`` with upstream's exact text, which the API
server returns as a 400 (``unable to parse requirement: ...``). Parsed selectors are cached: list and watch
requests repeat the same few selectors.

Field selectors (``?fieldSelector=...``) and each kind's selectable fields live in
:mod:`pybernetes.api.fieldselector`; their public names are re-exported here, as are the operators of
:mod:`pybernetes.api.selection`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from pybernetes.api.field import ErrorType, FieldError, Path, forbidden, invalid, not_supported, required
from pybernetes.api.fieldselector import (
    FIELD_LABELS,
    FieldSelector,
    FieldsFn,
    convert_field_label,
    convert_field_selector,
    escape_field_value,
    field_labels,
    parse_field_selector,
    unescape_field_value,
)
from pybernetes.api.selection import (
    DOES_NOT_EXIST,
    DOUBLE_EQUALS,
    EQUALS,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_EQUALS,
    NOT_IN,
)
from pybernetes.api.validation.names import label_value, qualified_name, validate_label_name, validate_labels

__all__ = [
    "DOES_NOT_EXIST", "DOUBLE_EQUALS", "EQUALS", "EVERYTHING", "EXISTS", "FIELD_LABELS", "GREATER_THAN", "IN",
    "LESS_THAN", "NOTHING", "NOT_EQUALS", "NOT_IN", "FieldSelector", "FieldsFn", "LabelSelector", "Requirement",
    "convert_field_label", "convert_field_selector", "escape_field_value", "field_labels", "label_selector_from_dict",
    "new_requirement", "parse_field_selector", "parse_label_selector", "selector_from_set", "unescape_field_value",
    "validate_label_selector",
]

_BINARY = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_ALL_OPERATORS = (*_BINARY, EXISTS, DOES_NOT_EXIST)
_INT64 = re.compile(r"[+-]?[0-9]+")
_MIN_INT64, _MAX_INT64 = -(1 << 63), (1 << 63) - 1


def _q(s: str) -> str:
    return orjson.dumps(s).decode()


def _parse_int64(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64), None on failure."""
    if not _INT64.fullmatch(s):
        return None
    n = int(s)
    return n if _MIN_INT64 <= n <= _MAX_INT64 else None


class _GoStrings(tuple[str, ...]):
    """A ``[]string`` bad value, printed as Go's ``%#v`` does in field errors: ``[]string{"a", "b"}``."""

    __slots__ = ()

    def __str__(self) -> str:
        return "[]string{" + ", ".join(_q(v) for v in self) + "}"


def _aggregate(errs: list[FieldError]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message, or ``[a, b]`` with duplicates dropped."""
    msgs = list(dict.fromkeys(str(e) for e in errs))
    return msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"


# ---------------------------------------------------------------------------------------------------------------
# Label selectors


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term. Build it with :func:`new_requirement` (which validates)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (EQUALS, DOUBLE_EQUALS, IN):
            v = labels.get(self.key)
            return v is not None and v in self.values
        if op in (NOT_EQUALS, NOT_IN):
            v = labels.get(self.key)
            return v is None or v not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            v = labels.get(self.key)
            if v is None or len(self.values) != 1:
                return False
            have, want = _parse_int64(v), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({vals})"
        sym = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{sym}{vals}"


def new_requirement(key: str, operator: str, values: Iterable[str] = (), *,
                    path: Path | None = None) -> Requirement:
    """NewRequirement: validate and build. Raises ``ValueError`` with upstream's aggregated field errors.

    ``path`` prefixes the error fields; ``None`` is upstream's nil path (fields ``key``, ``values[0]``, ...).
    """
    vals = tuple(values)
    errs: list[FieldError] = []
    root = path or Path()
    if msgs := qualified_name(key):
        errs.append(invalid(root.child("key"), key, "; ".join(msgs)))
    vpath = root.child("values")
    if operator in (IN, NOT_IN):
        if not vals:
            errs.append(invalid(vpath, _GoStrings(vals), "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(invalid(vpath, _GoStrings(vals), "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(invalid(vpath, _GoStrings(vals), "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(invalid(vpath, _GoStrings(vals), "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(invalid(vpath.index(i), v, "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        errs.append(not_supported(root.child("operator"), operator, _ALL_OPERATORS))
    for i, v in enumerate(vals):
        if msgs := label_value(v):
            errs.append(invalid(vpath.index(i).key(key), v, "; ".join(msgs)))
    if errs:
        raise ValueError(_aggregate(errs))
    return Requirement(key, operator, vals)


class LabelSelector:
    """An immutable label selector: requirements sorted by key, all of which must match.

    ``empty`` means "matches everything" (no requirements). The selector built from a nil ``metav1.LabelSelector``
    matches nothing; it is not empty and prints as ``""``, as upstream's ``labels.Nothing()``.
    """

    __slots__ = ("_nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        self.requirements: tuple[Requirement, ...] = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing

    @property
    def empty(self) -> bool:
        return not self._nothing and not self.requirements

    @property
    def matches_nothing(self) -> bool:
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        ls = labels or {}
        for r in self.requirements:
            if not r.matches(ls):
                return False
        return True

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have (``=``, ``==`` or a one-value ``in``), else None (RequiresExactMatch)."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def add(self, *requirements: Requirement) -> LabelSelector:
        return LabelSelector((*self.requirements, *requirements), nothing=self._nothing)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "LabelSelector(<nothing>)" if self._nothing else f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LabelSelector) and other._nothing == self._nothing
                and other.requirements == self.requirements)

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


# -- the query-string parser (lexer and parser as upstream, same tokens, same errors) ---------------------------

_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_TOKENS = {")": "CPAR", ",": "COMMA", "!": "NOT", "==": "DEQ", "=": "EQ", ">": "GT", "in": "IN", "<": "LT",
           "!=": "NEQ", "notin": "NOTIN", "(": "OPAR"}
_OPERATOR_OF = {"IN": IN, "EQ": EQUALS, "DEQ": DOUBLE_EQUALS, "GT": GREATER_THAN, "LT": LESS_THAN,
                "NOTIN": NOT_IN, "NEQ": NOT_EQUALS}
_ID, _EOS, _ERR = "ID", "EOS", "ERR"


def _lex(s: str) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    pos, end = 0, len(s)
    while True:
        while pos < end and s[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            items.append((_EOS, ""))
            return items
        if s[pos] in _SPECIAL:
            # Longest run of special symbols that forms a token ("!=" before "!").
            buf, last, last_end = "", None, pos
            i = pos
            while i < end and s[i] in _SPECIAL:
                buf += s[i]
                i += 1
                if buf in _TOKENS:
                    last, last_end = (_TOKENS[buf], buf), i
                elif last is not None:
                    break
            if last is None:
                items.append((_ERR, f"error expected: keyword found '{buf}'"))
                pos = i
            else:
                items.append(last)
                pos = last_end
        else:
            start = pos
            while pos < end and s[pos] not in _SPECIAL and s[pos] not in _WHITESPACE:
                pos += 1
            word = s[start:pos]
            items.append((_TOKENS.get(word, _ID), word))


class _Parser:
    def __init__(self, s: str) -> None:
        self.items = _lex(s)
        self.pos = 0

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.items[self.pos]
        if values and tok in ("IN", "NOTIN"):
            tok = _ID
        return tok, lit

    def consume(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.lookahead(values)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_ID, "NOT"):
                try:
                    reqs.append(self.requirement())
                except ValueError as e:
                    raise ValueError(f"unable to parse requirement: {e}") from None
                t, lit = self.consume()
                if t == _EOS:
                    return reqs
                if t != "COMMA":
                    raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
                t2, lit2 = self.lookahead()
                if t2 not in (_ID, "NOT"):
                    raise ValueError(f"found '{lit2}', expected: identifier after ','")
            elif tok == _EOS:
                return reqs
            else:
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        operator = ""
        tok, lit = self.consume()
        if tok == "NOT":
            operator = DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok != _ID:
            raise ValueError(f"found '{lit}', expected: identifier")
        if msgs := qualified_name(lit):
            # Upstream validates the key here with a nil field path, printed "<nil>".
            raise ValueError(str(FieldError(ErrorType.INVALID, "<nil>", lit, "; ".join(msgs))))
        key = lit
        if self.lookahead()[0] in (_EOS, "COMMA"):
            operator = operator or EXISTS
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator)
        tok, lit = self.consume(values=False)
        if tok not in _OPERATOR_OF:
            raise ValueError(f"found '{lit}', expected: {', '.join(_BINARY)}")
        operator = _OPERATOR_OF[tok]
        values = self.values() if operator in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, operator, sorted(values))

    def values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != "OPAR":
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_ID, "COMMA"):
            s = self.identifiers()
            if self.consume()[0] != "CPAR":
                raise ValueError(f"found '{lit}', expected: ')'")
            return s
        if tok == "CPAR":
            self.consume()
            return {""}
        raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        s: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _ID:
                s.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == "COMMA":
                    continue
                if tok2 == "CPAR":
                    return s
                raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            if tok == "COMMA":
                if not s:
                    s.add("")          # "(,"
                tok2 = self.lookahead()[0]
                if tok2 == "CPAR":
                    s.add("")          # ",)"
                    return s
                if tok2 == "COMMA":
                    self.consume()
                    s.add("")          # ",,"
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.lookahead()[0] in (_EOS, "COMMA"):
            return {""}
        tok, lit = self.consume()
        if tok == _ID:
            return {lit}
        raise ValueError(f"found '{lit}', expected: identifier")


@lru_cache(maxsize=1024)
def parse_label_selector(s: str) -> LabelSelector:
    """labels.Parse: the query-string syntax. ``""`` is the everything-selector."""
    if not s:
        return EVERYTHING
    return LabelSelector(_Parser(s).parse())


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """SelectorFromSet: every ``key=value`` must match; no or empty map → everything (as upstream)."""
    if not labels:
        return EVERYTHING
    return LabelSelector(Requirement(k, EQUALS, (v,)) for k, v in labels.items())


_EXPR_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(d: Mapping[str, Any] | None) -> LabelSelector:
    """LabelSelectorAsSelector: ``None`` matches nothing, ``{}`` matches everything.

    Raises ``ValueError`` (upstream's text) for an unknown operator or an invalid key/value.
    """
    if d is None:
        return NOTHING
    match_labels = d.get("matchLabels") or {}
    exprs = d.get("matchExpressions") or []
    if not match_labels and not exprs:
        return EVERYTHING
    reqs = [new_requirement(k, EQUALS, (v,)) for k, v in match_labels.items()]
    for expr in exprs:
        op = _EXPR_OPERATORS.get(expr.get("operator"))
        if op is None:
            raise ValueError(f"{_q(str(expr.get('operator') or ''))} is not a valid label selector operator")
        reqs.append(new_requirement(expr.get("key") or "", op, expr.get("values") or ()))
    return LabelSelector(reqs)


def validate_label_selector(d: Any, path: Path, *, allow_invalid_label_value: bool = False,
                            allow_unknown_operator: bool = False) -> list[FieldError]:
    """ValidateLabelSelector: matchLabels as labels; each expression's operator, values, key and value format."""
    if d is None:
        return []
    if not isinstance(d, Mapping):
        return [invalid(path, d, "must be an object")]
    errs = validate_labels(d.get("matchLabels"), path.child("matchLabels"))
    exprs = d.get("matchExpressions") or []
    if not isinstance(exprs, list):
        return [*errs, invalid(path.child("matchExpressions"), exprs, "must be an array")]
    for i, expr in enumerate(exprs):
        p = path.child("matchExpressions").index(i)
        if not isinstance(expr, Mapping):
            errs.append(invalid(p, expr, "must be an object"))
            continue
        op = expr.get("operator") or ""
        values = expr.get("values") or []
        if not isinstance(values, list):
            errs.append(invalid(p.child("values"), values, "must be an array"))
            values = []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(p.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(p.child("values"),
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        elif not allow_unknown_operator:
            errs.append(invalid(p.child("operator"), op, "not a valid selector operator"))
        errs.extend(validate_label_name(expr.get("key") or "", p.child("key")))
        if not allow_invalid_label_value:
            for j, v in enumerate(values):
                errs.extend(invalid(p.child("values").index(j), v, m) for m in label_value(v))
    return errs
