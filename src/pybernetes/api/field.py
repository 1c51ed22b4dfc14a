"""Field errors with paths, as upstream's ``k8s.io/apimachinery/pkg/util/validation/field``.

A validator returns a list of :class:`FieldError`; the registry turns a non-empty list into one 422 ``Invalid``
Status whose message and ``details.causes`` read exactly like the Go API server's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson


class ErrorType(enum.Enum):
    # value: (cause reason, message prefix)
    NOT_FOUND = ("FieldValueNotFound", "Not found")
    REQUIRED = ("FieldValueRequired", "Required value")
    DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
    INVALID = ("FieldValueInvalid", "Invalid value")
    NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
    FORBIDDEN = ("FieldValueForbidden", "Forbidden")
    TOO_LONG = ("FieldValueTooLong", "Too long")
    TOO_MANY = ("FieldValueTooMany", "Too many")
    INTERNAL = ("InternalError", "Internal error")
    TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")


_OMIT = object()


class Path:
    """An immutable field path: ``Path("spec").child("containers").index(0).child("image")``."""

    __slots__ = ("_s",)

    def __init__(self, *names: str) -> None:
        self._s = ".".join(names)

    @classmethod
    def _raw(cls, s: str) -> Path:
        p = cls.__new__(cls)
        p._s = s
        return p

    # child/index/key build the new path inline (no _raw call): validators make ~25 paths per Pod, nearly all
    # for fields that turn out valid, so this is a hot path.
    def child(self, *names: str) -> Path:
        p = _new(Path)
        tail = names[0] if len(names) == 1 else ".".join(names)
        p._s = f"{self._s}.{tail}" if self._s else tail
        return p

    def index(self, i: int) -> Path:
        p = _new(Path)
        p._s = f"{self._s}[{i}]"
        return p

    def key(self, k: str) -> Path:
        p = _new(Path)
        p._s = f"{self._s}[{k}]"
        return p

    def __str__(self) -> str:
        return self._s

    def __repr__(self) -> str:
        return f"Path({self._s!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and other._s == self._s

    def __hash__(self) -> int:
        return hash(self._s)


_new = object.__new__


def format_value(value: Any) -> str:
    """Render a bad value the way Go's ``%#v``/``%v`` does in field errors (strings quoted, numbers bare)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


@dataclass(frozen=True, slots=True)
class FieldError:
    type: ErrorType
    field: str
    value: Any = _OMIT
    detail: str = ""

    @property
    def reason(self) -> str:
        return self.type.value[0]

    def body(self) -> str:
        """The message without the field path (``details.causes[].message``)."""
        prefix = self.type.value[1]
        if self.type in (ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG, ErrorType.INTERNAL):
            return f"{prefix}: {self.detail}" if self.detail else prefix
        if self.type is ErrorType.TOO_MANY:
            return f"{prefix}: {self.detail}" if self.detail else prefix
        s = prefix
        if self.value is not _OMIT:
            s += f": {format_value(self.value)}"
        if self.detail:
            s += f": {self.detail}"
        return s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()


def required(path: Path | str, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, str(path), detail=detail)


def invalid(path: Path | str, value: Any, detail: str = "") -> FieldError:
    return FieldError(ErrorType.INVALID, str(path), value, detail)


def not_supported(path: Path | str, value: Any, valid: list[str] | tuple[str, ...]) -> FieldError:
    detail = "supported values: " + ", ".join(orjson.dumps(v).decode() for v in valid) if valid else ""
    return FieldError(ErrorType.NOT_SUPPORTED, str(path), value, detail)


def duplicate(path: Path | str, value: Any) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, str(path), value)


def forbidden(path: Path | str, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, str(path), detail=detail)


def too_long(path: Path | str, value: Any, max_len: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, str(path), value, f"may not be more than {max_len} bytes")


def too_many(path: Path | str, actual: int, max_items: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, str(path), actual, f"{actual}: must have at most {max_items} items")


def not_found(path: Path | str, value: Any) -> FieldError:
    return FieldError(ErrorType.NOT_FOUND, str(path), value)


def internal(path: Path | str, detail: str) -> FieldError:
    return FieldError(ErrorType.INTERNAL, str(path), detail=detail)
