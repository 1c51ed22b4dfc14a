"""Shared pieces of the OCI runtime's e2e tests: prerequisites (fail in CI, skip elsewhere), the project's test
images in a local registry, a runtime on a private root, and pod/container records to drive it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pybernetes.kubelet.images import config as images_config
from pybernetes.kubelet.images.puller import ImagePuller
from pybernetes.kubelet.images.store import ImageStore
from pybernetes.kubelet.runtime.interface import ContainerConfig, ContainerState, ContainerStatus, PodSandboxConfig
from pybernetes.kubelet.runtime.oci import cgroups, records, rootfs
from pybernetes.kubelet.runtime.oci.client import OCIConfig, OCIRuntime
from pybernetes.kubelet.runtime.oci.shimclient import shim_command
from pybernetes.testing import images as ti

Obj = dict[str, Any]


def require(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide {what} (tools/install-deps.sh)")
        pytest.skip(f"needs {what}")


def require_node_prerequisites(runtime: str = "crun") -> None:
    require(os.geteuid() == 0, "root (containers, mounts, network namespaces)")
    for binary, package in ((runtime, runtime), ("ip", "iproute2")):
        require(shutil.which(binary) is not None, f"{binary} (Debian package {package})")
    for path, package in ((ti.BUSYBOX, "busybox-static"), (ti.DOCKER_REGISTRY, "docker-registry"),
                          (ti.NGINX, "nginx-light")):
        require(os.path.exists(path), f"{path} (Debian package {package})")


def host_checks(runtime: str = "crun") -> None:
    """The agent's own host checks and fixes (hybrid cgroups for crun, ...), as a node would run them."""
    from pybernetes.kubelet.runtime.oci import host
    failed = [c for c in host.check_host(runtime=runtime) if not c.ok and c.name in ("oci-runtime", "cgroups",
                                                                                      "overlayfs")]
    if failed:
        pytest.fail("host checks failed: " + "; ".join(f"{c.name}: {c.message}" for c in failed))


@dataclass
class Registry:
    local: ti.LocalRegistry
    registries_yaml: Path


@dataclass
class Shim:
    root: Path
    proc: subprocess.Popen[bytes]
    runtime: str = "crun"


def registry_fixture(tmp: Path) -> Iterator[Registry]:
    images = ti.build_test_images()
    local = ti.start_registry(tmp / "registry")
    try:
        asyncio.run(ti.push_images(local, images))
        yield Registry(local=local, registries_yaml=ti.write_registries_yaml(tmp / "registries.yaml", local))
    finally:
        ti.stop_registry(local)


def start_shim(root: Path, runtime: str = "crun") -> Shim:
    """A shim for the module (the runtime would start one itself; tests own this one and stop it)."""
    root.mkdir(parents=True, exist_ok=True)
    log = open(root / "shim.log", "ab")
    proc = subprocess.Popen(shim_command(root, root / "shim.sock", runtime), stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, start_new_session=True)
    log.close()
    deadline = time.monotonic() + 20
    while not _answers(root / "shim.sock"):
        if time.monotonic() > deadline:
            raise RuntimeError("shim did not start: " + (root / "shim.log").read_text(errors="replace")[-2000:])
        time.sleep(0.02)
    return Shim(root=root, proc=proc, runtime=runtime)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


def stop_shim(shim: Shim) -> None:
    cleanup_root(shim.root, shim.runtime)
    with contextlib.suppress(subprocess.TimeoutExpired):
        shim.proc.wait(5)


def cleanup_root(root: Path, runtime: str = "crun") -> None:
    """Remove every sandbox through the runtime and shut the shim down with its containers; then make sure,
    whatever happened in the tests, that no process, mount, netns or cgroup of this root is left on the host."""
    async def shutdown() -> None:
        rt = OCIRuntime(OCIConfig(root=root, runtime=runtime), images=ImagePuller(ImageStore(root / "unused-images")))
        try:
            for sb in await rt.list_pod_sandboxes():
                await rt.stop_pod_sandbox(sb.id)
                await rt.remove_pod_sandbox(sb.id)
        finally:
            await rt.shutdown_shim(kill_containers=True)
            await rt.images.close()

    try:
        asyncio.run(shutdown())
    except Exception:
        pass
    pid = shim_pid(root)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    force_cleanup(root)


def shim_pid(root: Path) -> int | None:
    """The pid of the shim serving ``root`` if it still runs (checked by its command line, never a reused pid)."""
    try:
        pid = int((root / "shim.lock").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    return pid if b"shim" in cmdline and str(root).encode() in cmdline else None


def force_cleanup(root: Path) -> None:
    """Everything the records under ``root`` name, removed without the shim: processes (by cgroup), runtime
    state, overlay and shm mounts, network namespaces, cgroups."""
    layout = cgroups.host_layout()
    recs = records.load_all(root / "containers")
    for rec in recs:
        for d in layout.dirs(rec.cgroup) if rec.cgroup else ():
            with contextlib.suppress(OSError):
                for pid in (d / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
    for rec in recs:
        for runtime in ("crun", "runc"):
            if (root / runtime).is_dir():
                subprocess.run([runtime, "--root", str(root / runtime), "delete", "--force", rec.id],
                               capture_output=True, check=False)
        with contextlib.suppress(OSError):
            rootfs.unmount(Path(rec.bundle) / "rootfs")
        meta = rec.meta
        if meta.get("kind") == "sandbox":
            with contextlib.suppress(OSError):
                rootfs.unmount(Path(str(meta.get("dir", ""))) / "shm")
            if meta.get("netns"):
                subprocess.run(["ip", "netns", "delete", os.path.basename(str(meta["netns"]))], capture_output=True,
                               check=False)
            if meta.get("cgroup_parent"):
                with contextlib.suppress(OSError, ValueError):
                    cgroups.remove_tree(layout, str(meta["cgroup_parent"]))


async def make_runtime(shim: Shim, registry: Registry, images_root: Path, log_root: Path, *,
                       runtime: str = "crun") -> OCIRuntime:
    puller = ImagePuller(ImageStore(images_root), registries=images_config.load(registry.registries_yaml))
    rt = OCIRuntime(OCIConfig(root=shim.root, runtime=runtime, log_root=log_root, node_hostname="testnode",
                              memory_capacity=8 << 30), images=puller)
    await rt.start()
    return rt


def pod(name: str = "", *, namespace: str = "default", spec: Obj | None = None, qos: str = "BestEffort") -> Obj:
    return {"metadata": {"name": name or f"p-{uuid.uuid4().hex[:8]}", "namespace": namespace,
                         "uid": str(uuid.uuid4())},
            "spec": {"containers": [], **(spec or {})}, "status": {"qosClass": qos}}


def sandbox_config(p: Obj) -> PodSandboxConfig:
    meta = p["metadata"]
    return PodSandboxConfig(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"], node_name="testnode",
                            hostname=meta["name"], pod=p)


def container(name: str, image: str, *, command: tuple[str, ...] = (), args: tuple[str, ...] = (),
              attempt: int = 0, spec: Obj | None = None, env: tuple[tuple[str, str], ...] = ()) -> ContainerConfig:
    return ContainerConfig(name=name, image=image, attempt=attempt, command=command, args=args, env=env,
                           working_dir=(spec or {}).get("workingDir", ""),
                           spec={"name": name, "image": image, **(spec or {})})


async def until(check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_exit(rt: OCIRuntime, cid: str, timeout: float = 20.0) -> ContainerStatus:
    async def done() -> ContainerStatus | None:
        st = await rt.container_status(cid)
        return st if st is not None and st.state == ContainerState.EXITED else None
    result: ContainerStatus = await until(done, timeout=timeout, what=f"container {cid[:12]} to exit")
    return result


def have(binary: str) -> bool:
    return shutil.which(binary) is not None or os.path.exists(f"/usr/sbin/{binary}")


def read(path: Path | str) -> bytes:
    """A file's bytes, b"" if it does not exist (yet)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def unmount_under(root: Path) -> None:
    """Lazily unmount every mount below ``root`` (deepest first)."""
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        with contextlib.suppress(OSError):
            rootfs.unmount(point)


def exists(path: Path | str) -> bool:
    return os.path.lexists(path)


def ismount(path: Path | str) -> bool:
    return os.path.ismount(path)


def realpath(path: Path | str) -> str:
    return os.path.realpath(path)
