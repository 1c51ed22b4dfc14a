"""Every installed kubectl (1.27 … 1.33) through the everyday loop against one pybernetes server.

The themed files test each command in depth with kubectl 1.32 and sample 1.27/1.30/1.33; this one makes sure no
version in between trips over something version-specific (discovery negotiation, OpenAPI v2 vs v3 validation,
protobuf bodies, table printing).
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from tests.harness import Server
from tests.integration.test_kubectl_watch import Watcher

pytestmark = pytest.mark.integration

VERSIONS = ["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 1
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:1.25
    """)


@pytest.mark.parametrize("version", VERSIONS)
def test_everyday_loop(server: Server, ns: str, version: str) -> None:
    def k(*args: str, **kw) -> str:
        return server.kubectl("-n", ns, *args, version=version, **kw).stdout

    def obj(kind: str, name: str) -> dict:
        return json.loads(k("get", kind, name, "-o", "json"))

    assert k("create", "-f", "-", input=DEPLOYMENT) == "deployment.apps/web created\n"
    assert k("create", "configmap", "cfg", "--from-literal=a=1") == "configmap/cfg created\n"
    assert k("apply", "-f", "-", input=DEPLOYMENT.replace("nginx:1.25", "nginx:1.26")) == \
        "deployment.apps/web configured\n"  # with kubectl's warning about the missing last-applied annotation
    assert k("apply", "--server-side", "--force-conflicts", "-f", "-",
             input=DEPLOYMENT.replace("replicas: 1", "replicas: 2")) == "deployment.apps/web serverside-applied\n"
    dep = obj("deployment", "web")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"  # SSA applied the file as is

    wide = k("get", "deployments", "-o", "wide").splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[5:] == ["web", "nginx:1.25", "app=web"]
    assert k("get", "configmap", "cfg", "-o", "jsonpath={.data.a}") == "1"

    assert k("label", "configmap", "cfg", "x=y") == "configmap/cfg labeled\n"
    assert k("patch", "configmap", "cfg", "--type=merge", "-p", '{"data":{"b":"2"}}') == "configmap/cfg patched\n"
    assert obj("configmap", "cfg")["data"] == {"a": "1", "b": "2"}
    assert k("scale", "deployment", "web", "--replicas=3") == "deployment.apps/web scaled\n"
    assert obj("deployment", "web")["spec"]["replicas"] == 3
    assert re.search(r"^Replicas:\s+3 desired", k("describe", "deployment", "web"), re.M)

    with Watcher(server, "-n", ns, "get", "configmaps", "-w", "--output-watch-events", version=version) as w:
        w.wait_lines(3)                 # cfg and the namespace's kube-root-ca.crt
        k("annotate", "configmap", "cfg", "note=hi")
        rows = [line.split() for line in w.wait_lines(4)]
    assert rows[0] == ["EVENT", "NAME", "DATA", "AGE"] and [r[:3] for r in rows[1:]] == [
        ["ADDED", "cfg", "2"], ["ADDED", "kube-root-ca.crt", "1"], ["MODIFIED", "cfg", "2"]]

    assert k("delete", "configmap", "cfg") == 'configmap "cfg" deleted\n'
    assert k("delete", "deployment", "web") == 'deployment.apps "web" deleted\n'
    p = server.kubectl("-n", ns, "get", "configmap", "cfg", version=version, check=False)
    assert p.returncode == 1 and p.stderr.strip() == 'Error from server (NotFound): configmaps "cfg" not found'
