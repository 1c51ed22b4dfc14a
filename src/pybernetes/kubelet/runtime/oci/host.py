"""Host checks at agent start (issue 4, "Host"): what a real node needs from its machine, fixing what is safe to
fix and saying clearly what is not, so the agent refuses to start instead of failing pod by pod.

- the OCI runtime binary answers ``--version`` and, at the end, runs a container (the check that catches
  everything else: cgroups, namespaces, the pause root);
- cgroups: a memory and cpu controller (v1 hierarchies or the unified tree); on hybrid hosts crun refuses to run
  while a controller sits unused in the cgroup2 tree (hugetlb here, DESIGN.md), so those are mounted as v1
  hierarchies — safe, nothing uses them;
- overlayfs (``modprobe overlay`` if missing), ``net.ipv4.ip_forward=1``, br_netfilter with
  ``bridge-nf-call-iptables=1`` (so Service rules see bridged pod traffic);
- the CNI plugins (bridge, host-local, loopback, portmap), ``nft``, ``ip``, and busybox for pause processes.

Every path is under injectable roots, so tests run the checks against a fake ``/proc`` and ``/sys``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pybernetes.kubelet.runtime.oci import cgroups, ocicli

log = logging.getLogger(__name__)
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
SMOKE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str = ""
    fixed: str = ""                     # what was changed to make it pass


class HostError(RuntimeError):
    """The host cannot run containers; the message lists every failed check."""

    def __init__(self, failed: list[Check]) -> None:
        self.failed = failed
        super().__init__("this machine cannot run a node: " + "; ".join(f"{c.name}: {c.message}" for c in failed))


@dataclass
class Host:
    """The machine, as the checks see it (tests replace the roots and the actions)."""

    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    cni_dir: Path = Path("/usr/lib/cni")
    busybox: str = "/bin/busybox"
    which: Callable[[str], str | None] = field(default=lambda name: shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None))
    run: Callable[..., subprocess.CompletedProcess[str]] = field(default=subprocess.run)
    mount_cgroup: Callable[[str, Path], None] | None = None

    def read(self, rel: str) -> str | None:
        try:
            return (self.proc / rel).read_text()
        except OSError:
            return None

    def write(self, path: Path, value: str) -> bool:
        try:
            path.write_text(value)
            return True
        except OSError:
            return False

    def modprobe(self, module: str) -> bool:
        exe = self.which("modprobe")
        if exe is None:
            return False
        try:
            return self.run([exe, module], capture_output=True, text=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def do_mount_cgroup(self, controller: str, target: Path) -> None:
        if self.mount_cgroup is not None:
            self.mount_cgroup(controller, target)
            return
        from pybernetes.kubelet.runtime.oci.rootfs import mount
        target.mkdir(parents=True, exist_ok=True)
        mount("cgroup", str(target), "cgroup", data=controller)


def enabled_controllers(text: str) -> list[str]:
    """Controllers ``/proc/cgroups`` says the kernel has enabled."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 4 and parts[3] == "1":
            out.append(parts[0])
    return out


def check_cgroups(host: Host, *, runtime: str, fix: bool) -> Check:
    info = host.read("self/mountinfo")
    if info is None:
        return Check("cgroups", False, f"cannot read {host.proc}/self/mountinfo")
    layout = cgroups.parse_mountinfo(info)
    fixed = ""
    if layout.is_v2:
        ctl = _read(Path(layout.unified) / "cgroup.controllers", host).split()
        missing = [c for c in ("memory", "cpu", "pids") if c not in ctl]
        if missing:
            return Check("cgroups", False, f"the cgroup2 tree lacks the {', '.join(missing)} controller(s)")
        return Check("cgroups", True, "cgroup v2")
    missing = [c for c in ("memory", "cpu", "cpuacct", "pids") if c not in layout.v1]
    if missing:
        return Check("cgroups", False, f"no cgroup v1 hierarchy for {', '.join(missing)}")
    if layout.is_hybrid and runtime == "crun":
        move = cgroups.controllers_to_move(
            enabled=enabled_controllers(host.read("cgroups") or ""),
            unified_controllers=_read(Path(layout.unified) / "cgroup.controllers", host).split(),
            unified_subtree=_read(Path(layout.unified) / "cgroup.subtree_control", host).split(), v1=layout.v1)
        if move and not fix:
            return Check("cgroups", False, f"hybrid cgroups: {', '.join(move)} only in the cgroup2 tree "
                                           "(crun refuses to run); mount it as a v1 hierarchy")
        done = []
        base = Path(next(iter(layout.v1.values()))).parent
        for controller in move:
            try:
                host.do_mount_cgroup(controller, base / controller)
                done.append(controller)
            except OSError as e:
                return Check("cgroups", False, f"hybrid cgroups: mounting {controller} as a v1 hierarchy at "
                                               f"{base / controller} failed ({e}); crun cannot run")
        if done:
            fixed = f"mounted {', '.join(done)} as cgroup v1 hierarchies"
            cgroups.host_layout.cache_clear()
    return Check("cgroups", True, "cgroup v1" + (" (hybrid)" if layout.is_hybrid else ""), fixed)


def _read(path: Path, host: Host) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def check_overlay(host: Host, *, fix: bool) -> Check:
    def present() -> bool:
        return any(line.split()[-1:] == ["overlay"] for line in (host.read("filesystems") or "").splitlines())

    if present():
        return Check("overlayfs", True)
    if fix and host.modprobe("overlay") and present():
        return Check("overlayfs", True, fixed="loaded the overlay module")
    return Check("overlayfs", False, "the kernel has no overlay filesystem (modprobe overlay failed)")


def check_sysctl(host: Host, rel: str, *, fix: bool, name: str) -> Check:
    path = host.proc / "sys" / rel
    value = host.read(f"sys/{rel}")
    if value is None:
        return Check(name, False, f"{path} does not exist")
    if value.strip() == "1":
        return Check(name, True)
    if fix and host.write(path, "1\n"):
        return Check(name, True, fixed=f"set {rel.replace('/', '.')}=1")
    return Check(name, False, f"{rel.replace('/', '.')} is {value.strip()} and could not be set to 1")


def check_br_netfilter(host: Host, *, fix: bool) -> Check:
    bridge = host.proc / "sys" / "net" / "bridge"
    fixed = ""
    if not bridge.is_dir():
        if not (fix and host.modprobe("br_netfilter") and bridge.is_dir()):
            return Check("br_netfilter", False, "br_netfilter is not available (no /proc/sys/net/bridge)")
        fixed = "loaded br_netfilter"
    c = check_sysctl(host, "net/bridge/bridge-nf-call-iptables", fix=fix, name="br_netfilter")
    return Check("br_netfilter", c.ok, c.message, ", ".join(x for x in (fixed, c.fixed) if x))


def check_binaries(host: Host) -> list[Check]:
    out = []
    missing = [p for p in CNI_PLUGINS if not os.access(host.cni_dir / p, os.X_OK)]
    out.append(Check("cni-plugins", not missing, f"missing in {host.cni_dir}: {', '.join(missing)} "
                                                 "(Debian package containernetworking-plugins)" if missing else ""))
    for exe, package in (("nft", "nftables"), ("ip", "iproute2")):
        out.append(Check(exe, host.which(exe) is not None,
                         "" if host.which(exe) else f"{exe} not found (Debian package {package})"))
    ok = os.access(host.busybox, os.X_OK)
    out.append(Check("busybox", ok, "" if ok else f"{host.busybox} not found (Debian package busybox-static: "
                                                  "it runs pod sandboxes)"))
    return out


def check_runtime(host: Host, runtime: str) -> tuple[Check, str]:
    if runtime not in ocicli.RUNTIMES:
        return Check("oci-runtime", False, f"unknown OCI runtime {runtime!r}"), ""
    binary = host.which(runtime)
    if binary is None:
        return Check("oci-runtime", False, f"{runtime} not found (Debian package {runtime})"), ""
    try:
        p = host.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("oci-runtime", False, f"{binary} --version failed: {e}"), ""
    version = ocicli.parse_version(p.stdout) if p.returncode == 0 else ""
    if not version:
        return Check("oci-runtime", False, f"{binary} --version did not answer as {runtime} does"), ""
    return Check("oci-runtime", True, f"{runtime} {version}"), binary


def check_host(*, runtime: str = "crun", host: Host | None = None, fix: bool = True) -> list[Check]:
    """Every check (fixing what is safe when ``fix``); raise :class:`HostError` yourself on failures, or use
    :func:`require`."""
    host = host or Host()
    rt, _binary = check_runtime(host, runtime)
    checks = [rt, check_cgroups(host, runtime=runtime, fix=fix), check_overlay(host, fix=fix),
              check_sysctl(host, "net/ipv4/ip_forward", fix=fix, name="ip_forward"),
              check_br_netfilter(host, fix=fix), *check_binaries(host)]
    for c in checks:
        if c.fixed:
            log.warning("host fixed for running containers", extra={"check": c.name, "fixed": c.fixed})
    return checks


def require(checks: list[Check]) -> None:
    failed = [c for c in checks if not c.ok]
    if failed:
        raise HostError(failed)


CAP_SYS_RESOURCE = 24


def min_oom_score_adj(proc: Path = Path("/proc")) -> int:
    """-1000 with CAP_SYS_RESOURCE; else our own score, the lowest a container we start may get: the kernel
    refuses to lower it (measured here, where the kubelet's -998 and -997 fail with EACCES)."""
    try:
        status = (proc / "self" / "status").read_text()
        eff = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("CapEff:")), 16)
        if eff >> CAP_SYS_RESOURCE & 1:
            return -1000
        return int((proc / "self" / "oom_score_adj").read_text())
    except (OSError, ValueError, StopIteration):
        return 0


def bounding_caps(proc: Path = Path("/proc")) -> tuple[str, ...]:
    """The capabilities this process (and so the shim and runtime it starts) can give a container."""
    from pybernetes.kubelet.runtime.oci.spec import CAPS_BY_NUMBER, caps_of_mask
    try:
        status = (proc / "self" / "status").read_text()
        return caps_of_mask(int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("CapBnd:")), 16))
    except (OSError, ValueError, StopIteration):
        return CAPS_BY_NUMBER


def smoke_test(*, runtime: str, binary: str, work: Path, pause_rootfs: Path, cgroup: str,
               run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> Check:
    """Run one container (busybox ``true`` in the pause root) in the foreground: proof that the runtime, the
    cgroups and the namespaces work together here."""
    import json

    from pybernetes.kubelet.runtime.oci import spec
    bundle = work / f"smoke-{os.getpid()}"
    shutil.rmtree(bundle, ignore_errors=True)
    bundle.mkdir(parents=True)
    cid = f"pybernetes-smoke-{os.getpid()}"
    config = spec.sandbox_spec(pod={}, args=("/bin/busybox", "true"), rootfs=str(pause_rootfs), hostname="smoke",
                               netns="", cgroups_path=cgroup, min_oom_score_adj=min_oom_score_adj())
    config["linux"]["namespaces"].append({"type": "network"})
    (bundle / "config.json").write_text(json.dumps(config))
    cli = ocicli.OCIRuntimeCLI(name=runtime, binary=binary, root=str(work / "state"))
    try:
        p = run(cli.run_foreground(cid, bundle=str(bundle), log=str(bundle / "log")), capture_output=True, text=True,
                timeout=SMOKE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("container", False, f"{runtime} could not run a container: {e}")
    finally:
        run(cli.delete(cid), capture_output=True, text=True, timeout=SMOKE_TIMEOUT)
    if p.returncode != 0:
        from pybernetes.kubelet.runtime.oci.shim import runtime_error
        why = runtime_error(bundle / "log") or p.stderr.strip() or f"exit code {p.returncode}"
        return Check("container", False, f"{runtime} could not run a container: {why}")
    shutil.rmtree(bundle, ignore_errors=True)
    return Check("container", True)
