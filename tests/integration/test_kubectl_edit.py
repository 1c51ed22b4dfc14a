"""`kubectl edit` with `KUBE_EDITOR` set to a small script that edits the file kubectl hands it."""

from __future__ import annotations

import json
import pathlib
import stat

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"


def editor(tmp_path: pathlib.Path, sed: str, name: str = "editor.sh") -> dict[str, str]:
    """An editor that runs one `sed -i` script on the file (and keeps a copy of what kubectl showed)."""
    script = tmp_path / name
    shown = tmp_path / f"{name}.shown"
    script.write_text(f"#!/bin/sh\ncp \"$1\" {shown}\nsed -i '{sed}' \"$1\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"KUBE_EDITOR": str(script), "EDITOR": str(script)}


def get_json(server: Server, ns: str, kind: str, name: str) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", kind, name, "-o", "json", version=V).stdout)


def test_edit_deployment_image(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.25", version=V)
    before = get_json(server, ns, "deployment", "web")
    env = editor(tmp_path, "s/image: nginx:1.25/image: nginx:1.26/")
    out = server.kubectl("-n", ns, "edit", "deployment", "web", env=env, version=V).stdout
    assert out == "deployment.apps/web edited\n"
    shown = (tmp_path / "editor.sh.shown").read_text()
    assert shown.startswith("# Please edit the object below.")
    assert "\n  name: web\n" in shown and f"\n  uid: {before['metadata']['uid']}\n" in shown
    after = get_json(server, ns, "deployment", "web")
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    managers = {e["manager"] for e in json.loads(server.kubectl(
        "-n", ns, "get", "deployment", "web", "-o", "json", "--show-managed-fields",
        version=V).stdout)["metadata"]["managedFields"] if "subresource" not in e}
    assert managers == {"kubectl-create", "kubectl-edit"}


def test_edit_without_changes_is_cancelled(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", version=V)
    before = get_json(server, ns, "configmap", "cfg")
    p = server.kubectl("-n", ns, "edit", "configmap", "cfg", env=editor(tmp_path, "s/nothing-matches//"),
                       version=V)
    assert p.stdout == "" and p.stderr.strip() == "Edit cancelled, no changes made."
    assert get_json(server, ns, "configmap", "cfg")["metadata"]["resourceVersion"] == \
        before["metadata"]["resourceVersion"]


def test_edit_as_json(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", version=V)
    env = editor(tmp_path, 's/"a": "1"/"a": "from-json"/')
    out = server.kubectl("-n", ns, "edit", "configmap", "cfg", "-o", "json", env=env, version=V).stdout
    assert json.loads(out)["data"] == {"a": "from-json"}  # the edited object, as the server returned it
    assert (tmp_path / "editor.sh.shown").read_text().count('"kind": "ConfigMap"') == 1
    assert get_json(server, ns, "configmap", "cfg")["data"] == {"a": "from-json"}


def test_edit_several_objects(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    for name in ("a", "b"):
        server.kubectl("-n", ns, "create", "configmap", name, version=V)
    env = editor(tmp_path, r's/^\( *\)name: \([ab]\)$/\1name: \2\n\1labels: {edited: "yes"}/')
    out = server.kubectl("-n", ns, "edit", "configmaps", "a", "b", env=env, version=V).stdout
    assert out == "configmap/a edited\nconfigmap/b edited\n"
    for name in ("a", "b"):
        assert get_json(server, ns, "configmap", name)["metadata"]["labels"] == {"edited": "yes"}


def test_edit_to_invalid_object_is_refused(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", version=V)
    before = get_json(server, ns, "deployment", "web")
    # kubectl re-opens the editor with the server's error on top; the script then changes nothing: cancelled.
    p = server.kubectl("-n", ns, "edit", "deployment", "web", env=editor(tmp_path, "s/replicas: 1$/replicas: -3/"),
                       version=V, check=False)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert lines[0] == 'error: deployments.apps "web" is invalid'
    assert lines[-1] == "error: Edit cancelled, no valid changes were saved."
    reopened = (tmp_path / "editor.sh.shown").read_text()
    assert '# deployments.apps "web" was not valid:' in reopened
    assert "# * spec.replicas: Invalid value: -3: must be greater than or equal to 0" in reopened
    after = get_json(server, ns, "deployment", "web")
    assert after["metadata"]["generation"] == before["metadata"]["generation"] and after["spec"] == before["spec"]


def test_edit_missing_object(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    p = server.kubectl("-n", ns, "edit", "configmap", "nope", env=editor(tmp_path, "s/a/b/"), version=V,
                       check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found'
