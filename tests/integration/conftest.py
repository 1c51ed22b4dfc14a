from __future__ import annotations

import pathlib
import secrets

import pytest

from tests.harness import Server, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    """One real server for the integration tests that can share it (each test uses its own namespace)."""
    srv = start_server(pathlib.Path(tmp_path_factory.mktemp("server")))
    yield srv
    rc = srv.stop()
    assert rc == 0, "server did not shut down cleanly:\n" + "".join(srv.log[-50:])


@pytest.fixture()
def ns(server: Server, request: pytest.FixtureRequest) -> str:
    """A fresh namespace named after the test, with its default ServiceAccount and kube-root-ca.crt in place."""
    name = "t-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:50].strip("-")
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name).strip("-")[:54]
    name = f"{name}-{secrets.token_hex(2)}"      # tests of the same name in different files must not collide
    server.create_namespace(name)
    return name
