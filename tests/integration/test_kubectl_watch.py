"""`kubectl get -w`: kubectl runs in the background, the test changes objects, and reads what kubectl printed.

kubectl is started with `-v=6` so that its request log tells when the watch request was answered: every change
made after that line is guaranteed to reach the watch (no sleeping for "long enough").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness import Server, kubectl_binary

pytestmark = pytest.mark.integration

V = "1.32"
SAMPLE_VERSIONS = ["1.32", "1.27", "1.30", "1.33"]
WATCH_OPEN = re.compile(r"watch=true.*200 OK")
DEADLINE = 20.0


class Watcher:
    """A background `kubectl get -w` whose stdout lines are collected as they arrive."""

    def __init__(self, server: Server, *args: str, version: str = V) -> None:
        cache = server.data_dir / f"kubectl-cache-{version}"
        cmd = [kubectl_binary(version), "--kubeconfig", str(server.kubeconfig), "--cache-dir", str(cache),
               "-v=6", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "HOME": str(server.data_dir)})
        self.out: list[str] = []
        self.err: list[str] = []
        self.cond = threading.Condition()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()
        self.wait_err(lambda lines: any(WATCH_OPEN.search(line) for line in lines))

    def _pump(self, stream, sink: list[str]) -> None:
        for line in stream:
            with self.cond:
                sink.append(line.rstrip("\n"))
                self.cond.notify_all()

    def _wait(self, sink: list[str], pred: Callable[[list[str]], bool]) -> list[str]:
        deadline = time.monotonic() + DEADLINE
        with self.cond:
            while not pred(sink):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not pred(sink)):
                    raise AssertionError(f"kubectl watch never printed what was expected:\nstdout: {self.out}\n"
                                         f"stderr: {[e for e in self.err if 'round_trippers' not in e][-20:]}")
                self.cond.wait(min(left, 0.2))
            return list(sink)

    def wait_out(self, pred: Callable[[list[str]], bool]) -> list[str]:
        return self._wait(self.out, pred)

    def wait_lines(self, n: int) -> list[str]:
        return self.wait_out(lambda lines: len(lines) >= n)

    def wait_err(self, pred: Callable[[list[str]], bool]) -> list[str]:
        return self._wait(self.err, pred)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def json_stream(text: str) -> list[Any]:
    """The documents of a JSON stream (``kubectl get -w -o json`` prints one pretty-printed object per event)."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        obj, at = decoder.raw_decode(text, at)
        out.append(obj)
    return out


def cells(lines: list[str]) -> list[list[str]]:
    return [line.split() for line in lines]


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_get_watch_prints_rows_as_objects_change(server: Server, ns: str, version: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "before", "--from-literal=a=1", version=version)
    with Watcher(server, "-n", ns, "get", "configmaps", "-w", version=version) as w:
        lines = w.wait_lines(3)
        assert cells(lines[:1]) == [["NAME", "DATA", "AGE"]]
        # every namespace holds the cluster's kube-root-ca.crt, as in a real cluster
        assert [r[:2] for r in cells(lines[1:3])] == [["before", "1"], ["kube-root-ca.crt", "1"]]
        server.kubectl("-n", ns, "create", "configmap", "during", version=version)
        server.kubectl("-n", ns, "patch", "configmap", "during", "-p", '{"data":{"x":"1","y":"2"}}',
                       version=version)
        server.kubectl("-n", ns, "delete", "configmap", "during", version=version)
        rows = cells(w.wait_lines(6)[3:])
        # ADDED, MODIFIED (2 keys now), DELETED (last state); the header is printed once.
        assert [r[:2] for r in rows] == [["during", "0"], ["during", "2"], ["during", "2"]]
        assert all(re.fullmatch(r"\d+s", r[2]) for r in rows)


def test_get_watch_output_watch_events(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "before", version=V)
    with Watcher(server, "-n", ns, "get", "configmaps", "-w", "--output-watch-events") as w:
        w.wait_lines(3)
        server.kubectl("-n", ns, "create", "configmap", "c", version=V)
        server.kubectl("-n", ns, "label", "configmap", "c", "x=y", version=V)
        server.kubectl("-n", ns, "delete", "configmap", "c", version=V)
        rows = cells(w.wait_lines(6))
    assert rows[0] == ["EVENT", "NAME", "DATA", "AGE"]
    assert [r[:2] for r in rows[1:]] == [["ADDED", "before"], ["ADDED", "kube-root-ca.crt"], ["ADDED", "c"],
                                         ["MODIFIED", "c"], ["DELETED", "c"]]


def test_get_watch_only_with_label_selector(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "old", version=V)
    server.kubectl("-n", ns, "label", "configmap", "old", "app=x", version=V)
    with Watcher(server, "-n", ns, "get", "configmaps", "--watch-only", "-l", "app=x", "-o", "name") as w:
        server.kubectl("-n", ns, "create", "configmap", "other", version=V)  # never matches
        server.kubectl("-n", ns, "create", "configmap", "new", version=V)
        server.kubectl("-n", ns, "label", "configmap", "new", "app=x", version=V)  # enters the selection
        server.kubectl("-n", ns, "label", "configmap", "old", "app-", version=V)  # leaves it
        lines = w.wait_lines(2)
        assert lines == ["configmap/new", "configmap/old"]
        server.kubectl("-n", ns, "label", "configmap", "other", "app=x", version=V)
        assert w.wait_lines(3)[2] == "configmap/other"


def test_get_watch_single_object_jsonpath(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "c", "--from-literal=n=0", version=V)
    server.kubectl("-n", ns, "create", "configmap", "unrelated", version=V)
    with Watcher(server, "-n", ns, "get", "configmap", "c", "-w", "-o", "jsonpath={.data.n}{\"\\n\"}") as w:
        assert w.wait_lines(1) == ["0"]
        for i in (1, 2, 3):
            server.kubectl("-n", ns, "patch", "configmap", "unrelated", "-p", f'{{"data":{{"n":"x{i}"}}}}',
                           version=V)
            server.kubectl("-n", ns, "patch", "configmap", "c", "-p", f'{{"data":{{"n":"{i}"}}}}', version=V)
        assert w.wait_lines(4) == ["0", "1", "2", "3"]


def test_get_watch_json_objects(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "c", version=V)
    with Watcher(server, "-n", ns, "get", "configmaps", "-w", "-o", "json") as w:
        w.wait_out(lambda lines: lines.count("}") >= 2)                 # c and the namespace's kube-root-ca.crt
        server.kubectl("-n", ns, "patch", "configmap", "c", "-p", '{"data":{"k":"v"}}', version=V)
        lines = w.wait_out(lambda lines: lines.count("}") >= 3)
    text = "\n".join(lines)
    objects = json_stream(text)
    assert [o["metadata"]["name"] for o in objects] == ["c", "kube-root-ca.crt", "c"], text
    first, _, second = objects
    assert first["kind"] == second["kind"] == "ConfigMap", text
    assert "data" not in first and second["data"] == {"k": "v"}
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


def test_get_watch_all_namespaces(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "a", version=V)
    server.kubectl("-n", ns, "label", "configmap", "a", f"suite={ns}", version=V)
    with Watcher(server, "get", "configmaps", "-A", "-w", "-l", f"suite={ns}") as w:
        rows = cells(w.wait_lines(2))
        assert rows[0] == ["NAMESPACE", "NAME", "DATA", "AGE"] and rows[1][:2] == [ns, "a"]
        server.kubectl("-n", ns, "create", "configmap", "b", version=V)
        server.kubectl("-n", ns, "label", "configmap", "b", f"suite={ns}", version=V)
        assert cells(w.wait_lines(3))[2][:2] == [ns, "b"]


def test_get_watch_pods_and_deployments(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=1", version=V)
    with Watcher(server, "-n", ns, "get", "deployments", "-w", "--output-watch-events") as w:
        w.wait_lines(2)
        server.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=4", version=V)
        rows = cells(w.wait_out(lambda lines: any(re.search(r"MODIFIED\s+web\s+\d+/4", line) for line in lines)))
    assert rows[0] == ["EVENT", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[1][:2] == ["ADDED", "web"]
