"""`kubectl replace`: a PUT of the whole object, with optimistic concurrency, and `--force` (delete + create)."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"


def get_json(server: Server, ns: str, kind: str, name: str) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", kind, name, "-o", "json", version=V).stdout)


def write(tmp_path: pathlib.Path, obj: dict) -> str:
    path = tmp_path / "obj.yaml"
    path.write_text(yaml.safe_dump(obj))
    return str(path)


def test_replace_updates_the_whole_object(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=2", version=V)
    cm = get_json(server, ns, "configmap", "cfg")
    cm["data"] = {"a": "10", "c": "3"}  # b is gone: replace does not merge
    cm["metadata"]["labels"] = {"replaced": "yes"}
    out = server.kubectl("-n", ns, "replace", "-f", write(tmp_path, cm), version=V).stdout
    assert out == "configmap/cfg replaced\n"
    after = get_json(server, ns, "configmap", "cfg")
    assert after["data"] == {"a": "10", "c": "3"}
    assert after["metadata"]["labels"] == {"replaced": "yes"}
    assert after["metadata"]["uid"] == cm["metadata"]["uid"]
    assert int(after["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"])


def test_replace_with_stale_resource_version_conflicts(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", version=V)
    cm = get_json(server, ns, "configmap", "cfg")
    server.kubectl("-n", ns, "label", "configmap", "cfg", "someone=else", version=V)
    cm["data"] = {"a": "mine"}
    path = write(tmp_path, cm)
    p = server.kubectl("-n", ns, "replace", "-f", path, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        f'Error from server (Conflict): error when replacing "{path}": Operation cannot be fulfilled on configmaps '
        '"cfg": the object has been modified; please apply your changes to the latest version and try again')
    after = get_json(server, ns, "configmap", "cfg")
    assert after["data"] == {"a": "1"} and after["metadata"]["labels"] == {"someone": "else"}


def test_replace_without_resource_version_is_unconditional(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", version=V)
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "2"}}
    server.kubectl("-n", ns, "label", "configmap", "cfg", "x=y", version=V)
    assert server.kubectl("-n", ns, "replace", "-f", write(tmp_path, manifest), version=V).stdout == \
        "configmap/cfg replaced\n"
    after = get_json(server, ns, "configmap", "cfg")
    assert after["data"] == {"a": "2"} and "labels" not in after["metadata"]


def test_replace_deployment_keeps_status_and_bumps_generation(server: Server, ns: str,
                                                              tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.25", version=V)
    dep = get_json(server, ns, "deployment", "web")
    del dep["metadata"]["resourceVersion"]  # unconditional: a deployment controller may write status meanwhile
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    dep["status"] = {"replicas": 42}  # the main resource ignores status
    server.kubectl("-n", ns, "replace", "-f", write(tmp_path, dep), version=V)
    after = get_json(server, ns, "deployment", "web")
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert after["metadata"]["generation"] == dep["metadata"]["generation"] + 1
    assert after["status"].get("replicas") != 42


def test_replace_missing_object_is_not_found(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ghost"}, "data": {"a": "1"}}
    path = write(tmp_path, manifest)
    p = server.kubectl("-n", ns, "replace", "-f", path, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (f'Error from server (NotFound): error when replacing "{path}": '
                                'configmaps "ghost" not found')


def test_replace_invalid_change_of_immutable_field(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", version=V)
    dep = get_json(server, ns, "deployment", "web")
    del dep["metadata"]["resourceVersion"]
    dep["spec"]["selector"]["matchLabels"]["extra"] = "x"
    dep["spec"]["template"]["metadata"]["labels"]["extra"] = "x"
    p = server.kubectl("-n", ns, "replace", "-f", write(tmp_path, dep), version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        'The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"web", "extra":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
        "field is immutable")


def test_replace_force_recreates(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", version=V)
    cm = get_json(server, ns, "configmap", "cfg")
    cm["data"] = {"a": "forced"}
    out = server.kubectl("-n", ns, "replace", "--force", "-f", write(tmp_path, cm), version=V).stdout
    assert out == 'configmap "cfg" deleted\nconfigmap/cfg replaced\n'
    after = get_json(server, ns, "configmap", "cfg")
    assert after["data"] == {"a": "forced"}
    assert after["metadata"]["uid"] != cm["metadata"]["uid"]  # a new object
