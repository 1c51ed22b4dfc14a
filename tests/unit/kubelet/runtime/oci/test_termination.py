"""Termination messages, records on disk, the runtimes' command lines and error logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybernetes.kubelet.runtime.oci import ocicli, procs, records, shim
from pybernetes.kubelet.runtime.oci.termination import MAX_LOG_BYTES, log_content, termination_message


def rec(tmp_path: Path, *, code: int | None = 1, policy: str = "File", written: str | None = None,
        log: bytes = b"", message: str = "", reason: str = "") -> dict[str, Any]:
    term = tmp_path / "termination-log"
    if written is not None:
        term.write_text(written)
    (tmp_path / "0.log").write_bytes(log)
    return {"exit_code": code, "message": message, "reason": reason, "log_path": str(tmp_path / "0.log"),
            "meta": {"termination_file": str(term), "termination_policy": policy}}


LOG = (b"2026-11-27T04:05:06Z stdout F one\n2026-11-27T04:05:06Z stderr P tw\n"
       b"2026-11-27T04:05:06Z stderr F o\n2026-11-27T04:05:06Z stdout F three\n")


@pytest.mark.parametrize(("kw", "want"), [
    ({"written": "bye"}, "bye"),
    ({"written": ""}, ""),
    ({"written": "", "policy": "FallbackToLogsOnError"}, "one\ntwo\nthree\n"),
    ({"written": "mine", "policy": "FallbackToLogsOnError"}, "mine"),
    ({"written": "", "policy": "FallbackToLogsOnError", "code": 0}, ""),       # only failed containers
    ({"written": "", "policy": "FallbackToLogsOnError", "reason": "StartError", "message": "exec failed"},
     "exec failed"),
    ({"written": "x" * 5000}, "x" * 4096),                                         # the last 4 KiB
    ({"written": "app said", "message": "exit status lost"}, "exit status lost: app said"),
])
def test_termination_message(tmp_path: Path, kw: dict[str, Any], want: str) -> None:
    assert termination_message(rec(tmp_path, log=LOG, **kw)) == want


def test_log_fallback_is_limited(tmp_path: Path) -> None:
    lines = b"".join(b"2026-11-27T04:05:06Z stdout F line %03d\n" % i for i in range(200))
    msg = termination_message(rec(tmp_path, written="", policy="FallbackToLogsOnError", log=lines))
    assert len(msg.encode()) <= MAX_LOG_BYTES and msg.endswith("line 199\n") and "line 119" not in msg


def test_log_content_skips_a_cut_first_line() -> None:
    assert log_content(b"ut line\n" + LOG) == [b"one", b"two", b"three"]


def test_records_round_trip(tmp_path: Path) -> None:
    d = tmp_path / "containers" / "abc"
    d.mkdir(parents=True)
    r = records.Record(id="abc", bundle=str(d), log_path="/l", cgroup="/pybernetes/x", meta={"pod_uid": "u"},
                       state=records.EXITED, exit_code=137, reason="OOMKilled")
    records.save(r)
    (tmp_path / "containers" / "broken").mkdir()
    (tmp_path / "containers" / "broken" / "record.json").write_text("{")
    assert records.load_all(tmp_path / "containers") == [r]
    assert records.Record.from_json({**r.to_json(), "future_field": 1}) == r


def test_command_lines() -> None:
    crun = ocicli.OCIRuntimeCLI(name="crun", binary="/usr/bin/crun", root="/r")
    assert crun.run("id", bundle="/b", pid_file="/b/pid", log="/b/log", console_socket="/s") == [
        "/usr/bin/crun", "--root", "/r", "--log=file:/b/log", "run", "--detach", "--bundle", "/b", "--pid-file",
        "/b/pid", "--console-socket", "/s", "id"]
    runc = ocicli.OCIRuntimeCLI(name="runc", binary="/usr/sbin/runc", root="/r")
    assert runc.exec("id", process="/p.json", pid_file="/pid", log="/l") == [
        "/usr/sbin/runc", "--root", "/r", "--log", "/l", "exec", "--detach", "--process", "/p.json", "--pid-file",
        "/pid", "id"]
    assert runc.delete("id") == ["/usr/sbin/runc", "--root", "/r", "delete", "--force", "id"]
    assert crun.kill("id", "KILL", all_processes=True)[-4:] == ["kill", "--all", "id", "KILL"]
    with pytest.raises(ValueError):
        ocicli.find_binary("docker")


@pytest.mark.parametrize(("text", "version"), [
    ("crun version 1.8.1\ncommit: f8a0\nrundir: /run/crun\n", "1.8.1"),
    ("runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\n", "1.1.5"),
    ("something else", ""),
])
def test_parse_version(text: str, version: str) -> None:
    assert ocicli.parse_version(text) == version


@pytest.mark.parametrize(("log", "error"), [
    ('{"msg": "mount `proc` to `proc`: Operation not permitted", "level": "error", "time": "t"}\n',
     "mount `proc` to `proc`: Operation not permitted"),
    ('time="t" level=error msg="runc run failed: exec: \\"nope\\": not found"\n',
     'time="t" level=error msg="runc run failed: exec: \\"nope\\": not found"'),
    ("", ""),
])
def test_runtime_error(tmp_path: Path, log: str, error: str) -> None:
    (tmp_path / "log").write_text(log)
    assert shim.runtime_error(tmp_path / "log") == error


@pytest.mark.parametrize(("name", "number"), [("SIGTERM", 15), ("QUIT", 3), ("9", 9), ("", 15), ("SIGNOPE", 15)])
def test_signal_number(name: str, number: int) -> None:
    assert shim.signal_number(name) == number


@pytest.mark.parametrize(("status", "code"), [(0, 0), (3 << 8, 3), (9, 137), (15, 143)])
def test_exit_code(status: int, code: int) -> None:
    assert procs.exit_code(status) == code
