"""The Kubernetes streaming sub-protocols: names, negotiation, websocket channel messages and exec statuses.

Websocket (upstream ``wsstream``): every message carries one channel's bytes behind a channel byte — binary
messages for ``channel.k8s.io``/``v4.channel.k8s.io``/``v5.channel.k8s.io``, text messages with an ASCII channel
digit and base64 data for the ``base64.`` variants. Exec/attach use channels 0 stdin, 1 stdout, 2 stderr, 3 error
(the final status), 4 resize; ``v5`` adds a client message ``[255, channel]`` that closes one input channel (stdin
ends). The error channel carries a JSON ``metav1.Status`` from v4 on; before v4 only a failure's text.

SPDY (``X-Stream-Protocol-Version``): the same versions name the exec protocol, each stream is typed by a
``streamType`` header; port-forward speaks ``portforward.k8s.io``. Both negotiations pick the *client's* first
protocol the server supports, as upstream's ``httpstream.Handshake`` and ``wsstream`` handshake do.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255

# exec/attach protocol versions (SPDY X-Stream-Protocol-Version and websocket subprotocols)
V1 = "channel.k8s.io"
V2 = "v2.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
BASE64 = "base64.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V5_BASE64 = "v5.base64.channel.k8s.io"
PORT_FORWARD = "portforward.k8s.io"
TUNNEL_PREFIX = "SPDY/3.1+"                 # kubectl 1.31+: SPDY port-forward tunnelled in websocket messages

SPDY_EXEC_PROTOCOLS = (V5, V4, V3, V2, V1)
WS_EXEC_PROTOCOLS = (V5, V5_BASE64, V4, V4_BASE64, V1, BASE64)
WS_PORT_FORWARD_PROTOCOLS = (V4, V4_BASE64)
SPDY_PORT_FORWARD_PROTOCOLS = (PORT_FORWARD,)

STREAM_TYPE = "streamtype"                  # SPDY stream headers (spdystream lowercases names on the wire)
PORT_HEADER = "port"
REQUEST_ID = "requestid"


@dataclass(frozen=True, slots=True)
class WsProtocol:
    name: str            # "" when the client offered none (upstream treats it as channel.k8s.io)
    binary: bool
    version: int         # 1 (status as text), 4 (JSON status), 5 (JSON status + close signal)

    @property
    def json_status(self) -> bool:
        return self.version >= 4


def ws_protocol(name: str) -> WsProtocol:
    if name.startswith("v5."):
        return WsProtocol(name, "base64" not in name, 5)
    if name.startswith("v4."):
        return WsProtocol(name, "base64" not in name, 4)
    return WsProtocol(name, name != BASE64, 1)


def split_header_values(values: Iterable[str]) -> list[str]:
    """Header values as a list of tokens (repeated headers and comma-separated values alike)."""
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def negotiate(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """The first protocol the client offered that we support (client preference wins, as upstream)."""
    for p in offered:
        if p in supported:
            return p
    return None


def tunnel_protocols(offered: Sequence[str]) -> list[str]:
    """The SPDY protocols inside ``SPDY/3.1+…k8s.io`` websocket subprotocols (kubectl's port-forward tunnel)."""
    return [p[len(TUNNEL_PREFIX):] for p in offered if p.startswith(TUNNEL_PREFIX) and p.endswith("k8s.io")]


# ------------------------------------------------------------------ websocket messages
def encode_message(protocol: WsProtocol, channel: int, data: bytes) -> bytes | str:
    if protocol.binary:
        return bytes((channel,)) + data
    return chr(ord("0") + channel) + base64.b64encode(data).decode()


def decode_message(protocol: WsProtocol, message: bytes | str) -> tuple[int, bytes] | None:
    """(channel, data) of a client message, or None if it is empty or malformed. Binary protocols take text
    frames too (the Python client sends ``str`` stdin as text): their bytes are read the same way."""
    if protocol.binary:
        raw = message.encode() if isinstance(message, str) else bytes(message)
        return (raw[0], raw[1:]) if raw else None
    if isinstance(message, bytes | bytearray):
        message = bytes(message).decode("ascii", "replace")
    if not message:
        return None
    channel = ord(message[0]) - ord("0")
    try:
        return channel, base64.b64decode(message[1:], validate=False)
    except ValueError:
        return None


class ResizeDecoder:
    """Terminal sizes from a resize stream: a sequence of JSON objects ``{"Width":…,"Height":…}`` that may arrive
    split or several to a message (upstream decodes it as one JSON stream)."""

    def __init__(self) -> None:
        self._buf = ""
        self._decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        self._buf += data.decode("utf-8", "replace")
        out: list[tuple[int, int]] = []
        while True:
            text = self._buf.lstrip()
            if not text:
                self._buf = ""
                return out
            try:
                obj, end = self._decoder.raw_decode(text)
            except json.JSONDecodeError:
                self._buf = text
                return out
            self._buf = text[end:]
            if isinstance(obj, dict):
                w, h = obj.get("Width", obj.get("width", 0)), obj.get("Height", obj.get("height", 0))
                if isinstance(w, int) and isinstance(h, int) and w >= 0 and h >= 0:
                    out.append((w, h))


# ------------------------------------------------------------------ exec statuses (metav1.Status, Go field order)
def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, command: Sequence[str] | None = None) -> dict[str, Any]:
    """A non-zero exit as the kubelet reports it; clients read the code from the ExitCode cause."""
    what = f"error executing command [{' '.join(command)}], exit code {code}" if command is not None \
        else f"exit code {code}"
    return {"metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: {what}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_error_status(error: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {error}",
            "reason": "InternalError", "details": {"causes": [{"message": error}]}, "code": 500}


def status_bytes(status: dict[str, Any], *, as_json: bool) -> bytes:
    """What goes on the error channel/stream: JSON for v4+; before v4 a failure's message only, success nothing."""
    if as_json:
        text = json.dumps(status, separators=(",", ":"), ensure_ascii=False)
        # Go's json.Marshal escapes these (they can only occur inside strings, so replacing is safe).
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()
    if status.get("status") == "Success":
        return b""
    return str(status.get("message", "")).encode()
