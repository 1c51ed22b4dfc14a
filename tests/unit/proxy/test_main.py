"""Running the proxy: supervision restarts a crashed proxy with back-off and never ends the agent; the
agent's result comes back unchanged; command-line flags."""

from __future__ import annotations

import asyncio

import pytest

from pybernetes.proxy import main


async def test_supervise_restarts_after_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)
        if len(slept) >= 4:
            raise asyncio.CancelledError

    async def crashing() -> None:
        runs.append(1)
        raise RuntimeError("boom")

    monkeypatch.setattr(main.asyncio, "sleep", fake_sleep)
    with pytest.raises(asyncio.CancelledError):
        await main.supervise(crashing, backoff_max=3)
    assert len(runs) == 4 and slept == [1.0, 2.0, 3.0, 3.0]


async def test_run_beside_returns_the_agents_result(monkeypatch: pytest.MonkeyPatch) -> None:
    started = asyncio.Event()

    async def fake_proxy(**kw: object) -> None:
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(main, "run_proxy", fake_proxy)

    async def agent() -> int:
        await started.wait()
        return 7

    assert await main.run_beside(agent(), server="https://127.0.0.1:1", ca=None, token="t", node_name="n") == 7


def test_parser_defaults() -> None:
    args = main.parser().parse_args(["--kubeconfig", "k", "--node-name", "n", "--cluster-cidr", "10.42.0.0/16"])
    assert (args.table, args.cluster_cidr, args.disable_network_policy) == ("pybernetes", ["10.42.0.0/16"], False)


def test_main_needs_kubeconfig_and_node() -> None:
    assert main.main([]) == 2
