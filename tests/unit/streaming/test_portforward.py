"""Port-forward request parsing and the checks on each SPDY stream (upstream kubelet messages)."""

from __future__ import annotations

import pytest

from pybernetes.streaming import portforward as pf


@pytest.mark.parametrize("values,ports", [(["80"], [80]), (["80,443", "8080"], [80, 443, 8080]), (["65535"], [65535])])
def test_ports(values: list[str], ports: list[int]) -> None:
    assert pf.parse_ports(values) == ports


@pytest.mark.parametrize("values,message", [
    ([], 'query parameter "port" is required'),
    ([""], 'query parameter "port" cannot be empty'),
    (["http"], 'unable to parse "http" as a port: invalid syntax'),
    (["80,70000"], 'unable to parse "80,70000" as a port: invalid syntax'),
    (["0"], 'port "0" must be > 0'),
])
def test_bad_ports(values: list[str], message: str) -> None:
    with pytest.raises(pf.PortsError) as e:
        pf.parse_ports(values)
    assert str(e.value) == message


class FakeStream:
    def __init__(self, stream_id: int, **headers: str) -> None:
        self.id = stream_id
        self.headers = {k.lower(): [v] for k, v in headers.items()}

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), [""])[0]


@pytest.mark.parametrize("headers,problem", [
    ({"streamtype": "data", "port": "80"}, None),
    ({"streamtype": "error", "port": "80"}, None),
    ({"streamtype": "data"}, '"port" header is required'),
    ({"streamtype": "data", "port": "x"}, 'unable to parse "x" as a port'),
    ({"streamtype": "data", "port": "0"}, 'port "0" must be > 0'),
    ({"port": "80"}, '"streamtype" header is required'),
    ({"streamtype": "stdin", "port": "80"}, 'invalid stream type "stdin"'),
])
def test_stream_checks(headers: dict[str, str], problem: str | None) -> None:
    assert pf.check_stream(FakeStream(1, **headers)) == problem  # type: ignore[arg-type]


@pytest.mark.parametrize("stream,rid", [
    (FakeStream(5, streamtype="error", requestid="7"), "7"),
    (FakeStream(5, streamtype="error"), "5"),       # old clients without requestID: pairs by stream id
    (FakeStream(7, streamtype="data"), "5"),
])
def test_request_ids(stream: FakeStream, rid: str) -> None:
    assert pf.request_id(stream) == rid  # type: ignore[arg-type]


def test_forward_error_wording() -> None:
    assert pf.forward_error(80, "sb1", "u1", OSError("refused")) == \
        "error forwarding port 80 to pod sb1, uid u1: refused"
