"""The root CA publisher: kube-root-ca.crt in every active namespace, put back when edited or deleted."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import harness

from pybernetes.client.resources import CONFIGMAPS, NAMESPACES
from pybernetes.controllers.rootcacert import (
    CONFIGMAP_NAME,
    DESCRIPTION,
    DESCRIPTION_ANNOTATION,
    RootCACertPublisher,
    desired_change,
)

Obj = dict[str, Any]
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
NS = {"metadata": {"name": "team"}, "status": {"phase": "Active"}}
GOOD = {"metadata": {"name": CONFIGMAP_NAME, "namespace": "team", "resourceVersion": "5",
                     "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}}, "data": {"ca.crt": CA}}


@pytest.mark.parametrize(("ns", "cm", "kind"), [
    (NS, None, "create"),
    (NS, GOOD, None),
    (NS, {**GOOD, "data": {"ca.crt": "old"}}, "update"),
    (NS, {**GOOD, "data": {"ca.crt": CA, "extra": "x"}}, "update"),
    (NS, {**GOOD, "metadata": {**GOOD["metadata"], "annotations": {}}}, "update"),
    ({"metadata": {"name": "team"}, "status": {"phase": "Terminating"}}, None, None),
    (None, None, None),
])
def test_desired_change(ns: Obj | None, cm: Obj | None, kind: str | None) -> None:
    change = desired_change(ns, cm, CA)
    if kind is None:
        assert change is None
        return
    assert change is not None and change["data"] == {"ca.crt": CA}
    assert change["metadata"]["annotations"][DESCRIPTION_ANNOTATION] == DESCRIPTION
    assert ("resourceVersion" in change["metadata"]) == (kind == "update")


async def test_publishes_and_repairs() -> None:
    async with harness(options={"root_ca": CA}) as h:
        await h.client.create(NAMESPACES, {"metadata": {"name": "team"}})
        c = RootCACertPublisher(h.ctx)
        await h.start()
        await c.reconcile("team")
        await h.settle()
        cm = h.client.peek(CONFIGMAPS, CONFIGMAP_NAME, "team")
        assert cm is not None and cm["data"] == {"ca.crt": CA}
        cm["data"] = {"ca.crt": "tampered"}
        await h.client.update(CONFIGMAPS, cm)
        await h.settle()
        assert "team" in c.queue._dirty
        await c.reconcile("team")
        await h.settle()
        assert h.client.peek(CONFIGMAPS, CONFIGMAP_NAME, "team")["data"] == {"ca.crt": CA}
        await h.client.delete(CONFIGMAPS, CONFIGMAP_NAME, "team")
        await h.settle()
        await c.reconcile("team")
        assert h.client.peek(CONFIGMAPS, CONFIGMAP_NAME, "team") is not None


async def test_without_a_ca_does_nothing() -> None:
    async with harness() as h:
        await h.client.create(NAMESPACES, {"metadata": {"name": "team"}})
        c = RootCACertPublisher(h.ctx)
        await h.start()
        await c.reconcile("team")
        assert h.client.peek(CONFIGMAPS, CONFIGMAP_NAME, "team") is None
