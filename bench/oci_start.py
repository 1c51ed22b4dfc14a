"""Container start latency: the OCI runtime alone (the floor) against the node's runtime (shim + OCIRuntime).

    sudo .venv/bin/python -m bench.oci_start [--n 50] [--runtime crun|runc]

Each row starts ``n`` containers running ``sleep`` one after the other and reports p50/p99 of the time until the
call returned with the process running (teardown is not timed):

- ``<runtime> run -d``: the bare runtime from a shell-like caller, root = the pause root (the floor);
- ``shim create+start``: the same container through the shim's API (JSON over its unix socket; spawn, stdio
  FIFOs, CRI log file, records);
- ``OCIRuntime create+start``: what a pod worker calls — config.json from the pod and image, the user looked up
  in the image, an overlay root over the image's layers (busybox, pulled from a local registry first);
- ``run_pod_sandbox``: netns (``ip netns add``), pod files, shm tmpfs and pause container (loopback network, no
  CNI).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from pybernetes.kubelet.images import config as images_config
from pybernetes.kubelet.images.puller import ImagePuller
from pybernetes.kubelet.images.store import ImageStore
from pybernetes.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig
from pybernetes.kubelet.runtime.oci import cgroups, host, rootfs, spec
from pybernetes.kubelet.runtime.oci.client import OCIConfig, OCIRuntime
from pybernetes.testing import images as ti


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s) * 1000, s[min(len(s) - 1, int(len(s) * 0.99))] * 1000


def floor(binary: str, name: str, work: Path, pause: Path, n: int) -> list[float]:
    bundle = work / "floor"
    bundle.mkdir(parents=True)
    cfg = spec.sandbox_spec(pod={}, args=("/bin/busybox", "sleep", "1000"), rootfs=str(pause), hostname="b",
                            netns="", cgroups_path="/pybernetes/bench/floor",
                            min_oom_score_adj=host.min_oom_score_adj())
    cfg["linux"]["namespaces"].append({"type": "network"})
    out: list[float] = []
    state = str(work / "state")
    for i in range(n):
        cid = f"bench-floor-{i}"
        cfg["linux"]["cgroupsPath"] = f"/pybernetes/bench/{cid}"
        (bundle / "config.json").write_text(json.dumps(cfg))
        t0 = time.perf_counter()
        subprocess.run([binary, "--root", state, "run", "-d", "--bundle", str(bundle), cid], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - t0)
        subprocess.run([binary, "--root", state, "delete", "--force", cid], check=False, capture_output=True)
    return out


async def timed(n: int, start: Callable[[int], Awaitable[object]]) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        await start(i)
        out.append(time.perf_counter() - t0)
    return out


async def ours(work: Path, runtime: str, n: int) -> dict[str, list[float]]:
    reg = ti.start_registry(work / "registry")
    try:
        await ti.push_images(reg, [i for i in ti.build_test_images() if "busybox" in i.name])
        yaml = ti.write_registries_yaml(work / "registries.yaml", reg)
        puller = ImagePuller(ImageStore(work / "images"), registries=images_config.load(yaml))
        rt = OCIRuntime(OCIConfig(root=work / "runtime", runtime=runtime, log_root=work / "log"), images=puller)
        await rt.start()
        try:
            return await _measure(rt, n)
        finally:
            for sb in await rt.list_pod_sandboxes():
                await rt.stop_pod_sandbox(sb.id)
                await rt.remove_pod_sandbox(sb.id)
            await rt.shutdown_shim(kill_containers=True)
            await puller.close()
    finally:
        ti.stop_registry(reg)


async def _measure(rt: OCIRuntime, n: int) -> dict[str, list[float]]:
    pods: list[PodSandboxConfig] = []

    def pod(i: int) -> PodSandboxConfig:
        p = {"metadata": {"name": f"b{i}", "namespace": "bench", "uid": str(uuid.uuid4())}, "spec": {},
             "status": {"qosClass": "BestEffort"}}
        cfg = PodSandboxConfig(name=f"b{i}", namespace="bench", uid=p["metadata"]["uid"], node_name="n", pod=p)
        pods.append(cfg)
        return cfg

    sandboxes: list[str] = []

    async def sandbox(i: int) -> None:
        sandboxes.append((await rt.run_pod_sandbox(pod(i))).id)

    results = {"run_pod_sandbox": await timed(n, sandbox)}
    image = "docker.io/library/busybox:latest"
    await rt.pull_image(image, sandbox=pods[0])
    pause = rt._pause_rootfs
    sid = sandboxes[0]

    async def shim_start(i: int) -> None:
        cfg = spec.sandbox_spec(pod={}, args=("/bin/busybox", "sleep", "1000"), rootfs=pause, hostname="b",
                                netns="", cgroups_path=f"/pybernetes/bench/shim-{i}", min_oom_score_adj=rt.min_oom)
        cid = f"benchshim{i}"
        await rt.shim.create({"id": cid, "config": cfg, "rootfs": {"path": pause}, "log_path": "",
                              "meta": {"kind": "bench"}})
        await rt.shim.start(cid)

    results["shim create+start"] = await timed(n, shim_start)
    for i in range(n):
        await rt.shim.delete(f"benchshim{i}")

    async def full(i: int) -> None:
        c = ContainerConfig(name=f"c{i}", image=image, command=("sleep", "1000"), spec={"name": f"c{i}"})
        await rt.start_container(await rt.create_container(sid, c))

    results["OCIRuntime create+start"] = await timed(n, full)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--runtime", choices=("crun", "runc"), default="crun")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root")
    checks = host.check_host(runtime=a.runtime)
    host.require([c for c in checks if c.name in ("oci-runtime", "cgroups")])
    binary = host.Host().which(a.runtime) or a.runtime
    work = Path(tempfile.mkdtemp(prefix="oci-bench-"))
    try:
        pause = rootfs.make_pause_rootfs(work / "pause")
        rows = {f"{a.runtime} run -d": floor(binary, a.runtime, work, pause, a.n)}
        rows.update(asyncio.run(ours(work, a.runtime, a.n)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        cgroups.remove_tree(cgroups.host_layout(), "/pybernetes/bench")
    base = percentiles(rows[f"{a.runtime} run -d"])[0]
    print(f"{'':28} {'p50 ms':>8} {'p99 ms':>8} {'p50 ratio':>10}")
    for name, samples in rows.items():
        p50, p99 = percentiles(samples)
        print(f"{name:28} {p50:8.1f} {p99:8.1f} {p50 / base:10.2f}")


if __name__ == "__main__":
    main()
