"""Registry failures as the messages a pod's status shows (``ErrImagePull: …``).

The reason should be the registry's own words, as Docker and containerd print them: distribution's error
codes become ``<code in lower case with spaces>: <message>`` (``manifest unknown: manifest unknown``,
``unauthorized: authentication required``); a refused connection reads as Go's dialer says it
(``dial tcp 127.0.0.1:5000: connect: connection refused``), so users can search for what they see.
"""

from __future__ import annotations

import asyncio
import errno
import os
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "NOT_FOUND"})


class RegistryError(Exception):
    """A registry request failed; ``str()`` is fit for a pod's status. ``status`` 0: no HTTP answer."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def not_found(self) -> bool:
        return self.status == 404 or self.code in NOT_FOUND_CODES


def errcode_message(doc: Mapping[str, Any]) -> str:
    """distribution's ``{"errors": [{"code", "message"}]}`` → ``manifest unknown: manifest unknown``."""
    errs = doc.get("errors")
    if not isinstance(errs, list):
        return ""
    parts = []
    for e in errs:
        if not isinstance(e, dict) or not isinstance(e.get("code"), str):
            continue
        code = e["code"].replace("_", " ").lower()
        msg = e.get("message")
        parts.append(f"{code}: {msg}" if isinstance(msg, str) and msg else code)
    return "; ".join(parts)


def status_error(method: str, url: str, status: int, reason: str, body: bytes) -> RegistryError:
    code = ""
    message = ""
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        message = errcode_message(doc)
        errs = doc.get("errors")
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            code = str(errs[0].get("code") or "")
    if not message:
        message = "not found" if status == 404 else (
            f"unexpected status from {method} request to {url}: {status} {reason}".rstrip())
    return RegistryError(message, status=status, code=code)


def _os_error_text(e: OSError | None) -> str:
    if e is None:
        return ""
    if e.errno == errno.ECONNREFUSED:
        return "connect: connection refused"
    if e.errno is not None and e.errno in errno.errorcode:
        return "connect: " + os.strerror(e.errno).lower()
    text = str(e)
    return text[text.find("]") + 1:].strip() if text.startswith("[") else text


def connection_error(method: str, url: str, exc: BaseException) -> RegistryError:
    """A transport failure (no HTTP answer) in words close to Go's ``net/http``."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return RegistryError(f"failed to do request: {method} {url}: tls: failed to verify certificate: "
                             f"{exc.certificate_error}")
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return RegistryError(f"failed to do request: {method} {url}: tls: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        host = f"{exc.host}:{exc.port}"
        return RegistryError(f"failed to do request: {method} {url}: dial tcp {host}: {_os_error_text(exc.os_error)}")
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return RegistryError(f"failed to do request: {method} {url}: i/o timeout")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return RegistryError(f"failed to do request: {method} {url}: EOF")
    return RegistryError(f"failed to do request: {method} {url}: {exc}")
