"""Exec/attach stream options as the kubelet reads them, and which SPDY streams a client must open."""

from __future__ import annotations

import pytest

from pybernetes.streaming import channels as ch
from pybernetes.streaming.remotecommand import OptionsError, StreamOptions, expected_stream_types, stream_options


@pytest.mark.parametrize("query,expected", [
    ({"output": "1"}, StreamOptions(stdout=True)),
    ({"input": "1", "output": "1", "error": "1"}, StreamOptions(stdin=True, stdout=True, stderr=True)),
    ({"input": "1", "output": "1", "error": "1", "tty": "1"}, StreamOptions(stdin=True, stdout=True, tty=True)),
    ({"stdin": "true", "stdout": "true"}, StreamOptions(stdin=True, stdout=True)),     # the pod API's names
    ({"output": "1", "error": "0"}, StreamOptions(stdout=True)),
])
def test_stream_options(query: dict[str, str], expected: StreamOptions) -> None:
    assert stream_options(query) == expected


@pytest.mark.parametrize("query", [{}, {"tty": "1"}, {"output": "0"}, {"error": "1", "tty": "1"}])
def test_at_least_one_stream(query: dict[str, str]) -> None:
    with pytest.raises(OptionsError, match="you must specify at least 1 of stdin, stdout, stderr"):
        stream_options(query)


@pytest.mark.parametrize("opts,version,types", [
    (StreamOptions(stdout=True), ch.V4, {"error", "stdout"}),
    (StreamOptions(stdin=True, stdout=True, stderr=True), ch.V1, {"error", "stdin", "stdout", "stderr"}),
    (StreamOptions(stdin=True, stdout=True, tty=True), ch.V5, {"error", "stdin", "stdout", "resize"}),
    (StreamOptions(stdin=True, stdout=True, tty=True), ch.V3, {"error", "stdin", "stdout", "resize"}),
    (StreamOptions(stdin=True, stdout=True, tty=True), ch.V2, {"error", "stdin", "stdout"}),
])
def test_expected_spdy_streams(opts: StreamOptions, version: str, types: set[str]) -> None:
    assert expected_stream_types(opts, version) == types
