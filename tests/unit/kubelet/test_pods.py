"""The agent's one pod informer: selector and ownership filter."""

from __future__ import annotations

from typing import Any

from pybernetes.kubelet.pods import PodSource, field_selector, trim_pod


class FakeWorkers:
    def __init__(self) -> None:
        self.updated: list[str] = []
        self.removed: list[str] = []

    def update(self, pod: dict[str, Any]) -> None:
        self.updated.append(pod["metadata"]["name"])

    def remove(self, pod: dict[str, Any]) -> None:
        self.removed.append(pod["metadata"]["name"])


def pod(name: str, node: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "managedFields": [{"manager": "x"}]},
            "spec": {"nodeName": node}}


def test_selector() -> None:
    assert field_selector(["only"]) == "spec.nodeName=only"
    assert field_selector(["a", "b"]) == "spec.nodeName!="


def test_only_owned_pods_reach_the_workers() -> None:
    workers = FakeWorkers()
    src = PodSource(None, nodes={"a", "b"}, node_names=["a", "b"], workers=workers)   # type: ignore[arg-type]
    mine, theirs = pod("p1", "a"), pod("p2", "elsewhere")
    src._add(mine)
    src._add(theirs)
    src._update(mine, pod("p1", "a"))
    src._delete(theirs)
    src._delete(mine)
    assert workers.updated == ["p1", "p1"] and workers.removed == ["p1"]
    assert "managedFields" not in mine["metadata"]
    trim_pod({"metadata": {}})
