"""Real containers through the pod workers with a real node's PodSetup: the OCI runtime (crun, the project's
busybox test image from a local registry), the pod network through CNI, and env, volumes (emptyDir, hostPath,
configMap, the ServiceAccount projected volume), probes (httpGet/tcpSocket/exec to the pod IP) and lifecycle
hooks. Needs root and the Debian packages (a missing one fails under CI)."""

from __future__ import annotations

import asyncio
import copy
import datetime
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e import ocihelpers as h
from tests.unit.kubelet.fakes import Events, FakeAPI

from pybernetes.client.resources import PODS
from pybernetes.kubelet.network.cni import CNINetwork
from pybernetes.kubelet.podsetup import PodSetup
from pybernetes.kubelet.podworker import PodWorkers
from pybernetes.kubelet.runtime.oci.client import OCIConfig, OCIRuntime
from pybernetes.kubelet.status import StatusManager
from pybernetes.kubelet.volumes.manager import VolumeManager
from pybernetes.kubelet.volumes.tokens import TokenManager

pytestmark = pytest.mark.e2e
Obj = dict[str, Any]
BUSYBOX = "busybox:latest"
CIDR = "10.199.11.0/24"
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


class Objects:
    def __init__(self) -> None:
        self.cms: dict[tuple[str, str], Obj] = {}

    async def configmap(self, namespace: str, name: str) -> Obj | None:
        return copy.deepcopy(self.cms.get((namespace, name)))

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return None

    def services(self) -> list[Obj]:
        return [{"metadata": {"name": "kubernetes", "namespace": "default"},
                 "spec": {"clusterIP": "10.43.0.1", "ports": [{"name": "https", "port": 443}]}}]

    async def pvc(self, namespace: str, name: str) -> Obj | None:
        return None

    async def pv(self, name: str) -> Obj | None:
        return None

    async def request_token(self, namespace: str, sa: str, body: Obj) -> Obj:
        exp = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=3607)
        return {"status": {"token": f"token-for-{body['spec']['boundObjectRef']['name']}",
                           "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}

    async def stop(self) -> None:
        pass


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Registry]:
    h.require_node_prerequisites()
    h.host_checks()
    yield from h.registry_fixture(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def shim(registry: h.Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Shim]:
    s = h.start_shim(tmp_path_factory.mktemp("runtime"))
    yield s
    h.stop_shim(s)


class Node:
    def __init__(self, api: FakeAPI, events: Events, objects: Objects, workers: PodWorkers, setup: PodSetup) -> None:
        self.api, self.events, self.objects, self.workers, self.setup = api, events, objects, workers, setup

    def add(self, pod: Obj) -> None:
        self.workers.update(copy.deepcopy(self.api.put(PODS, pod)))

    def status(self, name: str) -> Obj:
        obj = self.api.stored(PODS, name, "default")
        assert obj is not None
        return obj.get("status") or {}

    async def until(self, check: Any, what: str, timeout: float = 30.0) -> Any:
        async def probe() -> Any:
            return check()
        return await h.until(probe, timeout=timeout, what=what)


@pytest.fixture
async def node(shim: h.Shim, registry: h.Registry, tmp_path: Path) -> AsyncIterator[Node]:
    from pybernetes.kubelet.images import config as images_config
    from pybernetes.kubelet.images.puller import ImagePuller
    from pybernetes.kubelet.images.store import ImageStore
    bridge = f"pybt{uuid.uuid4().hex[:6]}"
    puller = ImagePuller(ImageStore(tmp_path / "images"), registries=images_config.load(registry.registries_yaml))
    rt = OCIRuntime(OCIConfig(root=shim.root, log_root=tmp_path / "log", node_hostname="testnode",
                              memory_capacity=8 << 30), images=puller,
                    network=CNINetwork(data_dir=tmp_path / "net", bridge=bridge))
    await rt.start()
    api, events, objects = FakeAPI(), Events(name="testnode", cidr=CIDR), Objects()
    status = StatusManager(api)   # type: ignore[arg-type]
    volumes = VolumeManager(root=tmp_path / "pods", api=objects, tokens=TokenManager(objects.request_token))
    setup = PodSetup(runtime=rt, objects=objects, volumes=volumes, refresh_period=0.5,  # type: ignore[arg-type]
                     allocatable={"cpu": "2", "memory": "8Gi"},
                     event=lambda pod, t, r, m, f: events.event(pod, t, r, m, field_path=f))
    workers = PodWorkers(runtime=rt, status=status, nodes={"testnode": events}, setup=setup)
    tasks = [asyncio.create_task(status.run()), asyncio.create_task(setup.run())]
    try:
        yield Node(api, events, objects, workers, setup)
    finally:
        for rec in list(workers.records.values()):
            if rec.pod is not None:
                workers.remove(rec.pod)
        await workers.idle()
        await workers.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await setup.stop()
        for sb in await rt.list_pod_sandboxes():
            await rt.stop_pod_sandbox(sb.id)
            await rt.remove_pod_sandbox(sb.id)
        await rt.close()
        await puller.close()
        await asyncio.to_thread(subprocess.run, ["ip", "link", "del", bridge], check=False,
                                stderr=subprocess.DEVNULL)


def pod(name: str, spec: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4()), "labels": {"app": name}},
            "spec": {"nodeName": "testnode", "terminationGracePeriodSeconds": 5, "serviceAccountName": "default",
                     **spec},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def cstatus(st: Obj, name: str) -> Obj:
    return next((c for c in st.get("containerStatuses") or () if c["name"] == name), {})


async def test_env_volumes_probes_and_hooks(node: Node, tmp_path: Path) -> None:
    host = tmp_path / "host"
    node.objects.cms[("default", "cfg")] = {"data": {"greeting": "hello", "index.html": "v1\n"}}
    node.objects.cms[("default", "kube-root-ca.crt")] = {"data": {"ca.crt": "PEM"}}
    script = ("echo \"$GREETING $POD_IP $KUBERNETES_SERVICE_HOST $MISSING\" > /host/env; "
              "cat " + SA_MOUNT + "/namespace " + SA_MOUNT + "/token " + SA_MOUNT + "/ca.crt > /host/sa; "
              "mkdir -p /www && cp /etc/cfg/index.html /www/; exec httpd -f -p 8080 -h /www")
    p = pod("web", {
        "containers": [{
            "name": "app", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", script],
            "ports": [{"name": "http", "containerPort": 8080}],
            "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}, {"name": "host", "mountPath": "/host"},
                             {"name": "scratch", "mountPath": "/scratch"},
                             {"name": "kube-api-access-test1", "mountPath": SA_MOUNT, "readOnly": True}],
            "readinessProbe": {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1},
            "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1, "initialDelaySeconds": 1},
            "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo started > /host/poststart"]}},
                          "preStop": {"exec": {"command": ["sh", "-c", "echo stopping > /host/prestop"]}}}}],
        "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}},
                    {"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
                    {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                    {"name": "kube-api-access-test1", "projected": {"defaultMode": 420, "sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace",
                                                    "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}]})
    node.add(p)
    await node.until(lambda: cstatus(node.status("web"), "app").get("ready"), "the pod to be ready", timeout=60)
    st = node.status("web")
    ip = st["podIP"]
    assert ip.startswith("10.199.11.")
    assert next(c["status"] for c in st["conditions"] if c["type"] == "Ready") == "True"
    assert (host / "env").read_text() == f"hello {ip} 10.43.0.1 \n"
    assert (host / "sa").read_text() == "defaulttoken-for-webPEM"
    assert (host / "poststart").read_text() == "started\n"
    # the emptyDir with medium Memory is a tmpfs
    scratch = next(Path(m.host_path) for m in (await node.setup.container_config(node.api.stored(
        PODS, "web", "default"), p["spec"]["containers"][0]))[3] if m.container_path == "/scratch")
    assert h.ismount(scratch)
    # a ConfigMap update reaches the running container's volume
    node.objects.cms[("default", "cfg")] = {"data": {"greeting": "hello", "index.html": "v2\n"}}
    cid = cstatus(st, "app")["containerID"].split("://", 1)[1]

    async def seen() -> bool:
        res = await node.setup.runtime.exec_sync(cid, ["cat", "/etc/cfg/index.html"], timeout=5)
        return res.stdout == b"v2\n"
    await h.until(seen, timeout=20, what="the ConfigMap update in the container")
    # delete: preStop runs before the stop
    deleting = copy.deepcopy(node.api.stored(PODS, "web", "default"))
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    deleting["metadata"]["deletionGracePeriodSeconds"] = 5
    node.workers.update(deleting)
    await node.until(lambda: (host / "prestop").exists(), "the preStop hook")
    await node.until(lambda: not scratch.exists(), "the pod's volumes to be torn down")
    assert (host / "prestop").read_text() == "stopping\n"


async def test_readiness_and_liveness_failures(node: Node) -> None:
    p = pod("sick", {"containers": [{
        "name": "app", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", "touch /tmp/ready; sleep 3600"],
        "readinessProbe": {"exec": {"command": ["cat", "/tmp/nope"]}, "periodSeconds": 1},
        "livenessProbe": {"exec": {"command": ["test", "-e", "/tmp/ready-not"]}, "periodSeconds": 1,
                          "failureThreshold": 2}}]})
    node.add(p)
    await node.until(lambda: cstatus(node.status("sick"), "app").get("restartCount", 0) >= 1,
                     "a restart after the liveness probe failed", timeout=60)
    assert any(e[1] == "Killing" and e[2] == "Container app failed liveness probe, will be restarted"
               for e in node.events.events)
    assert any(e[1] == "Unhealthy" and e[2].startswith("Readiness probe failed: cat: can't open '/tmp/nope'")
               for e in node.events.events)
    st = node.status("sick")
    assert not cstatus(st, "app")["ready"]
    assert next(c["status"] for c in st["conditions"] if c["type"] == "Ready") == "False"
