"""Pure parts of the API benchmark: spreading clients over processes, pooling results, credentials."""

from __future__ import annotations

import base64
import pathlib

import pytest
import yaml
from bench.api import combine, split, write_credentials
from bench.loadgen import Result


@pytest.mark.parametrize(("total", "parts", "want"), [
    (1, 2, [1]), (16, 2, [8, 8]), (64, 2, [32, 32]), (1000, 3, [334, 333, 333]), (5, 1, [5]),
])
def test_split(total: int, parts: int, want: list[int]) -> None:
    assert split(total, parts) == want
    assert sum(split(total, parts)) == total


def test_combine_pools_latencies_over_the_common_span() -> None:
    a = Result(latencies=[0.001, 0.003], started=10.0, finished=12.0)
    b = Result(latencies=[0.002], started=10.0, finished=13.0, errors=1)
    s = combine([a, b])
    assert (s.count, s.rate, s.p50, s.errors) == (3, 1.0, 0.002, 1)


def test_combine_of_jobs_that_never_started() -> None:
    assert combine([Result(errors=1)]).count == 0


def test_write_credentials_from_a_kubeconfig(tmp_path: pathlib.Path) -> None:
    b64 = lambda s: base64.b64encode(s).decode()  # noqa: E731
    kc = tmp_path / "kc"
    kc.write_text(yaml.safe_dump({
        "clusters": [{"cluster": {"certificate-authority-data": b64(b"CA"), "server": "https://x"}}],
        "users": [{"user": {"client-certificate-data": b64(b"CERT"), "client-key-data": b64(b"KEY")}}]}))
    ca, cert, key = write_credentials(kc, tmp_path)
    assert [pathlib.Path(p).read_bytes() for p in (ca, cert, key)] == [b"CA", b"CERT", b"KEY"]
    assert pathlib.Path(key).stat().st_mode & 0o077 == 0
