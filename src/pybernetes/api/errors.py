"""The one error hierarchy of the API: every failure a client sees is an :class:`APIError` → ``metav1.Status``.

Reasons and codes follow kubernetes/apimachinery ``pkg/api/errors/errors.go``. Storage errors are mapped to these
once, in the registry; the HTTP layer turns them into a Status body in one middleware.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from pybernetes.api.field import FieldError

# Go's encoding/json escapes these even inside strings (they can only occur inside strings in JSON).
_HTML_ESCAPES = {b"<": b"\\u003c", b">": b"\\u003e", b"&": b"\\u0026", "\u2028".encode(): b"\\u2028",
                 "\u2029".encode(): b"\\u2029"}
_HTML_UNSAFE = re.compile(b"|".join(re.escape(k) for k in _HTML_ESCAPES))


class APIError(Exception):
    code: int = 500
    reason: str = "InternalError"

    def __init__(self, message: str, *, code: int | None = None, reason: str | None = None,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason
        self.details = details
        self.headers = headers or {}

    def to_status(self) -> dict[str, Any]:
        """The Status object; key order matches the Go server byte for byte (clients compare bodies)."""
        st: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": self.message}
        if self.reason:
            st["reason"] = self.reason
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st

    def body(self) -> bytes:
        """The bytes Go's ``json.Encoder`` writes: compact, HTML-safe (``<``, ``>``, ``&``, U+2028/9 escaped) and
        newline-terminated, so clients comparing Status bodies byte for byte see upstream's."""
        data = orjson.dumps(self.to_status())
        if _HTML_UNSAFE.search(data):
            data = _HTML_UNSAFE.sub(lambda m: _HTML_ESCAPES[m.group()], data)
        return data + b"\n"


def _details(name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update(extra)
    return d


def qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


class NotFound(APIError):
    code, reason = 404, "NotFound"

    def __init__(self, resource: str, group: str, name: str) -> None:
        msg = f'{qualified(resource, group)} "{name}" not found' if name else f"{qualified(resource, group)} not found"
        super().__init__(msg, details=_details(name, group, resource))


class AlreadyExists(APIError):
    code, reason = 409, "AlreadyExists"

    def __init__(self, resource: str, group: str, name: str) -> None:
        super().__init__(f'{qualified(resource, group)} "{name}" already exists',
                         details=_details(name, group, resource))


class Conflict(APIError):
    code, reason = 409, "Conflict"

    def __init__(self, resource: str, group: str, name: str, why: str) -> None:
        super().__init__(f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
                         details=_details(name, group, resource))


OPTIMISTIC_LOCK = "the object has been modified; please apply your changes to the latest version and try again"


class Invalid(APIError):
    code, reason = 422, "Invalid"

    def __init__(self, kind: str, group: str, name: str, errors: list[FieldError]) -> None:
        qkind = f"{kind}.{group}" if group else kind
        if len(errors) == 1:
            agg = str(errors[0])
        else:
            agg = "[" + ", ".join(str(e) for e in errors) + "]"
        causes = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
        super().__init__(f'{qkind} "{name}" is invalid: {agg}', details=_details(name, group, kind, causes=causes))
        self.errors = errors


class BadRequest(APIError):
    code, reason = 400, "BadRequest"

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(message, **kw)


class Unauthorized(APIError):
    code, reason = 401, "Unauthorized"

    def __init__(self, message: str = "Unauthorized") -> None:
        super().__init__(message)


class Forbidden(APIError):
    code, reason = 403, "Forbidden"

    def __init__(self, resource: str, group: str, name: str, why: str) -> None:
        target = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
        super().__init__(f"{target} is forbidden: {why}", details=_details(name, group, resource))


class MethodNotAllowed(APIError):
    code, reason = 405, "MethodNotAllowed"

    def __init__(self, resource: str, group: str, action: str) -> None:
        super().__init__(f"{action} is not supported on resources of kind {qualified(resource, group)!r}",
                         details=_details(None, group, resource))


class NotAcceptable(APIError):
    code, reason = 406, "NotAcceptable"


class UnsupportedMediaType(APIError):
    code, reason = 415, "UnsupportedMediaType"

    def __init__(self, content_type: str, accepted: tuple[str, ...]) -> None:
        super().__init__("the body of the request was in an unknown format - accepted media types include: "
                         + ", ".join(accepted))
        self.content_type = content_type


class Expired(APIError):
    code, reason = 410, "Expired"


class Gone(APIError):
    code, reason = 410, "Gone"


class RequestEntityTooLarge(APIError):
    code, reason = 413, "RequestEntityTooLarge"


class TooManyRequests(APIError):
    code, reason = 429, "TooManyRequests"


class ServiceUnavailable(APIError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(APIError):
    code, reason = 504, "Timeout"


class InternalError(APIError):
    code, reason = 500, "InternalError"

    def __init__(self, why: str) -> None:
        super().__init__(f"Internal error occurred: {why}", details={"causes": [{"message": why}]})


def resource_not_found() -> APIError:
    """404 for a path that names no served resource (upstream's NotFound handler body)."""
    return APIError("the server could not find the requested resource", code=404, reason="NotFound", details={})
