"""bench/run.py's plumbing for the other components' benchmarks."""

from __future__ import annotations

import os

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
