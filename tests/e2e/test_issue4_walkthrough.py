"""Issue 4's "Done means", walked through as a user would: one ``pybernetes server`` with its own real node (as
``make up`` starts it), images from the project's test registry mirroring ``docker.io``, and the real kubectl
(1.32, and 1.27/1.33 for exec and logs) and the official Python client.

- the textbook Pod (``nginx:latest``, containerPort 80) runs and serves HTTP on its pod IP (reached from the host:
  an address inside a network namespace the cluster made);
- ``kubectl logs``, ``exec -- ls /``, ``exec -it`` (a real terminal), ``cp`` and ``port-forward``; the logs of a
  finished Job's pod;
- a container exiting 1 shows ``CrashLoopBackOff`` in ``kubectl get pods``; one over its memory limit is
  ``OOMKilled``; a failing liveness probe restarts its container (``Unhealthy``/``Killing`` events); a failing
  readiness probe makes the pod not Ready and moves it out of the Service's Endpoints;
- deleting a pod runs its preStop hook before SIGTERM and the pod is gone within its grace period (SIGKILL when it
  ignores SIGTERM);
- the node's containers survive ``kill -9`` of the agent (the server restarts it; same containerID and
  restartCount);
- the Python client's ``stream(connect_get_namespaced_pod_exec, ...)`` and ``portforward``.

Needs root, the Debian packages of ``tools/install-deps.sh``, kubectl 1.27/1.32/1.33 and the ``kubernetes``
package: outside CI a missing one skips, in CI it fails. The behaviour pods are created up front so their
restarts and back-offs run while the streaming tests do.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e import ocihelpers as h
from tests.e2e.terminal import terminal_session
from tests.e2e.test_real_node import BRIDGE, wait_for
from tests.e2e.test_streaming import env, free_port, kubectl_cmd
from tests.harness import READY, Server, kubectl_dir

pytestmark = pytest.mark.e2e
VERSIONS = ("1.27", "1.32", "1.33")

NGINX_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx:latest
    ports:
    - containerPort: 80
"""


def pod(name: str, container: dict[str, Any], *, labels: dict[str, str] | None = None, grace: int = 2,
        **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"terminationGracePeriodSeconds": grace, "containers": [{"name": "app", "image": "busybox",
                                                                             **container}], **spec}}


BEHAVIOURS = [
    pod("crash", {"command": ["sh", "-c", "echo crashing; exit 1"]}),
    # the shell's own variable grows past the limit: the kernel's OOM killer ends PID 1
    pod("oom", {"command": ["sh", "-c", "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived"],
                "resources": {"limits": {"memory": "16Mi"}}}),
    # upstream's liveness-exec example, with shorter times
    pod("live", {"command": ["sh", "-c", "touch /tmp/healthy; sleep 3; rm -f /tmp/healthy; sleep 600"],
                 "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 1,
                                   "periodSeconds": 1, "failureThreshold": 2}}),
    pod("ready", {"command": ["sh", "-c", "touch /tmp/ready; exec sleep 100000"],
                  "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}},
        labels={"app": "ready"}),
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ready"},
     "spec": {"selector": {"app": "ready"}, "ports": [{"port": 80, "targetPort": 80}]}},
]


@dataclass
class Cluster:
    server: Server
    data: Path                     # the server's --data-dir (its node's under agent/)
    host_dir: Path                 # a hostPath directory the preStop pods write to
    nginx_ip: str = ""

    def kubectl(self, *args: str, version: str | None = None, input: str | None = None,
                check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        p: subprocess.CompletedProcess[str] = self.server.kubectl(*args, version=version, input=input, check=check,
                                                                  timeout=timeout)
        return p

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def status(self, name: str) -> dict[str, Any]:
        st: dict[str, Any] = self.json("get", "pod", name).get("status") or {}
        return st

    def container(self, name: str) -> dict[str, Any]:
        (cs,) = self.status(name).get("containerStatuses") or [{}]
        return dict(cs)

    def events(self, name: str) -> list[tuple[str, str]]:
        items = self.json("get", "events", "--field-selector", f"involvedObject.name={name}")["items"]
        return [(e.get("reason", ""), e.get("message", "")) for e in items]

    def log(self) -> str:
        """The node agent's log tail (for failure messages; ``wait_for`` calls it)."""
        path = self.data / "logs" / "agent.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def agent_pids(data: Path) -> list[int]:
    """PIDs of the node agent the server supervises (by its command line: ``pybernetes agent`` on our data dir)."""
    want = str(data / "agent").encode()
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pybernetes" in argv and b"agent" in argv and want in argv:
            pids.append(int(d.name))
    return pids


def bridge_addresses() -> set[str]:
    """The IPv4 addresses on the CNI bridge (``10.42.0.1/24``), empty when there is no bridge."""
    p = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE], capture_output=True, text=True, check=False)
    return {f[3] for f in (line.split() for line in p.stdout.splitlines()) if len(f) > 3 and f[2] == "inet"}


def http_get(url: str, timeout: float = 10) -> str:
    """A GET without proxies from the environment (the address is local or inside a pod's namespace)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as r:
        return str(r.read().decode())


def start_server(base: Path, registries_yaml: Path) -> Server:
    data, kc = base / "data", base / "admin.kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "pybernetes", "server", "--data-dir", str(data), "--bind-address",
                             "127.0.0.1", "--port", "0", "--write-kubeconfig", str(kc), "--token", "t",
                             "--node-ip", "127.0.0.1", "--registry-config", str(registries_yaml)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if m := READY.search(line):
            threading.Thread(target=lambda: [lines.append(x) for x in proc.stdout or ()], daemon=True).start()
            return Server(data_dir=base, proc=proc, url=m.group(1), kubeconfig=kc, token="t", log=lines)
    proc.kill()
    proc.wait(10)
    raise AssertionError("server did not start:\n" + "".join(lines))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    h.require_node_prerequisites()
    for v in VERSIONS:
        h.require((kubectl_dir() / f"kubectl.{v}").exists(), f"kubectl {v}")
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        h.require(False, "the kubernetes Python package")
    base = tmp_path_factory.mktemp("issue4")
    had_bridge = os.path.exists(f"/sys/class/net/{BRIDGE}")
    had_addresses = bridge_addresses()
    reg_gen = h.registry_fixture(base)
    registry = next(reg_gen)
    srv = start_server(base, registry.registries_yaml)
    c = Cluster(server=srv, data=base / "data", host_dir=base / "host")
    c.host_dir.mkdir()
    try:
        def node_ready() -> bool:
            nodes = c.json("get", "nodes")["items"]
            assert len(nodes) == 1, nodes                   # registered (wait_for retries on AssertionError)
            return any(x["type"] == "Ready" and x["status"] == "True" for x in nodes[0]["status"]["conditions"])
        wait_for(node_ready, timeout=90, what="the node to be Ready", node=c)
        wait_for(lambda: c.kubectl("get", "serviceaccount", "default", check=False).returncode == 0, timeout=60,
                 what="the default ServiceAccount", node=c)
        (base / "nginx.yaml").write_text(NGINX_YAML)
        c.kubectl("apply", "-f", str(base / "nginx.yaml"))
        for obj in BEHAVIOURS:
            c.kubectl("apply", "-f", "-", input=json.dumps(obj))
        c.kubectl("create", "job", "hello", "--image=busybox", "--", "sh", "-c", "echo hello from the job")
        yield c
    finally:
        try:
            srv.stop(timeout=30)
        finally:
            h.cleanup_root(c.data / "agent" / "runtime")
            h.unmount_under(base)
            next(reg_gen, None)
            if not had_bridge and os.path.exists(f"/sys/class/net/{BRIDGE}"):
                subprocess.run(["ip", "link", "delete", BRIDGE], check=False)
            for addr in bridge_addresses() - had_addresses if had_bridge else ():
                # our node's gateway on a bridge another node made: the CNI bridge plugin refuses to add a
                # second IPv4 gateway, so a leftover would stop that node (docs/HOST-FACTS.md)
                if addr.startswith("10.42."):
                    subprocess.run(["ip", "addr", "del", addr, "dev", BRIDGE], check=False)


@pytest.fixture(scope="module")
def nginx(cluster: Cluster) -> Cluster:
    """The textbook Pod Running and Ready, its pod IP known."""
    cluster.kubectl("wait", "--for=condition=Ready", "pod/nginx", "--timeout=120s", timeout=130)
    cluster.nginx_ip = cluster.status("nginx")["podIP"]
    return cluster


# ---------------------------------------------------------------------------------------------- the textbook pod

def test_the_textbook_pod_runs_and_serves_http_on_its_pod_ip(nginx: Cluster) -> None:
    st = nginx.status("nginx")
    assert st["phase"] == "Running" and st["podIP"].startswith("10.42.")
    cs = nginx.container("nginx")
    assert cs["ready"] and cs["containerID"].startswith("crun://")
    assert cs["image"] == "docker.io/library/nginx:latest" and cs["imageID"].startswith("docker.io/library/nginx@")
    assert "Welcome to nginx!" in http_get(f"http://{nginx.nginx_ip}/")
    assert re.search(r"^nginx\s+1/1\s+Running\s+0\s", nginx.kubectl("get", "pods").stdout, re.M)


@pytest.mark.parametrize("version", VERSIONS)
def test_logs_and_exec(nginx: Cluster, version: str) -> None:
    http_get(f"http://{nginx.nginx_ip}/index.html")
    logs = nginx.kubectl("logs", "nginx", version=version).stdout
    assert '"GET /index.html HTTP/1.1" 200' in logs and "start worker process" in logs
    ls = nginx.kubectl("exec", "nginx", "--", "ls", "/", version=version).stdout.split()
    assert {"bin", "etc", "usr", "proc", "tmp"} <= set(ls)


def test_exec_interactive_terminal(nginx: Cluster) -> None:
    out, code = terminal_session(kubectl_cmd(nginx, "1.32", "exec", "-it", "nginx", "--", "sh"), env(nginx),
                                 rows=31, cols=101, conversation=[(b"#", b"stty size; tty; echo $((6*7))\n"),
                                                                  (b"42\r\n", b"exit 7\n")])
    assert b"31 101" in out and b"/dev/pts/" in out, out
    assert code == 7, out


def test_cp_both_ways(nginx: Cluster, tmp_path: Path) -> None:
    src = tmp_path / "page.html"
    src.write_bytes(b"<h1>copied</h1>\n" + os.urandom(200_000).hex().encode())
    nginx.kubectl("cp", str(src), "nginx:/usr/share/nginx/html/page.html", timeout=120)
    assert http_get(f"http://{nginx.nginx_ip}/page.html").encode() == src.read_bytes()   # nginx serves it
    back = tmp_path / "back.html"
    nginx.kubectl("cp", "nginx:/usr/share/nginx/html/page.html", str(back), timeout=120)
    assert back.read_bytes() == src.read_bytes()


def test_port_forward(nginx: Cluster) -> None:
    local = free_port()
    pf = subprocess.Popen(kubectl_cmd(nginx, "1.32", "port-forward", "pod/nginx", f"{local}:80"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(nginx))
    try:
        assert pf.stdout is not None
        line = pf.stdout.readline()
        assert line.startswith(f"Forwarding from 127.0.0.1:{local} -> 80"), line
        for _ in range(3):                                  # one connection each
            assert "Welcome to nginx!" in http_get(f"http://127.0.0.1:{local}/")
    finally:
        pf.terminate()
        pf.wait(10)


def test_python_client_exec_and_port_forward(nginx: Cluster) -> None:
    from kubernetes import client
    from kubernetes.stream import portforward, stream
    api = client.CoreV1Api(nginx.server.client())
    out = stream(api.connect_get_namespaced_pod_exec, "nginx", "default", command=["cat", "/etc/hostname"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out.strip() == "nginx"
    ws = stream(api.connect_get_namespaced_pod_exec, "nginx", "default", command=["sh", "-c", "echo e >&2; exit 4"],
                stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    ws.run_forever(timeout=30)
    assert ws.returncode == 4 and ws.read_stderr() == "e\n"
    pf = portforward(api.connect_get_namespaced_pod_portforward, "nginx", "default", ports="80")
    sock = pf.socket(80)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: nginx\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK") and b"Welcome to nginx!" in data


def test_logs_of_a_finished_job_pod(cluster: Cluster) -> None:
    cluster.kubectl("wait", "--for=condition=complete", "job/hello", "--timeout=120s", timeout=130)
    (p,) = cluster.json("get", "pods", "-l", "job-name=hello")["items"]
    assert p["status"]["phase"] == "Succeeded"
    assert re.search(rf"^{p['metadata']['name']}\s+0/1\s+Completed\s", cluster.kubectl("get", "pods").stdout, re.M)
    for version in ("1.27", "1.32"):
        assert cluster.kubectl("logs", "job/hello", version=version).stdout == "hello from the job\n"


# ---------------------------------------------------------------------------------------------- failures and probes

def test_a_container_exiting_1_goes_to_crash_loop_back_off(cluster: Cluster) -> None:
    def shown() -> bool:
        line = next(x for x in cluster.kubectl("get", "pods").stdout.splitlines() if x.startswith("crash "))
        return line.split()[2] == "CrashLoopBackOff"
    wait_for(shown, timeout=90, what="CrashLoopBackOff in kubectl get pods", node=cluster)
    cs = cluster.container("crash")
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff" and cs["restartCount"] >= 1
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["lastState"]["terminated"]["reason"] == "Error"
    assert cluster.kubectl("logs", "crash", "--previous").stdout == "crashing\n"
    assert ("BackOff", "Back-off restarting failed container app in pod crash_default("
            f"{cluster.json('get', 'pod', 'crash')['metadata']['uid']})") in cluster.events("crash")


def test_a_container_over_its_memory_limit_is_oom_killed(cluster: Cluster) -> None:
    def killed() -> dict[str, Any]:
        term = (cluster.container("oom").get("lastState") or {}).get("terminated") or {}
        assert term.get("reason") == "OOMKilled", term
        return term
    term = wait_for(killed, timeout=90, what="lastState.terminated.reason OOMKilled", node=cluster)
    assert term["exitCode"] == 137
    assert "survived" not in cluster.kubectl("logs", "oom", "--previous").stdout


def test_a_failing_liveness_probe_restarts_the_container(cluster: Cluster) -> None:
    def restarted() -> dict[str, Any]:
        cs = cluster.container("live")
        assert cs.get("restartCount", 0) >= 1, cs
        return cs
    cs = wait_for(restarted, timeout=90, what="a liveness restart", node=cluster)
    assert cs["lastState"]["terminated"]["exitCode"] == 137         # sh as PID 1 ignores SIGTERM: killed
    evs = cluster.events("live")
    assert ("Killing", "Container app failed liveness probe, will be restarted") in evs
    assert any(r == "Unhealthy" and m.startswith("Liveness probe failed: cat: can't open '/tmp/healthy'")
               for r, m in evs), evs


def test_a_failing_readiness_probe_makes_the_pod_not_ready_and_leaves_endpoints(cluster: Cluster) -> None:
    def endpoints() -> tuple[list[str], list[str]]:
        subsets = cluster.json("get", "endpoints", "ready").get("subsets") or [{}]
        return ([a["ip"] for s in subsets for a in s.get("addresses") or ()],
                [a["ip"] for s in subsets for a in s.get("notReadyAddresses") or ()])

    cluster.kubectl("wait", "--for=condition=Ready", "pod/ready", "--timeout=90s", timeout=100)
    ip = cluster.status("ready")["podIP"]
    wait_for(lambda: endpoints() == ([ip], []), timeout=30, what="the pod in the Endpoints", node=cluster)
    cluster.kubectl("exec", "ready", "--", "rm", "/tmp/ready")
    wait_for(lambda: endpoints() == ([], [ip]), timeout=30, what="the pod out of the Endpoints",
             node=cluster)
    cs = cluster.container("ready")
    assert not cs["ready"] and "running" in cs["state"] and cs["restartCount"] == 0
    assert re.search(r"^ready\s+0/1\s+Running\s", cluster.kubectl("get", "pods").stdout, re.M)
    conds = {c["type"]: c["status"] for c in cluster.status("ready")["conditions"]}
    assert conds["Ready"] == "False" and conds["ContainersReady"] == "False"


# ---------------------------------------------------------------------------------------------- deletion, restarts

def test_deleting_a_pod_runs_pre_stop_and_stops_within_the_grace_period(cluster: Cluster) -> None:
    volumes = [{"name": "host", "hostPath": {"path": str(cluster.host_dir), "type": "Directory"}}]

    def writer(name: str, script: str, grace: int) -> dict[str, Any]:
        """A pod whose container and preStop hook append to the host file ``<host_dir>/<name>``."""
        hook = {"preStop": {"exec": {"command": ["sh", "-c", f"echo prestop >> /host/{name}"]}}}
        return pod(name, {"volumeMounts": [{"name": "host", "mountPath": "/host"}], "lifecycle": hook,
                          "command": ["sh", "-c", f"echo started >> /host/{name}; {script}"]},
                   grace=grace, volumes=volumes)

    # handles SIGTERM (which comes after its preStop hook): gone long before its 30 s grace period ends
    polite = writer("polite", "trap 'echo term >> /host/polite; exit 0' TERM; while true; do sleep 1; done", 30)
    # ignores SIGTERM (sleep as PID 1): killed when its 3 s grace period ends
    stubborn = writer("stubborn", "exec sleep 100000", 3)
    for p in (polite, stubborn):
        cluster.kubectl("apply", "-f", "-", input=json.dumps(p))
    for name in ("polite", "stubborn"):
        cluster.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=90s", timeout=100)
    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "polite", "--wait=true", timeout=60)
    polite_s = time.monotonic() - t0
    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "stubborn", "--wait=true", timeout=60)
    stubborn_s = time.monotonic() - t0
    assert (cluster.host_dir / "polite").read_text() == "started\nprestop\nterm\n"
    assert (cluster.host_dir / "stubborn").read_text() == "started\nprestop\n"
    assert polite_s < 10, polite_s
    assert 2.5 <= stubborn_s < 3 + 5, stubborn_s
    assert cluster.kubectl("get", "pod", "polite", "stubborn", check=False).returncode != 0


def test_the_nodes_containers_survive_an_agent_restart(nginx: Cluster) -> None:
    c = nginx
    before = c.container("nginx")
    cid = before["containerID"].removeprefix("crun://")
    recs = {r.id: r for r in h.records.load_all(c.data / "agent" / "runtime" / "containers")}
    nginx_pid = recs[cid].pid
    (agent,) = agent_pids(c.data)
    os.kill(agent, signal.SIGKILL)
    wait_for(lambda: agent_pids(c.data) not in ([], [agent]), timeout=60, what="the server to restart its agent",
             node=c)
    assert os.path.exists(f"/proc/{nginx_pid}"), "nginx died with the agent"

    def resynced() -> dict[str, Any]:
        node = c.json("get", "nodes")["items"][0]
        ready = {x["type"]: x for x in node["status"]["conditions"]}["Ready"]
        assert ready["status"] == "True", ready
        cs = c.container("nginx")
        assert cs["ready"], cs
        return cs
    wait_for(resynced, timeout=90, what="the new agent to report the pod", node=c)
    time.sleep(2)                                           # let the new agent sync every pod at least once
    after = c.container("nginx")
    assert (after["containerID"], after["restartCount"]) == (before["containerID"], before["restartCount"])
    assert after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"]
    assert os.path.exists(f"/proc/{nginx_pid}")
    assert "Welcome to nginx!" in http_get(f"http://{c.nginx_ip}/")
    assert {"etc", "usr"} <= set(c.kubectl("exec", "nginx", "--", "ls", "/").stdout.split())     # the new kubelet
