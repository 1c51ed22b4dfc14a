from __future__ import annotations

import copy

import pytest

from pybernetes.api.kinds.namespace import NamespaceStrategy

from .helpers import create, errors, update

S = NamespaceStrategy()


def test_create_defaults() -> None:
    out, errs = create(S, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    assert errs == []
    assert out["spec"] == {"finalizers": ["kubernetes"]}
    assert out["status"] == {"phase": "Active"}
    assert out["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}


def test_name_must_be_dns_label() -> None:
    assert S.name_fn("a.b", False)
    assert S.name_fn("team-a", False) == []


@pytest.mark.parametrize(("finalizer", "message"), [
    ("foo", 'spec.finalizers[0]: Invalid value: "foo": name is neither a standard finalizer name nor is it fully '
            "qualified"),
    ("example.com/x", None),
])
def test_finalizer_names(finalizer: str, message: str | None) -> None:
    _, errs = create(S, {"metadata": {"name": "n"}, "spec": {"finalizers": [finalizer]}})
    assert errors(errs) == ([message] if message else [])


def test_update_keeps_spec_and_status_and_finalize_changes_finalizers() -> None:
    old, _ = create(S, {"metadata": {"name": "n"}})
    new = copy.deepcopy(old)
    new["spec"]["finalizers"] = []
    new["status"]["phase"] = "Terminating"
    out, errs = update(S, new, old)
    assert errs == []
    assert out["spec"] == {"finalizers": ["kubernetes"]} and out["status"] == {"phase": "Active"}
    fin = S.subresource_strategy("finalize")
    out, errs = update(fin, new, old)
    assert errs == []
    assert out["spec"] == {} and out["status"] == {"phase": "Active"}


def test_status_phase_rules() -> None:
    old, _ = create(S, {"metadata": {"name": "n"}})
    new = copy.deepcopy(old)
    new["status"]["phase"] = "Terminating"
    _, errs = update(S.status_strategy(), new, old)
    assert errors(errs) == ["status.Phase: Invalid value: \"Terminating\": may only be 'Active' if "
                            "`deletionTimestamp` is empty"]
