"""The OCI runtime with real containers: the shim, crun, overlay roots from images pulled from a local registry
(the project's busybox and nginx test images), CRI logs, exits, OOM kills, cgroups, namespaces, exec/attach and
port-forward.

Needs root and the Debian packages of ``tools/install-deps.sh``; outside CI a missing prerequisite skips, in CI
it fails.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.e2e import ocihelpers as h

from pybernetes.kubelet.runtime.interface import ContainerState, RuntimeFailure
from pybernetes.kubelet.runtime.oci import cgroups
from pybernetes.kubelet.runtime.oci.client import OCIRuntime

pytestmark = pytest.mark.e2e
BUSYBOX = "docker.io/library/busybox:latest"
NGINX = "docker.io/library/nginx:1.25"
CRI_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (stdout|stderr) [PF] ")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Registry]:
    h.require_node_prerequisites()
    h.host_checks()
    yield from h.registry_fixture(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module", params=["crun", "runc"])
def shim(request: pytest.FixtureRequest, registry: h.Registry, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[h.Shim]:
    runtime = request.param
    if runtime == "runc":
        h.require(h.have("runc"), "runc (Debian package runc)")
    s = h.start_shim(tmp_path_factory.mktemp(f"runtime-{runtime}"), runtime)
    yield s
    h.stop_shim(s)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tmp_path_factory.mktemp("images"), tmp_path_factory.mktemp("log")


@pytest.fixture
async def rt(shim: h.Shim, registry: h.Registry, dirs: tuple[Path, Path]) -> AsyncIterator[OCIRuntime]:
    runtime = await h.make_runtime(shim, registry, *dirs, runtime=shim.runtime)
    try:
        yield runtime
    finally:
        for sb in await runtime.list_pod_sandboxes():
            await runtime.stop_pod_sandbox(sb.id)
            await runtime.remove_pod_sandbox(sb.id)
        await runtime.close()
        await runtime.images.close()


async def run_pod(rt: OCIRuntime, *containers: h.ContainerConfig, spec: dict | None = None,
                  qos: str = "BestEffort") -> tuple[str, list[str]]:
    p = h.pod(spec=spec, qos=qos)
    sb = await rt.run_pod_sandbox(h.sandbox_config(p))
    assert sb.ready
    ids = []
    for c in containers:
        if await rt.image_status(c.image) is None:
            await rt.pull_image(c.image, sandbox=h.sandbox_config(p))
        cid = await rt.create_container(sb.id, c)
        await rt.start_container(cid)
        ids.append(cid)
    return sb.id, ids


async def test_output_goes_to_the_cri_log(rt: OCIRuntime) -> None:
    script = "echo hello; echo oops >&2; printf 'no newline'"
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sh", "-c", script)))
    st = await h.wait_exit(rt, cid)
    assert (st.exit_code, st.reason) == (0, "Completed")
    assert st.image == BUSYBOX and st.image_ref.startswith("docker.io/library/busybox@sha256:")
    path = Path(await rt.container_log_path(cid))
    assert path.name == "0.log" and path.parent.name == "app"
    lines = h.read(path).splitlines()
    assert all(CRI_LINE.match(line) for line in lines), lines
    assert [line.split(b" ", 1)[1] for line in lines] == [b"stdout F hello", b"stderr F oops",
                                                          b"stdout F no newline"]
    links = list((rt.config.log_root / "containers").glob(f"*_app-{cid}.log"))
    assert len(links) == 1 and h.realpath(links[0]) == h.realpath(path)


@pytest.mark.parametrize(("script", "code", "reason"), [
    ("exit 0", 0, "Completed"),
    ("exit 1", 1, "Error"),
    ("exit 42", 42, "Error"),
    ("sleep 1000 & kill -9 $!; wait $!", 137, "Error"),      # PID 1 itself can't be killed from inside
])
async def test_exit_codes_are_recorded(rt: OCIRuntime, script: str, code: int, reason: str) -> None:
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sh", "-c", script)))
    st = await h.wait_exit(rt, cid)
    assert (st.exit_code, st.reason) == (code, reason)
    assert st.started_at is not None and st.finished_at is not None and st.finished_at >= st.started_at


async def test_a_killed_container_exits_137(rt: OCIRuntime) -> None:
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sleep", "1000")))
    rec = await rt.shim.get(cid)
    assert rec is not None
    os.kill(rec["pid"], 9)
    st = await h.wait_exit(rt, cid)
    assert (st.exit_code, st.reason) == (137, "Error")


async def test_stop_kills_a_pid1_that_ignores_sigterm_after_the_grace_period(rt: OCIRuntime) -> None:
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sleep", "1000")))
    t0 = time.monotonic()
    await rt.stop_container(cid, 1.0)
    took = time.monotonic() - t0
    st = await rt.container_status(cid)
    assert st is not None and st.state == ContainerState.EXITED
    assert st.exit_code == 137
    assert 1.0 <= took < 5.0


async def test_stop_with_a_term_handler_exits_at_once(rt: OCIRuntime) -> None:
    script = "trap 'echo bye; exit 3' TERM; echo ready; sleep 1000 & wait"
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sh", "-c", script)))
    path = Path(await rt.container_log_path(cid))
    await h.until(lambda: _contains(path, b"ready"), what="the container to be ready")
    t0 = time.monotonic()
    await rt.stop_container(cid, 10.0)
    assert time.monotonic() - t0 < 3.0
    st = await rt.container_status(cid)
    assert st is not None and st.exit_code == 3
    assert b"stdout F bye" in h.read(path)


async def _contains(path: Path, data: bytes) -> bool:
    return data in h.read(path)


async def test_memory_limit_is_enforced_as_oomkilled(rt: OCIRuntime) -> None:
    # the shell's own variable grows past 16 MiB: the kernel's OOM killer ends PID 1
    script = "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived"
    resources = {"limits": {"memory": "16Mi", "cpu": "1"}, "requests": {"memory": "16Mi", "cpu": "1"}}
    _, (cid,) = await run_pod(rt, h.container("hog", BUSYBOX, command=("sh", "-c", script),
                                              spec={"resources": resources}), qos="Guaranteed")
    st = await h.wait_exit(rt, cid, timeout=60)
    assert (st.exit_code, st.reason) == (137, "OOMKilled")
    assert b"survived" not in h.read(await rt.container_log_path(cid))


async def test_cpu_quota_and_shares_are_in_the_cgroup(rt: OCIRuntime) -> None:
    resources = {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "250m", "memory": "32Mi"}}
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sleep", "1000"),
                                              spec={"resources": resources}), qos="Burstable")
    rec = await rt.shim.get(cid)
    assert rec is not None
    cg = rec["cgroup"]
    assert cg.startswith("/pybernetes/burstable/pod") and cg.endswith("/" + cid)
    layout = cgroups.host_layout()
    if layout.is_v2:
        d = layout.path("cpu", cg)
        assert d is not None
        assert (d / "cpu.max").read_text().split() == ["50000", "100000"]
        assert int((d / "memory.max").read_text()) == 64 << 20
    else:
        cpu, mem = layout.path("cpu", cg), layout.path("memory", cg)
        assert cpu is not None and mem is not None
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 50000
        assert int((cpu / "cpu.cfs_period_us").read_text()) == 100000
        assert int((cpu / "cpu.shares").read_text()) == 256
        assert int((mem / "memory.limit_in_bytes").read_text()) == 64 << 20
    stats = await h.until(lambda: rt.container_stats(cid), what="stats")
    assert stats.memory_working_set_bytes > 0 and stats.cpu_usage_core_nanoseconds > 0


async def test_containers_of_a_pod_share_localhost_ipc_and_shm(rt: OCIRuntime) -> None:
    server = h.container("server", BUSYBOX, command=(
        "sh", "-c", "mkdir -p /www && echo from-server > /www/index.html && echo shared > /dev/shm/token && "
                    "readlink /proc/self/ns/ipc > /dev/shm/ipc && hostname > /dev/shm/uts && "
                    "exec httpd -f -p 127.0.0.1:8080 -h /www"))
    client = h.container("client", BUSYBOX, command=(
        "sh", "-c", "for i in $(seq 50); do wget -q -O - http://127.0.0.1:8080/ && break; sleep 0.1; done; "
                    "cat /dev/shm/token; [ \"$(readlink /proc/self/ns/ipc)\" = \"$(cat /dev/shm/ipc)\" ] && "
                    "echo same-ipc; [ \"$(hostname)\" = \"$(cat /dev/shm/uts)\" ] && echo same-uts"))
    _, (_, cid) = await run_pod(rt, server, client)
    st = await h.wait_exit(rt, cid)
    out = h.read(await rt.container_log_path(cid))
    assert st.exit_code == 0, out
    for word in (b"from-server", b"shared", b"same-ipc", b"same-uts"):
        assert b"stdout F " + word in out, out


async def test_exec_sync_runs_in_the_container(rt: OCIRuntime) -> None:
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sleep", "1000"),
                                              env=(("GREETING", "hi"),), spec={"workingDir": "/tmp"}))
    res = await rt.exec_sync(cid, ["sh", "-c", "echo $GREETING $(pwd); echo err >&2; exit 5"], timeout=10)
    assert (res.exit_code, res.stdout, res.stderr) == (5, b"hi /tmp\n", b"err\n")
    with pytest.raises(TimeoutError):
        await rt.exec_sync(cid, ["sleep", "30"], timeout=0.5)


class Streams:
    def __init__(self, stdin: list[bytes], *, tty: bool = False) -> None:
        self.stdin = list(stdin)
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.has_stdin = bool(stdin)
        self.sizes: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
        if tty:
            self.sizes.put_nowait((100, 40))

    async def read_stdin(self) -> bytes | None:
        await asyncio.sleep(0.05)
        return self.stdin.pop(0) if self.stdin else None

    async def write_stdout(self, data: bytes) -> None:
        self.stdout += data

    async def write_stderr(self, data: bytes) -> None:
        self.stderr += data

    async def resizes(self) -> AsyncIterator[tuple[int, int]]:
        while (size := await self.sizes.get()) is not None:
            yield size


async def test_exec_streams_stdin_and_output(rt: OCIRuntime) -> None:
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sleep", "1000")))
    s = Streams([b"line one\n", b"line two\n"])
    code = await rt.exec(cid, ["sh", "-c", "cat; echo done >&2; exit 7"], s, tty=False)
    assert (code, bytes(s.stdout), bytes(s.stderr)) == (7, b"line one\nline two\n", b"done\n")


async def test_exec_with_a_terminal_resizes(rt: OCIRuntime) -> None:
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sleep", "1000")))
    s = Streams([], tty=True)

    async def resize_later() -> None:
        await h.until(lambda: _has(s.stdout, b"/dev/pts/"), what="the first output")
        s.sizes.put_nowait((132, 50))

    later = asyncio.ensure_future(resize_later())
    code = await rt.exec(cid, ["sh", "-c", "stty size; tty; sleep 1; stty size"], s, tty=True)
    await later
    assert code == 0
    lines = bytes(s.stdout).split(b"\r\n")
    assert lines[0] == b"40 100"                               # the client's first size, from the very start
    assert lines[1].startswith(b"/dev/pts/") and lines[2] == b"50 132"


async def _has(buf: bytearray, data: bytes) -> bool:
    return data in buf


async def test_attach_sees_output_and_feeds_stdin(rt: OCIRuntime) -> None:
    c = h.container("app", BUSYBOX, command=("sh", "-c", "while read line; do echo got $line; done; echo eof"),
                    spec={"stdin": True, "stdinOnce": True})
    _, (cid,) = await run_pod(rt, c)
    s = Streams([b"a\n", b"b\n"])
    await asyncio.wait_for(rt.attach(cid, s, tty=False), 20)
    assert bytes(s.stdout) == b"got a\ngot b\neof\n"
    st = await h.wait_exit(rt, cid)
    assert st.exit_code == 0


async def test_port_forward_reaches_nginx_from_a_pulled_image(rt: OCIRuntime) -> None:
    sid, (cid,) = await run_pod(rt, h.container("web", NGINX))
    async def get() -> bytes | None:
        try:
            reader, writer = await rt.port_forward(sid, 80)
        except RuntimeFailure:
            return None
        writer.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = await reader.read()
        writer.close()
        return data or None
    body = await h.until(get, what="nginx to answer")
    assert body.startswith(b"HTTP/1.1 200") and b"Welcome to nginx!" in body
    log = Path(await rt.container_log_path(cid))
    await h.until(lambda: _contains(log, b"GET / HTTP/1.0"), what="nginx's access log line")


async def test_a_new_client_adopts_what_runs(rt: OCIRuntime, shim: h.Shim, registry: h.Registry,
                                            dirs: tuple[Path, Path]) -> None:
    sid, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sleep", "1000"), attempt=3))
    again = await h.make_runtime(shim, registry, *dirs, runtime=shim.runtime)
    try:
        sandboxes = {s.id: s for s in await again.list_pod_sandboxes()}
        assert sandboxes[sid].ready
        (st,) = await again.list_containers(sid)
        assert (st.id, st.attempt, st.state, st.name) == (cid, 3, ContainerState.RUNNING, "app")
    finally:
        await again.close()
        await again.images.close()


async def test_removing_a_sandbox_cleans_the_host(rt: OCIRuntime) -> None:
    sid, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sleep", "1000")))
    rec = await rt.shim.get(sid)
    assert rec is not None
    meta = rec["meta"]
    netns, sbdir, parent = Path(meta["netns"]), Path(meta["dir"]), meta["cgroup_parent"]
    log = Path(await rt.container_log_path(cid))
    assert h.exists(netns) and h.ismount(sbdir / "shm") and h.exists(log)
    await rt.stop_pod_sandbox(sid)
    await rt.remove_pod_sandbox(sid)
    assert not any(h.exists(p) for p in (netns, sbdir, log))
    layout = cgroups.host_layout()
    assert not any(h.exists(d) for d in layout.dirs(parent))
    assert await rt.container_status(cid) is None
    assert sid not in {s.id for s in await rt.list_pod_sandboxes()}


def test_shim_is_its_own_session(shim: h.Shim) -> None:
    assert os.getsid(shim.proc.pid) == shim.proc.pid


async def test_privileged_and_dropped_capabilities(rt: OCIRuntime) -> None:
    script = "grep CapEff /proc/self/status; ls /dev | wc -l; touch /proof && echo writable"
    _, (priv, dropped, ro) = await run_pod(
        rt, h.container("priv", BUSYBOX, command=("sh", "-c", script), spec={"securityContext": {"privileged": True}}),
        h.container("dropped", BUSYBOX, command=("sh", "-c", script),
                    spec={"securityContext": {"capabilities": {"drop": ["ALL"]}}}),
        h.container("ro", BUSYBOX, command=("sh", "-c", script),
                    spec={"securityContext": {"readOnlyRootFilesystem": True}}))
    outs = {}
    for name, cid in (("priv", priv), ("dropped", dropped), ("ro", ro)):
        st = await h.wait_exit(rt, cid)
        outs[name] = h.read(await rt.container_log_path(cid))
        assert st.state == ContainerState.EXITED, name
    eff = {n: int(re.search(rb"CapEff:\s+([0-9a-f]+)", o).group(1), 16) for n, o in outs.items()}  # type: ignore[union-attr]
    assert eff["dropped"] == 0 and bin(eff["priv"]).count("1") > 30
    devices = {n: int(re.search(rb"stdout F (\d+)\n", o).group(1)) for n, o in outs.items()}  # type: ignore[union-attr]
    assert devices["priv"] > devices["dropped"] + 10            # the host's devices
    assert b"writable" in outs["priv"] and b"writable" not in outs["ro"]


async def test_a_dead_shim_is_restarted_and_adopts_running_containers(rt: OCIRuntime, shim: h.Shim) -> None:
    script = "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done"
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("sh", "-c", script)))
    log = Path(await rt.container_log_path(cid))
    await h.until(lambda: _contains(log, b"tick 3"), what="output")
    rec = await rt.shim.get(cid)
    assert rec is not None
    old = h.shim_pid(shim.root)
    assert old is not None
    os.kill(old, 9)
    lines = len(h.read(log).splitlines())

    async def status_from_a_new_shim() -> object:
        new = h.shim_pid(shim.root)
        if new in (None, old):
            return None
        try:
            return await rt.container_status(cid)
        except RuntimeFailure:
            return None

    st = await h.until(status_from_a_new_shim, what="the runtime to start a new shim")   # its event stream broke
    assert st.state == ContainerState.RUNNING and st.id == cid
    await h.until(lambda: _more_lines(log, lines + 10), what="output to flow again")
    ticks = [int(m) for m in re.findall(rb"stdout F tick (\d+)", h.read(log))]
    assert ticks == list(range(len(ticks)))                    # nothing lost while no shim read the FIFO
    os.kill(rec["pid"], 9)
    st = await h.wait_exit(rt, cid)
    assert st.exit_code == 255 and "exit status lost" in st.message


async def _more_lines(path: Path, n: int) -> bool:
    return len(h.read(path).splitlines()) >= n


async def test_a_terminal_container_logs_and_attaches(rt: OCIRuntime) -> None:
    c = h.container("app", BUSYBOX, command=("sh", "-c", "tty; while read line; do echo got $line; done"),
                    spec={"tty": True, "stdin": True})
    _, (cid,) = await run_pod(rt, c)
    log = Path(await rt.container_log_path(cid))
    await h.until(lambda: _contains(log, b"stdout F /dev/pts/0"), what="the terminal's output in the log")
    s = Streams([b"x\r"], tty=True)

    async def attach() -> None:
        await rt.attach(cid, s, tty=True)

    task = asyncio.ensure_future(attach())
    await h.until(lambda: _has(s.stdout, b"got x"), what="the answer through attach")
    rec = await rt.shim.get(cid)
    assert rec is not None
    os.kill(rec["pid"], 9)
    await asyncio.wait_for(task, 10)                           # the session ends with the container
    assert b"got x" in h.read(log)


async def test_a_missing_working_dir_is_created_and_a_bad_command_fails_to_start(rt: OCIRuntime) -> None:
    _, (cid,) = await run_pod(rt, h.container("app", BUSYBOX, command=("pwd",), spec={"workingDir": "/made/here"}))
    st = await h.wait_exit(rt, cid)
    assert st.exit_code == 0 and b"stdout F /made/here" in h.read(await rt.container_log_path(cid))
    p = h.pod()
    sb = await rt.run_pod_sandbox(h.sandbox_config(p))
    bad = await rt.create_container(sb.id, h.container("bad", BUSYBOX, command=("/no/such/binary",)))
    with pytest.raises(RuntimeFailure) as err:
        await rt.start_container(bad)
    assert err.value.reason == "RunContainerError" and "/no/such/binary" in str(err.value)
    st = await rt.container_status(bad)
    assert st is not None and (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 128, "StartError")
    assert "/no/such/binary" in st.message
