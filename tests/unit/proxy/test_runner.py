"""The nft command runner against a stand-in ``nft`` (a script that records its stdin and fails on demand)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pybernetes.proxy.runner import CommandRunner, LibRunner, NftError, default_runner


def fake_nft(tmp_path: Path) -> Path:
    exe = tmp_path / "nft"
    exe.write_text("#!/bin/sh\n"
                   f'echo "$@" >> {tmp_path}/args\n'
                   f"cat >> {tmp_path}/stdin\n"
                   'case "$*" in *missing*) echo "Error: No such file or directory" >&2; exit 1;; esac\n'
                   'case "$*" in list*) echo "table ip t {";; esac\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


async def test_command_runner_feeds_the_script_on_stdin(tmp_path: Path) -> None:
    r = CommandRunner(str(fake_nft(tmp_path)))
    await r.apply("add table ip t\n")
    assert (tmp_path / "stdin").read_text() == "add table ip t\n"
    assert (tmp_path / "args").read_text() == "-f -\n"
    assert await r.list("table ip t") == "table ip t {\n"


async def test_command_runner_raises_nfts_message(tmp_path: Path) -> None:
    r = CommandRunner(str(fake_nft(tmp_path)))
    with pytest.raises(NftError, match="No such file or directory"):
        await r.list("table ip missing")


async def test_a_missing_binary_is_an_nft_error(tmp_path: Path) -> None:
    with pytest.raises(NftError):
        await CommandRunner(str(tmp_path / "absent")).apply("")


def test_default_runner_prefers_the_library() -> None:
    r = default_runner()
    assert isinstance(r, LibRunner if LibRunner.load() is not None else CommandRunner)
