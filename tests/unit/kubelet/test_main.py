"""``pybernetes agent`` flags to configuration, and the exits that need no server."""

from __future__ import annotations

import pathlib

import pytest

from pybernetes.cli import parser
from pybernetes.kubelet.main import config_from_args, run_agent


def args(*extra: str) -> object:
    return parser().parse_args(["agent", "--server", "https://127.0.0.1:6443/", "--token", "t", *extra])


def test_simulated_config(tmp_path: pathlib.Path) -> None:
    cfg = config_from_args(args("--simulated", "3", "--node-name-prefix", "s-", "--data-dir", str(tmp_path),  # type: ignore[arg-type]
                                "--node-capacity", "cpu=2,memory=4Gi", "--node-labels", "zone=a"))
    assert cfg.simulated and cfg.node_names == ("s-0", "s-1", "s-2")
    assert cfg.server == "https://127.0.0.1:6443" and cfg.data_dir == tmp_path
    assert cfg.capacity == {"cpu": "2", "memory": "4Gi"} and cfg.labels == {"zone": "a"}
    assert cfg.node_events
    assert not config_from_args(args("--simulated", "101", "--node-name-prefix", "s-")).node_events  # type: ignore[arg-type]


@pytest.mark.parametrize(("extra", "message"), [
    (("--node-name", "Not_A_Name"), "invalid node name"),             # a real node (no --simulated)
    (("--simulated", "2", "--node-capacity", "cpu=lots"), "--node-capacity"),
    (("--simulated", "2", "--node-labels", "bad key=x"), "--node-labels"),
    (("--simulated", "-1"), "--simulated must be at least 1"),
])
async def test_exit_2_without_touching_the_server(extra: tuple[str, ...], message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_agent(args(*extra)) == 2   # type: ignore[arg-type]
    assert message in capsys.readouterr().err
