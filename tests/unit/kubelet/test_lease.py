"""Node Leases: shape, renewal by one PUT, conflict and loss recovery."""

from __future__ import annotations

from tests.unit.kubelet.fakes import FakeAPI, status_error

from pybernetes.client.clock import FakeClock
from pybernetes.client.resources import LEASES
from pybernetes.kubelet.lease import NAMESPACE, NodeLease, node_lease, renewed


def test_shape() -> None:
    lease = node_lease("n1", "uid-1", "2026-01-01T00:00:00.000000Z")
    assert lease["metadata"] == {"name": "n1", "namespace": "kube-node-lease", "ownerReferences": [
        {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "uid-1"}]}
    assert lease["spec"] == {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                             "renewTime": "2026-01-01T00:00:00.000000Z"}
    other = {"metadata": {"name": "n1", "resourceVersion": "7", "managedFields": [{}],
                          "ownerReferences": [{"uid": "old"}]}, "spec": {"holderIdentity": "x", "acquireTime": "a"}}
    r = renewed(other, "n1", "uid-1", "T")
    assert r["metadata"]["resourceVersion"] == "7" and "managedFields" not in r["metadata"]
    assert [o["uid"] for o in r["metadata"]["ownerReferences"]] == ["uid-1", "old"]
    assert r["spec"] == {"holderIdentity": "n1", "acquireTime": "a", "leaseDurationSeconds": 40, "renewTime": "T"}


async def test_renewal_is_one_put_and_moves_renew_time() -> None:
    api, clock = FakeAPI(), FakeClock()
    lease = NodeLease("n1", clock=clock)
    lease.node_uid = "uid-1"
    first = await lease.renew(api)      # type: ignore[arg-type]
    assert api.calls == [("create", "leases", "n1", "")]
    clock.advance(10)
    second = await lease.renew(api)     # type: ignore[arg-type]
    assert api.calls[-1] == ("update", "leases", "n1", "")
    assert second["spec"]["renewTime"] > first["spec"]["renewTime"]
    assert api.stored(LEASES, "n1", NAMESPACE)["spec"]["renewTime"] == "2026-01-01T00:00:10.000000Z"


async def test_conflict_reads_and_retries_lost_lease_is_recreated() -> None:
    api, clock = FakeAPI(), FakeClock()
    lease = NodeLease("n1", clock=clock)
    await lease.renew(api)              # type: ignore[arg-type]
    api.put(LEASES, {**api.stored(LEASES, "n1", NAMESPACE)})   # someone else wrote it: our RV is stale
    await lease.renew(api)              # type: ignore[arg-type]
    assert [c[0] for c in api.calls[-3:]] == ["update", "get", "update"]
    del api.objects[("leases", NAMESPACE, "n1")]
    await lease.renew(api)              # type: ignore[arg-type]
    assert [c[0] for c in api.calls[-2:]] == ["update", "create"]
    existing = NodeLease("n1", clock=clock)                    # a restarted agent: the Lease exists
    await existing.renew(api)           # type: ignore[arg-type]
    assert [c[0] for c in api.calls[-3:]] == ["create", "get", "update"]


async def test_server_errors_propagate() -> None:
    api = FakeAPI()
    api.fail[("create", "leases")] = [status_error(503, "ServiceUnavailable")]
    lease = NodeLease("n1", clock=FakeClock())
    try:
        await lease.renew(api)          # type: ignore[arg-type]
    except Exception as e:
        assert getattr(e, "code", None) == 503
    else:
        raise AssertionError("expected the 503")
