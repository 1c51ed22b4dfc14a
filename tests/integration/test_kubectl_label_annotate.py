"""`kubectl label` and `kubectl annotate`: merge patches on metadata, with kubectl's and the server's checks."""

from __future__ import annotations

import json

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"


def meta(server: Server, ns: str, kind: str, name: str) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", kind, name, "-o", "json", version=V).stdout)["metadata"]


@pytest.mark.parametrize(("command", "key"), [("label", "labels"), ("annotate", "annotations")])
def test_add_overwrite_remove(server: Server, ns: str, command: str, key: str) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", version=V)
    before = meta(server, ns, "deployment", "web")
    verb = "labeled" if command == "label" else "annotated"
    out = server.kubectl("-n", ns, command, "deployment", "web", "env=prod", "team=blue", version=V).stdout
    assert out == f"deployment.apps/web {verb}\n"
    after = meta(server, ns, "deployment", "web")
    assert {k: after[key][k] for k in ("env", "team")} == {"env": "prod", "team": "blue"}
    # Labels are metadata only; a Deployment's annotations are copied to its ReplicaSets, so they bump generation.
    assert after["generation"] == before["generation"] + (command == "annotate")

    p = server.kubectl("-n", ns, command, "deployment", "web", "env=dev", version=V, check=False)
    assert p.returncode == 1
    refused = ("error: 'env' already has a value (prod), and --overwrite is false" if command == "label"
               else "error: --overwrite is false but found the following declared annotation(s): "
                    "'env' already has a value (prod)")
    assert p.stderr.strip() == refused

    server.kubectl("-n", ns, command, "deployment", "web", "env=dev", "--overwrite", version=V)
    assert meta(server, ns, "deployment", "web")[key]["env"] == "dev"

    out = server.kubectl("-n", ns, command, "deployment", "web", "env-", version=V).stdout
    assert out == f"deployment.apps/web {'unlabeled' if command == 'label' else 'annotated'}\n"
    final = meta(server, ns, "deployment", "web")
    assert "env" not in final[key] and final[key]["team"] == "blue"

    server.kubectl("-n", ns, "create", "configmap", "c", version=V)
    server.kubectl("-n", ns, command, "configmap", "c", "only=one", version=V)
    server.kubectl("-n", ns, command, "configmap", "c", "only-", version=V)
    assert key not in meta(server, ns, "configmap", "c")  # no empty map left behind, as Go's omitempty


def test_label_every_object_and_by_selector(server: Server, ns: str) -> None:
    for name in ("a", "b", "c"):
        server.kubectl("-n", ns, "create", "configmap", name, version=V)
    out = server.kubectl("-n", ns, "label", "configmaps", "--all", "batch=1", version=V).stdout
    # --all is every ConfigMap there, the namespace's kube-root-ca.crt too (as in any real namespace)
    assert out == "configmap/a labeled\nconfigmap/b labeled\nconfigmap/c labeled\nconfigmap/kube-root-ca.crt labeled\n"
    server.kubectl("-n", ns, "label", "configmap", "b", "pick=yes", version=V)
    out = server.kubectl("-n", ns, "annotate", "configmaps", "-l", "pick=yes", "chosen=true", version=V).stdout
    assert out == "configmap/b annotated\n"
    assert meta(server, ns, "configmap", "b")["annotations"] == {"chosen": "true"}
    assert "annotations" not in meta(server, ns, "configmap", "a")
    out = server.kubectl("-n", ns, "get", "configmaps", "-l", "batch=1", "-o", "name", version=V).stdout
    assert out.split() == ["configmap/a", "configmap/b", "configmap/c", "configmap/kube-root-ca.crt"]


def test_list_labels_and_annotations(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "a", version=V)
    server.kubectl("-n", ns, "label", "configmap", "a", "x=1", "y=2", version=V)
    server.kubectl("-n", ns, "annotate", "configmap", "a", "note=hello world", version=V)
    assert sorted(server.kubectl("-n", ns, "label", "configmap", "a", "--list", version=V).stdout.split()) == [
        "x=1", "y=2"]
    assert server.kubectl("-n", ns, "annotate", "configmap", "a", "--list", version=V).stdout == "note=hello world\n"


def test_label_with_stale_resource_version_conflicts(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "a", version=V)
    rv = meta(server, ns, "configmap", "a")["resourceVersion"]
    server.kubectl("-n", ns, "label", "configmap", "a", "x=1", f"--resource-version={rv}", version=V)
    p = server.kubectl("-n", ns, "label", "configmap", "a", "y=1", f"--resource-version={rv}", version=V,
                       check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == ('Error from server (Conflict): Operation cannot be fulfilled on configmaps "a": '
                                "the object has been modified; please apply your changes to the latest version "
                                "and try again")
    assert meta(server, ns, "configmap", "a")["labels"] == {"x": "1"}


def test_invalid_annotation_key_is_rejected_by_the_server(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "a", version=V)
    p = server.kubectl("-n", ns, "annotate", "configmap", "a", "bad/key/x=1", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith('The ConfigMap "a" is invalid: metadata.annotations: Invalid value: "bad/key/x": '
                               "a qualified name must consist of alphanumeric characters")
    assert "annotations" not in meta(server, ns, "configmap", "a")


def test_label_dry_run_server(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "a", version=V)
    out = server.kubectl("-n", ns, "label", "configmap", "a", "x=1", "--dry-run=server", "-o", "json",
                         version=V).stdout
    assert json.loads(out)["metadata"]["labels"] == {"x": "1"}
    assert "labels" not in meta(server, ns, "configmap", "a")


def test_label_cluster_scoped_and_missing(server: Server, ns: str) -> None:
    server.kubectl("label", "namespace", ns, "purpose=test", version=V)
    assert meta(server, "", "namespace", ns)["labels"] == {"kubernetes.io/metadata.name": ns, "purpose": "test"}
    p = server.kubectl("-n", ns, "label", "configmap", "nope", "x=1", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found'
