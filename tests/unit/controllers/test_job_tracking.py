"""Job status tracking pieces: uncounted pods move to the counters once their finalizer is gone; finalizer
expectations hide pods already counted."""

from __future__ import annotations

from pybernetes.controllers.job_tracking import FinalizerExpectations, _clean_uncounted, prepare_status


def test_prepare_status_gives_uncounted_lists() -> None:
    job: dict = {"status": {"uncountedTerminatedPods": {"failed": ["a"]}}}
    assert prepare_status(job)["uncountedTerminatedPods"] == {"succeeded": [], "failed": ["a"]}
    assert prepare_status({})["uncountedTerminatedPods"] == {"succeeded": [], "failed": []}


def test_clean_uncounted_counts_pods_without_finalizer() -> None:
    status = {"succeeded": 1, "uncountedTerminatedPods": {"succeeded": ["a", "b"], "failed": ["c"]}}
    assert _clean_uncounted(status, {"b"})
    assert status == {"succeeded": 2, "failed": 1, "uncountedTerminatedPods": {"succeeded": ["b"], "failed": []}}
    assert not _clean_uncounted(status, {"b"})


def test_finalizer_expectations_accumulate_until_observed() -> None:
    f = FinalizerExpectations()
    f.expect("ns/j", ["a"])
    f.expect("ns/j", ["b"])
    f.observed("ns/j", "a")
    assert f.expected("ns/j") == frozenset({"b"})
    f.forget("ns/j")
    assert f.expected("ns/j") == frozenset()
