"""`kubectl delete`: propagation policies, finalizers, graceful deletion, and kubectl waiting for the object to go.

No controllers are needed here: every check is on what the API server alone does. Where a controller (the
garbage collector) may act on the object afterwards, the test reads the server's own write from a watch, which
no later change can hide.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time

import pytest

from tests.harness import Server, kubectl_binary
from tests.integration.test_kubectl_watch import Watcher

pytestmark = pytest.mark.integration

V = "1.32"
SAMPLE_VERSIONS = ["1.32", "1.27", "1.30", "1.33"]
HOLD = "example.com/hold"


def get_json(server: Server, ns: str, kind: str, name: str) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", kind, name, "-o", "json", version=V).stdout)


def exists(server: Server, ns: str, kind: str, name: str) -> bool:
    p = server.kubectl("-n", ns, "get", kind, name, "-o", "name", "--ignore-not-found", version=V)
    return bool(p.stdout.strip())


def wait_until(pred, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_kubectl(server: Server, *args: str, version: str = V) -> subprocess.Popen:
    cache = server.data_dir / f"kubectl-cache-{version}"
    cmd = [kubectl_binary(version), "--kubeconfig", str(server.kubeconfig), "--cache-dir", str(cache), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOME": str(server.data_dir)})


def held_configmap(server: Server, ns: str, name: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", name, version=V)
    server.kubectl("-n", ns, "patch", "configmap", name, "-p", json.dumps({"metadata": {"finalizers": [HOLD]}}),
                   version=V)


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_delete_completes_and_waits(server: Server, ns: str, version: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", version=version)
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", version=version)
    p = server.kubectl("-n", ns, "delete", "configmap", "cfg", version=version)
    assert p.stdout == 'configmap "cfg" deleted\n'
    assert not exists(server, ns, "configmap", "cfg")
    p = server.kubectl("-n", ns, "delete", "deployment", "web", "--cascade=background", version=version)
    assert p.stdout == 'deployment.apps "web" deleted\n'
    assert not exists(server, ns, "deployment", "web")
    p = server.kubectl("-n", ns, "delete", "deployment", "web", version=version, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): deployments.apps "web" not found'
    p = server.kubectl("-n", ns, "delete", "deployment", "web", "--ignore-not-found", version=version)
    assert p.stdout == p.stderr == ""


def test_delete_by_selector_all_and_file(server: Server, ns: str, tmp_path) -> None:
    for name in ("a", "b", "c", "d"):
        server.kubectl("-n", ns, "create", "configmap", name, version=V)
    server.kubectl("-n", ns, "label", "configmap", "a", "b", "gone=yes", version=V)
    out = server.kubectl("-n", ns, "delete", "configmaps", "-l", "gone=yes", version=V).stdout
    assert out == 'configmap "a" deleted\nconfigmap "b" deleted\n'
    path = tmp_path / "c.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    assert server.kubectl("-n", ns, "delete", "-f", str(path), version=V).stdout == 'configmap "c" deleted\n'
    # --all is every ConfigMap there, the namespace's kube-root-ca.crt too; its publisher puts it back, as upstream's
    assert server.kubectl("-n", ns, "delete", "configmaps", "--all", version=V).stdout == \
        'configmap "d" deleted\nconfigmap "kube-root-ca.crt" deleted\n'
    wait_until(lambda: server.kubectl("-n", ns, "get", "configmaps", "-o", "name", version=V).stdout ==
               "configmap/kube-root-ca.crt\n", "kube-root-ca.crt published again, and nothing else", timeout=60)


def test_delete_dry_run_server(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", version=V)
    out = server.kubectl("-n", ns, "delete", "configmap", "cfg", "--dry-run=server", version=V).stdout
    assert out == 'configmap "cfg" deleted (server dry run)\n'
    assert "deletionTimestamp" not in get_json(server, ns, "configmap", "cfg")["metadata"]


@pytest.mark.parametrize(("cascade", "finalizer"), [("orphan", "orphan"), ("foreground", "foregroundDeletion")])
def test_delete_cascade_leaves_a_finalizer(server: Server, ns: str, cascade: str, finalizer: str) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", version=V)
    uid = get_json(server, ns, "deployment", "web")["metadata"]["uid"]
    with Watcher(server, "-n", ns, "get", "deployment", "web", "-w", "--output-watch-events", "-o",
                 "jsonpath={.type} {.object.metadata.deletionTimestamp} {.object.metadata.finalizers}{\"\\n\"}") as w:
        w.wait_lines(1)
        out = server.kubectl("-n", ns, "delete", "deployment", "web", f"--cascade={cascade}", "--wait=false",
                             version=V).stdout
        assert out == 'deployment.apps "web" deleted\n'
        lines = w.wait_out(lambda lines: any(line.split(" ")[1:2] != [""] for line in lines[1:]))
    # The first event that carries a deletionTimestamp is the server's own write for the delete (earlier ones may
    # be a deployment controller's status updates).
    kind, stamp, finalizers = next(line for line in lines[1:] if line.split(" ")[1:2] != [""]).split(" ", 2)
    # The server keeps the object, marked for deletion, with the finalizer the garbage collector acts on.
    assert kind == "MODIFIED" and stamp.endswith("Z")
    assert json.loads(finalizers) == [finalizer]
    # Whoever removes the finalizer (the garbage collector, or here the test) lets the deletion finish.
    got = server.kubectl("-n", ns, "get", "deployment", "web", "-o", "json", "--ignore-not-found", version=V).stdout
    if got:
        obj = json.loads(got)
        assert obj["metadata"]["uid"] == uid and obj["metadata"]["deletionTimestamp"] == stamp
        p = server.kubectl("-n", ns, "patch", "deployment", "web", "--type=merge", "-p",
                           '{"metadata":{"finalizers":null}}', version=V, check=False)
        assert p.returncode == 0 or "NotFound" in p.stderr, p.stderr  # the collector may have been first
    server.kubectl("-n", ns, "wait", "--for=delete", "deployment/web", "--timeout=20s", version=V)


def test_delete_waits_for_finalizers(server: Server, ns: str) -> None:
    held_configmap(server, ns, "cfg")
    proc = start_kubectl(server, "-n", ns, "delete", "configmap", "cfg")
    try:
        wait_until(lambda: get_json(server, ns, "configmap", "cfg")["metadata"].get("deletionTimestamp"),
                   "the deletionTimestamp")
        assert proc.poll() is None  # kubectl is still waiting for the object to go
        cm = get_json(server, ns, "configmap", "cfg")
        assert cm["metadata"]["finalizers"] == [HOLD] and cm["metadata"]["deletionGracePeriodSeconds"] == 0
        server.kubectl("-n", ns, "patch", "configmap", "cfg", "--type=json", "-p",
                       '[{"op":"remove","path":"/metadata/finalizers"}]', version=V)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == 'configmap "cfg" deleted\n'
    assert not exists(server, ns, "configmap", "cfg")


def test_delete_wait_timeout(server: Server, ns: str) -> None:
    held_configmap(server, ns, "cfg")
    p = server.kubectl("-n", ns, "delete", "configmap", "cfg", "--timeout=1s", version=V, check=False)
    assert p.returncode == 1
    assert p.stdout == 'configmap "cfg" deleted\n'
    # (client-go may log a "very short watch" warning first when its 1 s context ends the watch: a client race)
    assert p.stderr.strip().splitlines()[-1] == "error: timed out waiting for the condition on configmaps/cfg"
    meta = get_json(server, ns, "configmap", "cfg")["metadata"]
    assert meta["deletionTimestamp"] and meta["finalizers"] == [HOLD]
    # A second delete of an object already being deleted changes nothing and succeeds.
    p = server.kubectl("-n", ns, "delete", "configmap", "cfg", "--wait=false", version=V)
    assert p.stdout == 'configmap "cfg" deleted\n'
    assert get_json(server, ns, "configmap", "cfg")["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    server.kubectl("-n", ns, "patch", "configmap", "cfg", "--type=merge", "-p", '{"metadata":{"finalizers":[]}}',
                   version=V)
    assert not exists(server, ns, "configmap", "cfg")


def test_delete_pod_gracefully_then_force(server: Server, ns: str) -> None:
    pending = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{node}"
               "  containers:\n  - {{name: c, image: nginx}}\n")
    server.kubectl("-n", ns, "create", "-f", "-", version=V, input="---\n".join([
        pending.format(name="unscheduled", node=""),
        pending.format(name="bound", node="  nodeName: some-node\n"),
    ]))
    # A pod no node runs is deleted at once; one bound to a node waits for its kubelet (grace period).
    assert server.kubectl("-n", ns, "delete", "pod", "unscheduled", version=V).stdout == 'pod "unscheduled" deleted\n'
    assert not exists(server, ns, "pod", "unscheduled")
    server.kubectl("-n", ns, "delete", "pod", "bound", "--wait=false", "--grace-period=45", version=V)
    meta = get_json(server, ns, "pod", "bound")["metadata"]
    assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 45
    out = server.kubectl("-n", ns, "get", "pod", "bound", version=V).stdout
    assert out.splitlines()[1].split()[2] == "Terminating"
    p = server.kubectl("-n", ns, "delete", "pod", "bound", "--grace-period=0", "--force", version=V)
    assert p.stdout == 'pod "bound" force deleted\n'
    assert p.stderr.startswith("Warning: Immediate deletion does not wait for confirmation")
    assert not exists(server, ns, "pod", "bound")


def test_delete_namespace_refuses_new_content(server: Server) -> None:
    ns = "t-delete-namespace-terminating"
    server.kubectl("create", "namespace", ns, version=V)
    held_configmap(server, ns, "held")  # keeps the namespace Terminating whether or not a controller runs
    assert server.kubectl("delete", "namespace", ns, "--wait=false", version=V).stdout == \
        f'namespace "{ns}" deleted\n'
    obj = json.loads(server.kubectl("get", "namespace", ns, "-o", "json", version=V).stdout)
    assert obj["metadata"]["deletionTimestamp"] and obj["status"]["phase"] == "Terminating"
    assert obj["spec"]["finalizers"] == ["kubernetes"]
    manifest = textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: late
        """)
    p = server.kubectl("-n", ns, "create", "-f", "-", input=manifest, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == ('Error from server (Forbidden): error when creating "STDIN": configmaps "late" is '
                                f"forbidden: unable to create new content in namespace {ns} because it is being "
                                "terminated")
    server.kubectl("-n", ns, "patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
                   version=V)
