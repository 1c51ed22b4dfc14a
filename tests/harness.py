"""Starting real pybernetes servers for tests and driving them with the real kubectl and Python client."""

from __future__ import annotations

import base64
import functools
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
READY = re.compile(r"pybernetes server is ready: (\S+) \(kubeconfig: (.+)\)")


def kubectl_dir() -> pathlib.Path:
    exe = shutil.which("kubectl")
    if exe is None:
        raise RuntimeError("kubectl is not installed")
    return pathlib.Path(os.path.realpath(exe)).parent


DEFAULT_KUBECTL = "1.32"          # plain `kubectl` here is a dispatcher; the brief's default version is 1.32


def kubectl_binary(version: str | None = None) -> str:
    version = version or DEFAULT_KUBECTL
    path = kubectl_dir() / f"kubectl.{version}"
    if not path.exists():
        raise RuntimeError(f"kubectl {version} is not installed at {path}")
    return str(path)


@dataclass
class Server:
    data_dir: pathlib.Path
    proc: subprocess.Popen
    url: str
    kubeconfig: pathlib.Path
    token: str
    log: list[str] = field(default_factory=list)
    controllers: bool = True            # False when started with --disable-controller-manager

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kubectl(self, *args: str, version: str | None = None, input: str | None = None, check: bool = True,
                timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        cache = self.data_dir / f"kubectl-cache-{version or 'default'}"
        cmd = [kubectl_binary(version), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(cache), *args]
        full_env = {**os.environ, "HOME": str(self.data_dir), **(env or {})}
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=full_env)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\nstdout: {p.stdout}\n"
                                 f"stderr: {p.stderr}")
        return p

    @functools.cached_property
    def session(self) -> Any:  # -> requests.Session
        """HTTPS as the admin (the kubeconfig's client certificate), for fixtures: no kubectl process per call."""
        import requests
        import yaml
        kc = yaml.safe_load(self.kubeconfig.read_text())
        cluster, user = kc["clusters"][0]["cluster"], kc["users"][0]["user"]
        paths = {}
        for name, key in (("ca", cluster["certificate-authority-data"]), ("crt", user["client-certificate-data"]),
                          ("key", user["client-key-data"])):
            paths[name] = self.data_dir / f"harness-admin.{name}"
            paths[name].write_bytes(base64.b64decode(key))
        s = requests.Session()
        s.trust_env = False             # REQUESTS_CA_BUNDLE in the environment would override `verify`
        s.verify = str(paths["ca"])
        s.cert = (str(paths["crt"]), str(paths["key"]))
        return s

    def create_namespace(self, name: str, *, timeout: float = 60) -> None:
        """Create a namespace and, when controllers run, wait until it is ready for use as upstream's e2e framework
        waits (WaitForDefaultServiceAccountInNamespace, WaitForKubeRootCAInNamespace): the ``default``
        ServiceAccount and the ``kube-root-ca.crt`` ConfigMap exist, so they never show up halfway through a test
        that lists or watches the namespace, and pods are not refused for a missing ServiceAccount."""
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        r = self.session.post(f"{self.url}/api/v1/namespaces", json=body, timeout=30)
        if r.status_code != 201:
            raise AssertionError(f"creating namespace {name} failed ({r.status_code}): {r.text[:500]}")
        if not self.controllers:
            return
        deadline = time.monotonic() + timeout
        missing = [f"/api/v1/namespaces/{name}/serviceaccounts/default",
                   f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt"]
        while missing:
            missing = [path for path in missing if self.session.get(self.url + path, timeout=30).status_code != 200]
            if missing:
                if time.monotonic() > deadline:
                    raise AssertionError(f"namespace {name} never got {missing}")
                time.sleep(0.05)

    def client(self):  # -> kubernetes.client.ApiClient
        from kubernetes import client, config
        cfg = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)
        return client.ApiClient(cfg)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def start_server(data_dir: pathlib.Path, *extra: str, token: str = "test-token", timeout: float = 60,
                 port: int = 0) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    kc = data_dir / "admin.kubeconfig"
    cmd = [sys.executable, "-m", "pybernetes", "server", "--data-dir", str(data_dir), "--bind-address", "127.0.0.1",
           "--port", str(port), "--write-kubeconfig", str(kc), "--token", token, "--disable-agent", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    url = None
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        m = READY.search(line)
        if m:
            url = m.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError("server did not start:\n" + "".join(lines))
    srv = Server(data_dir=data_dir, proc=proc, url=url, kubeconfig=kc, token=token, log=lines,
                 controllers="--disable-controller-manager" not in extra)

    def drain() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if len(lines) > 5000:
                del lines[:1000]

    threading.Thread(target=drain, daemon=True).start()
    return srv
