"""SPDY/3.1 framing: every frame type round-trips, header blocks share one zlib stream per direction, partial
input is buffered, a real kubectl 1.27 exec session decodes."""

from __future__ import annotations

import pathlib
import struct
import zlib

import pytest

from pybernetes.streaming import spdy

TESTDATA = pathlib.Path(__file__).parent / "testdata"


def roundtrip(frames: list[spdy.Frame]) -> list[spdy.Frame]:
    send, recv = spdy.HeaderCodec(), spdy.HeaderCodec()
    data = b"".join(spdy.encode(f, send) for f in frames)
    return spdy.FrameReader(recv).feed(data)


def test_dictionary_is_the_spdy3_constant() -> None:
    # Length and Adler-32 of the spec's dictionary: zlib puts the Adler-32 in the stream header (FDICT), so a
    # single wrong byte makes every header block unreadable to Go's decompressor.
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


@pytest.mark.parametrize("frame", [
    spdy.DataFrame(1, b"hello"),
    spdy.DataFrame(3, b"", fin=True),
    spdy.DataFrame(0x7FFFFFFF, b"x" * 70000),
    spdy.SynStream(1, {"streamtype": ["error"]}),
    spdy.SynStream(5, {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]}, associated_to=3, priority=7,
                   slot=2, fin=True, unidirectional=True),
    spdy.SynReply(1, {}),
    spdy.SynReply(2, {"status": ["200"], "set-cookie": ["a", "b"]}, fin=True),
    spdy.HeadersFrame(1, {"x": ["y"]}, fin=True),
    spdy.RstStream(7, spdy.CANCEL),
    spdy.Settings(((0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20), (1, spdy.SETTINGS_MAX_CONCURRENT_STREAMS, 100)),
                  clear=True),
    spdy.Ping(1),
    spdy.Ping(0xFFFFFFFF),
    spdy.GoAway(9, spdy.GOAWAY_PROTOCOL_ERROR),
    spdy.WindowUpdate(0, 65536),
    spdy.WindowUpdate(5, 0x7FFFFFFF),
    spdy.UnknownControl(0x55, 0x01, b"\x01\x02"),
])
def test_frames_round_trip(frame: spdy.Frame) -> None:
    assert roundtrip([frame]) == [frame]


def test_control_header_layout() -> None:
    data = spdy.encode(spdy.Ping(5))
    assert data == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x05"
    data = spdy.encode(spdy.DataFrame(3, b"ab", fin=True))
    assert data == b"\x00\x00\x00\x03\x01\x00\x00\x02ab"
    rst = spdy.encode(spdy.RstStream(1, spdy.CANCEL))
    assert struct.unpack(">HHI", rst[:8]) == (0x8003, spdy.RST_STREAM, 8)


def test_header_blocks_share_one_compression_stream() -> None:
    send = spdy.HeaderCodec()
    frames = [spdy.SynStream(i, {"streamtype": ["stdout"], "port": [str(i)]}) for i in (1, 3, 5)]
    encoded = [spdy.encode(f, send) for f in frames]
    assert len(encoded[2]) < len(encoded[0])          # later blocks refer back to earlier ones
    recv = spdy.HeaderCodec()
    reader = spdy.FrameReader(recv)
    assert [reader.feed(e)[0] for e in encoded] == frames
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameReader(spdy.HeaderCodec()).feed(encoded[2])   # out of context: not decodable alone


def test_partial_input_is_buffered_until_a_frame_completes() -> None:
    codec = spdy.HeaderCodec()
    data = spdy.encode(spdy.SynStream(1, {"a": ["b"]}), codec) + spdy.encode_data(1, b"payload", fin=True)
    reader = spdy.FrameReader(spdy.HeaderCodec())
    out: list[spdy.Frame] = []
    for i in range(len(data)):
        out += reader.feed(data[i:i + 1])
    assert out == [spdy.SynStream(1, {"a": ["b"]}), spdy.DataFrame(1, b"payload", fin=True)]
    assert reader.buffered == 0


@pytest.mark.parametrize("block,problem", [
    (b"\x00\x00\x00\x01\x00\x00\x00\x09ab", "truncated"),
    (b"\x00\x00\x00\x00extra", "trailing"),
    (b"\x00\x00", "malformed"),
])
def test_bad_header_blocks_are_protocol_errors(block: bytes, problem: str) -> None:
    with pytest.raises(spdy.ProtocolError, match=problem):
        spdy.unpack_headers(block)


def test_names_are_lowercased_and_values_split_on_nul() -> None:
    raw = spdy.pack_headers({"X-Stream-Protocol-Version": ["v4.channel.k8s.io", "v3.channel.k8s.io"]})
    assert spdy.unpack_headers(raw) == {"x-stream-protocol-version": ["v4.channel.k8s.io", "v3.channel.k8s.io"]}


def test_other_versions_are_refused() -> None:
    v2 = struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\x00\x00\x00\x01"
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.FrameReader(spdy.HeaderCodec()).feed(v2)


def test_a_real_kubectl_exec_session_decodes() -> None:
    """What kubectl 1.27 sent the kubelet for ``exec -i POD -- cat`` with ``ping\\n`` on stdin: one stream per
    type (headers compressed in one zlib stream), stdin data, stdin's FIN, then resets of the rest."""
    raw = (TESTDATA / "kubectl-1.27-exec-i-cat.spdy").read_bytes()
    frames = spdy.FrameReader(spdy.HeaderCodec()).feed(raw)
    assert frames == [
        spdy.SynStream(1, {"streamtype": ["error"]}),
        spdy.SynStream(3, {"streamtype": ["stdin"]}),
        spdy.SynStream(5, {"streamtype": ["stdout"]}),
        spdy.SynStream(7, {"streamtype": ["stderr"]}),
        spdy.DataFrame(3, b"ping\n"),
        spdy.DataFrame(3, b"", fin=True),
        spdy.RstStream(1, spdy.CANCEL),
        spdy.RstStream(5, spdy.CANCEL),
        spdy.RstStream(7, spdy.CANCEL),
    ]


def test_header_frames_need_the_codec() -> None:
    with pytest.raises(ValueError):
        spdy.encode(spdy.SynReply(1, {}))
