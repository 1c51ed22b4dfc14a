"""The Kubernetes streaming sub-protocols: negotiation, websocket channel messages, resize streams, statuses."""

from __future__ import annotations

import json

import pytest

from pybernetes.streaming import channels as ch


@pytest.mark.parametrize("offered,supported,chosen", [
    (["v5.channel.k8s.io"], ch.WS_EXEC_PROTOCOLS, "v5.channel.k8s.io"),
    (["v4.channel.k8s.io", "v5.channel.k8s.io"], ch.WS_EXEC_PROTOCOLS, "v4.channel.k8s.io"),   # client's order
    (["v5.channel.k8s.io", "v4.channel.k8s.io"], ch.WS_PORT_FORWARD_PROTOCOLS, "v4.channel.k8s.io"),
    (["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"], ch.SPDY_EXEC_PROTOCOLS,
     "v4.channel.k8s.io"),
    (["v6.channel.k8s.io"], ch.WS_EXEC_PROTOCOLS, None),
    (["portforward.k8s.io"], ch.SPDY_PORT_FORWARD_PROTOCOLS, "portforward.k8s.io"),
])
def test_negotiation_follows_the_clients_preference(offered: list[str], supported: tuple[str, ...],
                                                    chosen: str | None) -> None:
    assert ch.negotiate(offered, supported) == chosen


def test_header_values_split_on_commas_and_repeats() -> None:
    assert ch.split_header_values(["v5.channel.k8s.io, v4.channel.k8s.io", "channel.k8s.io"]) == [
        "v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"]


def test_tunnel_protocols_are_unwrapped() -> None:
    assert ch.tunnel_protocols(["SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io"]) == ["portforward.k8s.io"]
    assert ch.tunnel_protocols(["SPDY/3.1+other"]) == []


@pytest.mark.parametrize("name,binary,version,json_status", [
    ("v5.channel.k8s.io", True, 5, True),
    ("v5.base64.channel.k8s.io", False, 5, True),
    ("v4.channel.k8s.io", True, 4, True),
    ("v4.base64.channel.k8s.io", False, 4, True),
    ("channel.k8s.io", True, 1, False),
    ("base64.channel.k8s.io", False, 1, False),
    ("", True, 1, False),
])
def test_protocol_properties(name: str, binary: bool, version: int, json_status: bool) -> None:
    p = ch.ws_protocol(name)
    assert (p.binary, p.version, p.json_status) == (binary, version, json_status)


def test_binary_messages_carry_the_channel_byte() -> None:
    p = ch.ws_protocol(ch.V5)
    assert ch.encode_message(p, ch.STDOUT, b"hi") == b"\x01hi"
    assert ch.decode_message(p, b"\x00in") == (0, b"in")
    assert ch.decode_message(p, "\x00text frame") == (0, b"text frame")     # the Python client's str stdin
    assert ch.decode_message(p, b"\xff\x00") == (255, b"\x00")
    assert ch.decode_message(p, b"") is None


def test_base64_messages_carry_a_channel_digit() -> None:
    p = ch.ws_protocol(ch.BASE64)
    assert ch.encode_message(p, ch.STDERR, b"oops") == "2b29wcw=="
    assert ch.decode_message(p, "0aGVsbG8=") == (0, b"hello")
    assert ch.decode_message(p, b"4eyJXaWR0aCI6MX0=") == (4, b'{"Width":1}')
    assert ch.decode_message(p, "") is None


def test_resize_events_may_be_split_or_batched() -> None:
    d = ch.ResizeDecoder()
    assert d.feed(b'{"Width":80,') == []
    assert d.feed(b'"Height":24}{"Width":120,"Height":40}\n{"Wid') == [(80, 24), (120, 40)]
    assert d.feed(b'th":1,"Height":2}') == [(1, 2)]
    assert d.feed(b'{"Width":-1,"Height":2}"junk"') == []


def test_statuses_are_upstreams_bytes() -> None:
    assert ch.status_bytes(ch.success_status(), as_json=True) == b'{"metadata":{},"status":"Success"}'
    assert ch.status_bytes(ch.success_status(), as_json=False) == b""
    failure = ch.exit_status(3, ["sh", "-c", "exit 3"])
    assert json.loads(ch.status_bytes(failure, as_json=True)) == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
    assert list(json.loads(ch.status_bytes(failure, as_json=True))) == ["metadata", "status", "message", "reason",
                                                                        "details"]
    assert ch.status_bytes(failure, as_json=False).startswith(b"command terminated with non-zero exit code")
    escaped = ch.status_bytes(ch.exit_status(1, ["sh", "-c", "echo x >&2 <y"]), as_json=True)
    assert b"echo x \\u003e\\u00262 \\u003cy" in escaped and json.loads(escaped)["message"].endswith("exit code 1")
    internal = ch.internal_error_status("boom")
    assert internal["message"] == "Internal error occurred: boom" and internal["code"] == 500
