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


def test_after_ack_counts_from_each_writes_acknowledgement() -> None:
    from bench.api import after_ack
    writer = Result(extra={"acks": {1.0: 1.010, 2.0: 2.050}})
    w1 = Result(latencies=[0.015, 0.060], extra={"stamps": [1.0, 2.0]})
    w2 = Result(latencies=[0.005, 0.070, 0.3], extra={"stamps": [1.0, 2.0, 9.0]})   # 9.0: write never acked
    s = after_ack([w1, w2], writer, seconds=1.0)
    assert s is not None and s.count == 4
    assert [round(x, 3) for x in (s.p50, s.max)] == [0.005, 0.02]                   # 1.005 beat its ack: 0
    assert after_ack([Result()], Result(), seconds=1.0) is None


def test_median_of_runs_keeps_the_median_runs_cpu_and_note() -> None:
    from bench.api import Measured, _median
    from bench.stats import Summary
    runs = [Measured(Summary(1, 1.0, 0.1, p99, p99), cpu, note=note)
            for p99, cpu, note in ((0.3, 30.0, "slow"), (0.1, 10.0, "fast"), (0.2, 20.0, "mid"))]
    m = _median(runs)
    assert (m.summary.p99, m.server_cpu_us, m.note, m.after_ack) == (0.2, 20.0, "mid", None)
