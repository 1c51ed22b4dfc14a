"""bench/run.py's plumbing for the other components' benchmarks."""

from __future__ import annotations

import os
import pathlib

import pytest
from bench import run


def test_run_other_quotes_the_output_of_a_module() -> None:
    line, out = run.run_other(["json.tool", "--help"], timeout=60, needs_root=False)
    assert line == "python -m json.tool --help" and "usage" in out


def test_run_other_reports_a_failure_with_its_status() -> None:
    _, out = run.run_other(["bench.does_not_exist"], timeout=60, needs_root=False)
    assert out.startswith("exit status 1:") and "No module named" in out


@pytest.mark.skipif(os.geteuid() == 0, reason="as root the root-only benchmark would run")
def test_run_other_skips_root_only_benchmarks_without_root() -> None:
    assert run.run_other(["bench.oci_start"], timeout=60, needs_root=True)[1].startswith("skipped")


def test_quick_options_are_small() -> None:
    quick = run.options(run.parse_args(["--quick"]))
    full = run.options(run.parse_args([]))
    assert quick.big_list < full.big_list and quick.watchers < full.watchers and quick.repeat == 1


@pytest.mark.parametrize(("flags", "modules"), [
    ([], ["bench.control_plane", "bench.proxy", "bench.pod_startup"]),
    (["--skip-control-plane"], ["bench.proxy", "bench.pod_startup"]),
    (["--skip-proxy", "--skip-pod-startup"], ["bench.control_plane"]),
    (["--skip-control-plane", "--skip-proxy", "--skip-pod-startup"], []),
])
def test_own_benchmarks_follow_the_skip_flags(flags: list[str], modules: list[str]) -> None:
    assert [o.module for o in run.own_benchmarks(run.parse_args(flags))] == modules


def test_control_plane_repeats_as_asked_and_quick_is_small() -> None:
    (cp,) = run.own_benchmarks(run.parse_args(["--skip-proxy", "--skip-pod-startup", "--repeat", "5"]))
    assert cp.args == ("--repeat", "5") and "--quick" in cp.quick_args


def test_run_own_puts_the_output_in_a_section() -> None:
    own = run.Own("JSON tool", "json.tool", ("--help",), (), 60, False)
    section, ok = run.run_own(own, quick=False)
    assert ok and section.title == "JSON tool" and section.command == "python -m json.tool --help"
    assert "usage" in section.markdown


def test_run_own_marks_a_failure() -> None:
    section, ok = run.run_own(run.Own("Nothing", "bench.does_not_exist", (), (), 60, False), quick=False)
    assert not ok and "Exit status 1" in section.markdown


def test_a_skipped_step_keeps_its_section_from_the_previous_document(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "B.md"
    out.write_text("# B\n\nWritten by `x` on 2026-11-01 10:00 UTC in 1 min.\n\n## Goals (issue 2)\n\nold\n\n"
                   "## Floor: SQLite on this machine\n\nsqlite figures\n")
    args = run.parse_args(["--out", str(out), "--skip-floor"])
    text = run.keep_skipped("# B\n\nWritten by `y` on 2026-11-02.\n\n## Goals (issue 2)\n\nnew\n", args)
    assert "new" in text and "\nold\n" not in text and "sqlite figures" in text and "--skip-floor" in text
    assert run.keep_skipped("# B\n", run.parse_args(["--out", str(out), "--skip-floor", "--quick"])) == "# B\n"


def test_stop_child_terminates_a_running_benchmark() -> None:
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], text=True)
    run.stop_child(p, grace=30)
    assert p.returncode == -15
