"""`kubectl describe`: kubectl reads the object (and its events, through field selectors) and prints it."""

from __future__ import annotations

import datetime
import json
import re
import textwrap

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"


def fields(text: str) -> dict[str, str]:
    """The top-level `Key:  value` lines of a describe output (first occurrence wins)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Za-z -]*):\s*(.*)$", line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2).strip()
    return out


def test_describe_deployment(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80",
                   version=V)
    server.kubectl("-n", ns, "label", "deployment", "web", "team=blue", version=V)
    out = server.kubectl("-n", ns, "describe", "deployment", "web", version=V).stdout
    f = fields(out)
    assert f["Name"] == "web" and f["Namespace"] == ns
    assert f["Labels"] == "app=web"  # first of the two label lines
    assert re.search(r"^Labels:\s+app=web\n\s+team=blue$", out, re.M)
    assert f["Selector"] == "app=web"
    assert re.fullmatch(r"2 desired \| \d+ updated \| \d+ total \| \d+ available \| \d+ unavailable", f["Replicas"])
    assert f["StrategyType"] == "RollingUpdate"
    assert f["RollingUpdateStrategy"] == "25% max unavailable, 25% max surge"
    assert re.search(r"^\s+Image:\s+nginx:1\.25$", out, re.M)
    assert re.search(r"^\s+Port:\s+80/TCP$", out, re.M)
    created = json.loads(server.kubectl("-n", ns, "get", "deployment", "web", "-o", "json",
                                        version=V).stdout)["metadata"]["creationTimestamp"]
    stamp = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
    assert f["CreationTimestamp"] == stamp.strftime("%a, %d %b %Y %H:%M:%S +0000")


def test_describe_configmap_and_secret(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=greeting=hello", version=V)
    out = server.kubectl("-n", ns, "describe", "configmap", "cfg", version=V).stdout
    assert fields(out)["Name"] == "cfg"
    assert re.search(r"^Data\n====\ngreeting:\n----\nhello\n", out, re.M)

    server.kubectl("-n", ns, "create", "secret", "generic", "s", "--from-literal=password=hunter2", version=V)
    out = server.kubectl("-n", ns, "describe", "secret", "s", version=V).stdout
    assert fields(out)["Type"] == "Opaque"
    assert re.search(r"^password:\s+7 bytes$", out, re.M)
    assert "hunter2" not in out


def test_describe_service(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "service", "clusterip", "api", "--tcp=443:8443", version=V)
    svc = json.loads(server.kubectl("-n", ns, "get", "service", "api", "-o", "json", version=V).stdout)
    f = fields(server.kubectl("-n", ns, "describe", "service", "api", version=V).stdout)
    assert f["Type"] == "ClusterIP" and f["Selector"] == "app=api"
    assert f["IP"] == svc["spec"]["clusterIP"] and f["IP Families"] == "IPv4"
    assert f["IP Family Policy"] == "SingleStack"
    assert f["Port"] == "443-8443  443/TCP" and f["TargetPort"] == "8443/TCP"
    assert f["Session Affinity"] == "None"


def test_describe_pending_pod_with_its_events(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "run", "p", "--image=nginx:1.25", "--labels=app=p", version=V)
    uid = server.kubectl("-n", ns, "get", "pod", "p", "-o", "jsonpath={.metadata.uid}", version=V).stdout
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def event(name: str, pod: str, pod_uid: str, reason: str) -> str:
        return textwrap.dedent(f"""\
            apiVersion: v1
            kind: Event
            metadata:
              name: {name}
            involvedObject: {{apiVersion: v1, kind: Pod, name: {pod}, namespace: {ns}, uid: {pod_uid}}}
            reason: {reason}
            message: "0/0 nodes are available"
            type: Warning
            source: {{component: default-scheduler}}
            firstTimestamp: "{now}"
            lastTimestamp: "{now}"
            count: 3
            """)

    server.kubectl("-n", ns, "create", "-f", "-", version=V, input="---\n".join([
        event("p.1", "p", uid, "FailedScheduling"),
        event("q.1", "q", "00000000-0000-0000-0000-000000000000", "OtherPod"),  # must not be listed
    ]))
    out = server.kubectl("-n", ns, "describe", "pod", "p", version=V).stdout
    f = fields(out)
    assert f["Name"] == "p" and f["Status"] == "Pending" and f["Node"] == "<none>"
    assert f["Service Account"] == "default" and f["QoS Class"] == "BestEffort"
    assert f["Tolerations"] == "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s"
    events = out[out.index("\nEvents:"):]
    assert re.search(r"Warning\s+FailedScheduling\s+\S+ \(x3 over \S+\)\s+default-scheduler\s+"
                     r"0/0 nodes are available", events)
    assert "OtherPod" not in events


def test_describe_several_by_label_and_not_found(server: Server, ns: str) -> None:
    for name in ("a", "b", "c"):
        server.kubectl("-n", ns, "create", "configmap", name, version=V)
    server.kubectl("-n", ns, "label", "configmap", "a", "c", "pick=yes", version=V)
    out = server.kubectl("-n", ns, "describe", "configmaps", "-l", "pick=yes", version=V).stdout
    assert re.findall(r"^Name:\s+(\S+)$", out, re.M) == ["a", "c"]
    p = server.kubectl("-n", ns, "describe", "configmap", "nope", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found'


def test_describe_namespace_and_role(server: Server, ns: str) -> None:
    f = fields(server.kubectl("describe", "namespace", ns, version=V).stdout)
    assert f["Name"] == ns and f["Status"] == "Active"
    assert f["Labels"] == f"kubernetes.io/metadata.name={ns}"
    server.kubectl("-n", ns, "create", "role", "reader", "--verb=get,list", "--resource=pods,configmaps", version=V)
    out = server.kubectl("-n", ns, "describe", "role", "reader", version=V).stdout
    assert re.search(r"^\s+configmaps\s+\[\]\s+\[\]\s+\[get list\]$", out, re.M)
    assert re.search(r"^\s+pods\s+\[\]\s+\[\]\s+\[get list\]$", out, re.M)
