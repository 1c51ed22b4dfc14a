"""``OCIRuntime``: the :class:`~pybernetes.kubelet.runtime.interface.Runtime` of a real node — the CRI plugin's
half of containerd, in the agent, driving the shim (the other half) over its socket.

The agent decides *what* runs; this module turns it into host facts: the sandbox (netns, pod network, pod
files, pause container — ``sandbox``), each container's ``config.json`` (``spec``: user from the image's
``/etc/passwd``, namespaces of the pause process, the pod's cgroup by QoS class, mounts), its root (the image's
layers for the shim's overlay), its CRI log path and ``/var/log/containers`` link, and reads back what the shim
recorded — state, exit code, ``OOMKilled``, times, the termination message. Everything a restarted agent needs is
in the shim's records (``meta``), so :meth:`list_pod_sandboxes` and :meth:`list_containers` after a restart give
the same ids, attempts and states as before: pod workers adopt them instead of starting over.

Container exits reach pod workers through the shim's event stream (the PLEG): a handler is called with the pod
UID. If the shim dies it is started again and every known pod is poked to re-sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import resource
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pybernetes.api.kinds.resource_list import pod_qos_class
from pybernetes.client.clock import REAL, Clock
from pybernetes.kubelet.images.puller import ImagePuller
from pybernetes.kubelet.images.store import StoreError
from pybernetes.kubelet.network.dnsfiles import CLUSTER_DNS, CLUSTER_DOMAIN
from pybernetes.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    ExecResult,
    ImageRef,
    PodEventHandler,
    PodSandboxConfig,
    Runtime,
    RuntimeFailure,
    SandboxFailure,
    SandboxStatus,
    StreamIO,
)
from pybernetes.kubelet.runtime.oci import cgroups, host, logs, netns, rootfs, sandbox, spec, stats
from pybernetes.kubelet.runtime.oci.shimclient import ShimCallError, ShimClient, ShimUnavailable, ensure_shim
from pybernetes.kubelet.runtime.oci.streams import Resizes, run_session, wants_stdin
from pybernetes.kubelet.runtime.oci.termination import termination_message

log = logging.getLogger(__name__)
Obj = dict[str, Any]
STATES = {"created": ContainerState.CREATED, "running": ContainerState.RUNNING, "exited": ContainerState.EXITED}
SANDBOX, CONTAINER = "sandbox", "container"
EVENTS_RETRY = (0.2, 5.0)


@dataclass(frozen=True, slots=True)
class OCIConfig:
    root: Path                                       # <agent data-dir>/runtime: the shim's state
    runtime: str = "crun"                            # crun | runc
    log_root: Path = Path("/var/log")                # pods/ and containers/ below it
    cluster_dns: tuple[str, ...] = CLUSTER_DNS
    cluster_domain: str = CLUSTER_DOMAIN
    node_hostname: str = ""
    memory_capacity: int = 0                         # bytes, for Burstable oom_score_adj
    cgroup_parent: str = cgroups.PARENT              # pods' cgroups go below (per agent: /pybernetes/<node>)
    shim_command: tuple[str, ...] = ()               # how to start the shim (default: this Python, -m pybernetes)


def _ts(ns: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)


def _id() -> str:
    return secrets.token_hex(32)


class OCIRuntime:
    def __init__(self, config: OCIConfig, *, images: ImagePuller, network: sandbox.PodNetwork | None = None,
                 clock: Clock = REAL) -> None:
        self.config = config
        self.images = images
        self.network: sandbox.PodNetwork = network or sandbox.LoopbackNetwork()
        self.clock = clock
        self.runtime_name = config.runtime
        self.runtime_version = ""
        self.shim = ShimClient(config.root / "shim.sock")
        self.layout = cgroups.host_layout()
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.all_caps = host.bounding_caps()
        self.min_oom = host.min_oom_score_adj()
        self._handlers: list[PodEventHandler] = []
        self._events: asyncio.Task[None] | None = None
        self._pause_rootfs = ""
        self._messages: dict[str, str] = {}
        self._shim_started = asyncio.Lock()

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Make sure the shim runs (start it if not), learn the runtime's version, follow the shim's events."""
        await self._ensure_shim()
        self._pause_rootfs = str(await asyncio.to_thread(rootfs.make_pause_rootfs, self.config.root / "pause"))
        if self._events is None:
            self._events = asyncio.get_running_loop().create_task(self._follow_events(), name="shim-events")

    async def _ensure_shim(self) -> None:
        async with self._shim_started:
            info = await ensure_shim(self.shim, root=self.config.root, runtime=self.config.runtime,
                                     command=self.config.shim_command or None)
        if info.get("runtime") != self.config.runtime:
            raise RuntimeFailure(f"the shim at {self.shim.socket_path} runs {info.get('runtime')}, "
                                 f"not {self.config.runtime}")
        self.runtime_version = str(info.get("version") or "")

    async def close(self) -> None:
        """Stop talking to the shim; it and the containers keep running (a restarted agent adopts them)."""
        if self._events is not None:
            self._events.cancel()
            await asyncio.gather(self._events, return_exceptions=True)
            self._events = None
        await self.shim.close()

    async def shutdown_shim(self, *, kill_containers: bool) -> None:
        """Stop the shim (tests, node teardown), and with ``kill_containers`` every container first."""
        with contextlib.suppress(ShimUnavailable):
            await self.shim.shutdown(kill_containers=kill_containers)
        await self.close()

    def subscribe(self, handler: PodEventHandler) -> None:
        self._handlers.append(handler)

    def _notify(self, pod_uid: str) -> None:
        for h in self._handlers:
            try:
                h(pod_uid)
            except Exception:
                log.exception("runtime event handler failed", extra={"pod_uid": pod_uid})

    async def _follow_events(self) -> None:
        delay = EVENTS_RETRY[0]
        reconnect = False
        while True:
            try:
                async for ev in self.shim.events():
                    delay = EVENTS_RETRY[0]
                    if ev.get("type") == "hello":
                        if reconnect:             # missed events while away: every pod looks again
                            for rec in await self.shim.list():
                                self._notify(str((rec.get("meta") or {}).get("pod_uid", "")))
                        continue
                    uid = str((ev.get("meta") or {}).get("pod_uid", ""))
                    if uid:
                        self._notify(uid)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("runtime shim event stream broken; reconnecting", extra={"error": str(e)})
            reconnect = True
            await self.clock.sleep(delay)
            delay = min(delay * 2, EVENTS_RETRY[1])
            with contextlib.suppress(Exception):
                await self._ensure_shim()

    async def _call(self, coro: Any, *, reason: str = "") -> Any:
        try:
            return await coro
        except ShimUnavailable as e:
            raise RuntimeFailure(str(e), reason=reason or None) from None
        except ShimCallError as e:
            raise RuntimeFailure(str(e), reason=reason or None) from None

    # ------------------------------------------------------------------------------------------ sandboxes
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxStatus:
        pod = config.pod
        pspec = pod.get("spec") or {}
        host_net, host_ipc = bool(pspec.get("hostNetwork")), bool(pspec.get("hostIPC"))
        sid = _id()
        qos = (pod.get("status") or {}).get("qosClass") or pod_qos_class(pspec)
        parent = cgroups.pod_cgroup(config.uid, qos, parent=self.config.cgroup_parent)
        d = sandbox.SandboxDir(self.config.root / "sandboxes" / sid)
        ns_name = sandbox.netns_name(sid)
        ns_path = ""
        ips: list[str] = []
        created = False
        try:
            if not host_net:
                ns_path = await sandbox.create_netns(ns_name)
                ips = await self.network.setup(ns_path, container_id=sid, pod=pod, pod_cidr=config.pod_cidr)
            await asyncio.to_thread(self._write_files, d, pod, ips, host_ipc)
            hostname = (d.path / "hostname").read_text().strip()
            config_json = spec.sandbox_spec(pod=pod, args=sandbox.PAUSE_ARGS, rootfs=self._pause_rootfs,
                                            hostname=hostname, netns=ns_path,
                                            cgroups_path=cgroups.container_cgroup(parent, sid),
                                            min_oom_score_adj=self.min_oom)
            meta = {"kind": SANDBOX, "pod_uid": config.uid, "pod_name": config.name,
                    "pod_namespace": config.namespace, "attempt": config.attempt, "netns": ns_path, "ips": ips,
                    "dir": str(d.path), "cgroup_parent": parent, "qos": qos, "host_network": host_net,
                    "host_ipc": host_ipc, "host_pid": bool(pspec.get("hostPID")),
                    "share_pid": bool(pspec.get("shareProcessNamespace")), "hostname": hostname,
                    "security_context": pspec.get("securityContext") or {}}
            await self.shim.create({"id": sid, "config": config_json, "rootfs": {"path": self._pause_rootfs},
                                    "log_path": "", "meta": meta})
            created = True
            rec = await self.shim.start(sid)
        except (OSError, RuntimeError, ShimCallError, spec.SpecError) as e:
            await self._teardown_sandbox(sid, d=d, ns_path=ns_path, pod=pod, parent="", created=created)
            raise SandboxFailure(f"failed to create pod sandbox: {e}") from None
        except BaseException:
            await asyncio.shield(self._teardown_sandbox(sid, d=d, ns_path=ns_path, pod=pod, parent="",
                                                        created=created))
            raise
        return self._sandbox_status(rec)

    def _write_files(self, d: sandbox.SandboxDir, pod: Obj, ips: Sequence[str], host_ipc: bool) -> None:
        sandbox.write_pod_files(d, pod, ips=ips, cluster_dns=self.config.cluster_dns,
                                cluster_domain=self.config.cluster_domain, node_hostname=self.config.node_hostname)
        if not host_ipc:
            sandbox.setup_shm(d)

    async def _teardown_sandbox(self, sid: str, *, d: sandbox.SandboxDir, ns_path: str, pod: Obj | None,
                                parent: str, created: bool) -> None:
        """Every step of a sandbox's removal, each tolerating that it was done before."""
        if created:
            with contextlib.suppress(ShimCallError):
                await self.shim.delete(sid)
        if ns_path:
            try:
                await self.network.teardown(ns_path, container_id=sid, pod=pod)
            except Exception as e:
                log.warning("pod network teardown failed", extra={"sandbox": sid, "error": str(e)})
            with contextlib.suppress(sandbox.NetnsError):
                await sandbox.delete_netns(os.path.basename(ns_path))
        await asyncio.to_thread(sandbox.remove_dir, d)
        if parent:
            await asyncio.to_thread(cgroups.remove_tree, self.layout, parent)

    async def _sandbox(self, sandbox_id: str) -> Obj:
        rec = await self._call(self.shim.get(sandbox_id))
        if rec is None or (rec.get("meta") or {}).get("kind") != SANDBOX:
            raise RuntimeFailure(f"pod sandbox {sandbox_id} not found")
        return dict(rec)

    def _sandbox_status(self, rec: Obj) -> SandboxStatus:
        meta = rec.get("meta") or {}
        return SandboxStatus(id=rec["id"], pod_uid=str(meta.get("pod_uid", "")), ready=rec.get("state") == "running",
                             ips=tuple(meta.get("ips") or ()), created_at=_ts(int(rec.get("created_at") or 0)))

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        rec = await self._call(self.shim.get(sandbox_id))
        if rec is None:
            return
        meta = rec.get("meta") or {}
        for c in await self._call(self.shim.list(sandbox_id=sandbox_id)):
            if c.get("state") == "running":
                await self._call(self.shim.stop(c["id"], 0))
        if rec.get("state") == "running":
            await self._call(self.shim.stop(sandbox_id, 2))
        if meta.get("netns"):
            try:
                await self.network.teardown(meta["netns"], container_id=sandbox_id, pod=None)
            except Exception as e:
                log.warning("pod network teardown failed", extra={"sandbox": sandbox_id, "error": str(e)})

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        rec = await self._call(self.shim.get(sandbox_id))
        if rec is None:
            return
        meta = rec.get("meta") or {}
        for c in await self._call(self.shim.list(sandbox_id=sandbox_id)):
            await self.remove_container(c["id"])
        await self._teardown_sandbox(sandbox_id, d=sandbox.SandboxDir(Path(meta.get("dir") or "")),
                                     ns_path=str(meta.get("netns") or ""), pod=None,
                                     parent=str(meta.get("cgroup_parent") or ""), created=True)
        pod_logs = logs.pod_log_dir(self.config.log_root, namespace=str(meta.get("pod_namespace", "")),
                                    name=str(meta.get("pod_name", "")), uid=str(meta.get("pod_uid", "")))
        with contextlib.suppress(OSError):
            os.rmdir(pod_logs)

    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus | None:
        rec = await self._call(self.shim.get(sandbox_id))
        if rec is None or (rec.get("meta") or {}).get("kind") != SANDBOX:
            return None
        return self._sandbox_status(rec)

    async def list_pod_sandboxes(self) -> list[SandboxStatus]:
        """Oldest first: a pod with two sandboxes (a crash between making a new one and removing the old) is
        adopted with its newest, the one a caller indexing by pod UID keeps."""
        recs = await self._call(self.shim.list(kind=SANDBOX))
        return [self._sandbox_status(r) for r in sorted(recs, key=lambda r: int(r.get("created_at") or 0))]

    # ------------------------------------------------------------------------------------------ images
    async def pull_image(self, image: str, *, sandbox: PodSandboxConfig, auth: Any = None) -> ImageRef:
        return await self.images.pull_image(image, policy="Always", auth=auth)

    async def image_status(self, image: str, *, node: str = "") -> ImageRef | None:
        return await self.images.image_status(image)

    async def list_images(self, *, node: str = "") -> list[ImageRef]:
        return await self.images.list_images()

    # ------------------------------------------------------------------------------------------ containers
    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sb = await self._sandbox(sandbox_id)
        meta_sb = sb.get("meta") or {}
        if sb.get("state") != "running":
            raise RuntimeFailure(f"pod sandbox {sandbox_id} is not running", reason="CreateContainerError")
        try:
            image_cfg, layers, ref = await asyncio.to_thread(self._image, config.image)
        except (StoreError, OSError) as e:
            raise RuntimeFailure(f"failed to get image {config.image}: {e}", reason="CreateContainerError") from None
        cid = _id()
        d = self.config.root / "containers" / cid
        try:
            config_json, stop_signal = await asyncio.to_thread(self._container_spec, cid, d, config, meta_sb,
                                                               image_cfg, layers, int(sb.get("pid") or 0))
        except spec.SpecError as e:
            await asyncio.to_thread(_rmtree, d)
            raise RuntimeFailure(str(e), reason="CreateContainerConfigError") from None
        c = config.spec
        log_path = logs.container_log_path(self.config.log_root, namespace=str(meta_sb.get("pod_namespace", "")),
                                           name=str(meta_sb.get("pod_name", "")), uid=str(meta_sb.get("pod_uid", "")),
                                           container=config.name, attempt=config.attempt)
        link = logs.container_log_link(self.config.log_root, namespace=str(meta_sb.get("pod_namespace", "")),
                                       name=str(meta_sb.get("pod_name", "")), container=config.name, container_id=cid)
        meta = {"kind": CONTAINER, "sandbox_id": sandbox_id, "pod_uid": meta_sb.get("pod_uid", ""),
                "name": config.name, "attempt": config.attempt, "image": ref.name, "image_ref": ref.id,
                "init": config.init, "labels": dict(config.labels), "annotations": dict(config.annotations),
                "termination_file": str(d / "termination-log"),
                "termination_policy": c.get("terminationMessagePolicy") or "File", "log_link": str(link)}
        body = {"id": cid, "config": config_json, "rootfs": {"lowerdirs": [str(p) for p in layers]},
                "log_path": str(log_path), "meta": meta, "stop_signal": stop_signal, "stdin": bool(c.get("stdin")),
                "stdin_once": bool(c.get("stdinOnce"))}
        try:
            await self.shim.create(body)
        except (ShimCallError, ShimUnavailable) as e:
            await asyncio.to_thread(_rmtree, d)
            raise RuntimeFailure(str(e), reason="CreateContainerError") from None
        await asyncio.to_thread(_link, link, log_path)
        return cid

    def _image(self, image: str) -> tuple[Any, list[Path], ImageRef]:
        ref = self.images.store.image_ref(image)
        if ref is None:
            raise StoreError(f"image {image!r} is not present")
        return self.images.image_config(image), self.images.rootfs_layers(image), ref

    def _container_spec(self, cid: str, d: Path, config: ContainerConfig, meta_sb: Obj, image_cfg: Any,
                        layers: list[Path], pause_pid: int) -> tuple[Obj, str]:
        """The container's ``config.json`` (and its stop signal); the pod-level facts come from the sandbox's
        meta, recorded when it was made (so a restarted agent builds the same containers)."""
        psc = meta_sb.get("security_context") or {}
        pod = {"metadata": {"name": meta_sb.get("pod_name"), "namespace": meta_sb.get("pod_namespace")},
               "spec": {"securityContext": psc}}
        c = config.spec
        sc = spec.merged_security_context(pod, c)
        supplemental = [int(g) for g in psc.get("supplementalGroups") or ()]
        if psc.get("fsGroup") is not None:
            supplemental.append(int(psc["fsGroup"]))
        user = rootfs.user_for([str(p) for p in layers], image_user=image_cfg.user, run_as_user=sc.get("runAsUser"),
                               run_as_group=sc.get("runAsGroup"), supplemental=supplemental)
        spec.check_run_as_non_root(sc, user, image_cfg.user)
        d.mkdir(parents=True, exist_ok=True)
        (d / "termination-log").touch()
        host_net, host_ipc = bool(meta_sb.get("host_network")), bool(meta_sb.get("host_ipc"))
        ns = spec.Namespaces(network="" if host_net else str(meta_sb.get("netns") or ""),
                             ipc="" if host_ipc or not pause_pid else f"/proc/{pause_pid}/ns/ipc",
                             uts="" if host_net or not pause_pid else f"/proc/{pause_pid}/ns/uts",
                             pid=f"/proc/{pause_pid}/ns/pid" if meta_sb.get("share_pid") and pause_pid else "",
                             host_pid=bool(meta_sb.get("host_pid")))
        files = sandbox.SandboxDir(Path(meta_sb.get("dir") or "")).files(host_ipc=host_ipc, host_network=host_net)
        files = spec.PodFiles(hosts=files.hosts, resolv_conf=files.resolv_conf, hostname=files.hostname,
                              shm=files.shm, termination_log=str(d / "termination-log"))
        config_json = spec.container_spec(
            config, pod=pod, image=image_cfg, user=user, files=files, ns=ns, rootfs=str(d / "rootfs"),
            cgroups_path=cgroups.container_cgroup(str(meta_sb.get("cgroup_parent") or cgroups.PARENT), cid),
            hostname=str(meta_sb.get("hostname") or ""), nofile=self.nofile, all_caps=self.all_caps,
            qos=str(meta_sb.get("qos") or "BestEffort"), memory_capacity=self.config.memory_capacity,
            host_ipc=host_ipc, min_oom_score_adj=self.min_oom,
            host_devices=rootfs.host_devices() if sc.get("privileged") else ())
        return config_json, image_cfg.stop_signal or "SIGTERM"

    async def start_container(self, container_id: str) -> None:
        await self._call(self.shim.start(container_id), reason="RunContainerError")

    async def stop_container(self, container_id: str, timeout: float) -> None:
        with contextlib.suppress(RuntimeFailure):
            rec = await self._call(self.shim.get(container_id))
            if rec is not None and rec.get("state") != "exited":
                await self._call(self.shim.stop(container_id, timeout))

    async def remove_container(self, container_id: str) -> None:
        rec = await self._call(self.shim.get(container_id))
        if rec is None:
            return
        await self._call(self.shim.delete(container_id))
        link = (rec.get("meta") or {}).get("log_link")
        if link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
        self._messages.pop(container_id, None)

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        rec = await self._call(self.shim.get(container_id))
        if rec is None or (rec.get("meta") or {}).get("kind") != CONTAINER:
            return None
        return await self._status(rec)

    async def list_containers(self, sandbox_id: str) -> list[ContainerStatus]:
        return [await self._status(r) for r in await self._call(self.shim.list(sandbox_id=sandbox_id))]

    async def _status(self, rec: Obj) -> ContainerStatus:
        meta = rec.get("meta") or {}
        state = STATES.get(str(rec.get("state")), ContainerState.UNKNOWN)
        code = rec.get("exit_code")
        reason, message = "", ""
        if state == ContainerState.EXITED:
            reason = str(rec.get("reason") or "")
            if reason in ("", "Unknown"):
                reason = "Completed" if code == 0 else "Error"
            cached = self._messages.get(rec["id"])
            if cached is None:
                cached = self._messages[rec["id"]] = await asyncio.to_thread(termination_message, rec)
            message = cached
        started = int(rec.get("started_at") or 0)
        finished = int(rec.get("finished_at") or 0)
        return ContainerStatus(id=rec["id"], name=str(meta.get("name", "")), attempt=int(meta.get("attempt") or 0),
                               state=state, image=str(meta.get("image", "")), image_ref=str(meta.get("image_ref", "")),
                               created_at=_ts(int(rec.get("created_at") or 0)),
                               started_at=_ts(started) if started else None,
                               finished_at=_ts(finished) if finished else None,
                               exit_code=code if state == ContainerState.EXITED else None, reason=reason,
                               message=message)

    async def container_stats(self, container_id: str) -> ContainerStats | None:
        rec = await self._call(self.shim.get(container_id))
        if rec is None or rec.get("state") != "running" or not rec.get("cgroup"):
            return None
        usage = await asyncio.to_thread(stats.read_usage, self.layout, str(rec["cgroup"]))
        if usage is None:
            return None
        return ContainerStats(timestamp=self.clock.now(), cpu_usage_core_nanoseconds=usage.cpu_ns,
                              memory_working_set_bytes=usage.memory_working_set)

    # ------------------------------------------------------------------------------------------ streaming
    async def container_log_path(self, container_id: str) -> str:
        rec = await self._call(self.shim.get(container_id))
        return str(rec.get("log_path") or "") if rec else ""

    async def exec_sync(self, container_id: str, cmd: Sequence[str], *, timeout: float) -> ExecResult:
        """Run ``cmd`` in the container and collect its output; ``TimeoutError`` when it outlives ``timeout``
        (it is killed), as the CRI's ExecSync ends with DeadlineExceeded."""
        code, out, err, timed_out = await self._call(self.shim.exec_sync(container_id, cmd, timeout=timeout))
        if timed_out:
            raise TimeoutError(f"command {list(cmd)!r} timed out after {timeout:g}s")
        return ExecResult(exit_code=code, stdout=out, stderr=err)

    async def exec(self, container_id: str, cmd: Sequence[str], streams: StreamIO, *, tty: bool) -> int:
        stdin = wants_stdin(streams)
        params = {"cmd": orjson_list(cmd), "tty": "1" if tty else "0", "stdin": "1" if stdin else "0"}
        resizes = Resizes(streams) if tty else None
        try:
            if resizes is not None and (size := await resizes.first()) is not None:
                params.update(width=str(size[0]), height=str(size[1]))
            ws = await self._call(self.shim.websocket(f"/v1/containers/{container_id}/exec", params))
        except BaseException:
            if resizes is not None:
                resizes.close()
            raise
        status = await run_session(ws, streams, stdin=stdin, tty=tty, resizes=resizes)
        return int(status.get("exit_code") or 0)

    async def attach(self, container_id: str, streams: StreamIO, *, tty: bool) -> None:
        stdin = wants_stdin(streams)
        ws = await self._call(self.shim.websocket(f"/v1/containers/{container_id}/attach",
                                                  {"stdin": "1" if stdin else "0"}))
        await run_session(ws, streams, stdin=stdin, tty=tty)

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sb = await self._sandbox(sandbox_id)
        meta = sb.get("meta") or {}
        if sb.get("state") != "running":
            raise RuntimeFailure(f"pod sandbox {sandbox_id} is not running")
        path = "" if meta.get("host_network") else str(meta.get("netns") or "")
        try:
            return await netns.open_connection(path, port)
        except (OSError, TimeoutError) as e:
            raise RuntimeFailure(f"failed to connect to localhost:{port} inside namespace "
                                 f"\"{sandbox_id}\": {e}") from None


async def stop_node(root: Path, *, runtime: str = "crun", network: sandbox.PodNetwork | None = None) -> int | None:
    """Take a node's containers down for good (``pybernetes shim --stop``, ``make down``): every sandbox torn
    down through the runtime (pod network, netns, mounts, cgroups), then the shim stopped with whatever is left.
    Returns how many sandboxes there were, None when no shim answers."""
    from pybernetes.kubelet.images.store import ImageStore
    rt = OCIRuntime(OCIConfig(root=root, runtime=runtime), images=ImagePuller(ImageStore(root / "images-unused")),
                    network=network)
    try:
        try:
            sandboxes = await rt.list_pod_sandboxes()
        except RuntimeFailure:
            return None
        for sb in sandboxes:
            await rt.stop_pod_sandbox(sb.id)
            await rt.remove_pod_sandbox(sb.id)
        await rt.shutdown_shim(kill_containers=True)
        return len(sandboxes)
    finally:
        await rt.close()
        await rt.images.close()


def orjson_list(items: Sequence[str]) -> str:
    return orjson.dumps(list(items)).decode()


def _rmtree(d: Path) -> None:
    shutil.rmtree(d, ignore_errors=True)


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(target)


_: Runtime = OCIRuntime.__new__(OCIRuntime)
