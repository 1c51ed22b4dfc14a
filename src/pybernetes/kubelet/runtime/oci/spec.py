"""The OCI runtime ``config.json`` of a pod's containers: pure functions from the kubelet's
:class:`~pybernetes.kubelet.runtime.interface.ContainerConfig`, the pod, the image config and the sandbox's facts.

What each field means follows what containerd's CRI plugin and the kubelet put there for Kubernetes, so a
workload sees the same container here as on a kubeadm node:

- *process*: command/args over the image's Entrypoint/Cmd (a ``command`` drops the image's Cmd), environment
  ``PATH`` (if the image has none), ``HOSTNAME``, the image's, then the container's; the working dir; the user
  the caller resolved (``runAsUser``/``runAsGroup``/image ``USER``, supplementary groups); Docker's default 14
  capabilities with ``add``/``drop`` (``ALL`` allowed), every capability when privileged; ``noNewPrivileges``
  only when ``allowPrivilegeEscalation: false``; ``RLIMIT_NOFILE`` as high as the host allows (see
  DESIGN.md: above the agent's hard limit crun fails); the kubelet's ``oom_score_adj`` by QoS class.
- *namespaces*: a container has its own pid and mount namespaces and joins the sandbox's network (a netns path),
  IPC and UTS (the pause process's). ``hostNetwork``/``hostIPC``/``hostPID`` leave those out (the host's are
  kept); ``shareProcessNamespace`` joins the pause process's pid namespace. No ``hostname`` in a container
  that joins a UTS namespace: crun refuses it (measured).
- *mounts*: ``/proc``, ``/dev`` (tmpfs), ``/dev/pts``, ``/dev/mqueue``, ``/sys`` (ro), ``/sys/fs/cgroup`` (ro),
  the pod's shared ``/dev/shm``, ``/etc/hosts``, ``/etc/resolv.conf``, ``/etc/hostname`` (read-only when the
  root filesystem is), the termination-message file, then the kubelet's volume mounts — a volume at the same
  path replaces a default; parents before children.
- *cgroups*: an absolute ``cgroupsPath`` under the pybernetes parent (never nested under the caller's cgroup);
  CPU shares from the request, CFS quota from the limit (period 100 ms), the memory limit, the device rules
  Docker allows.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pybernetes.api.quantity import parse_quantity
from pybernetes.kubelet.images.store import ImageConfig
from pybernetes.kubelet.runtime.interface import ContainerConfig, Mount

Obj = dict[str, Any]
OCI_VERSION = "1.0.2"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHM_SIZE = 64 * 1024 * 1024
MAX_NOFILE = 1048576

# Docker's (and containerd's) default capability set.
DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
                "CAP_KILL", "CAP_AUDIT_WRITE")
# Every capability by number (linux/capability.h): a CapBnd bit mask names them.
CAPS_BY_NUMBER = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
                  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
                  "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
                  "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
                  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
                  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
                  "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE")

MASKED_PATHS = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# The devices cgroup rules Docker and containerd allow (everything else denied).
DEFAULT_DEVICE_RULES: tuple[Obj, ...] = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},      # null
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},      # random
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},      # full
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},      # tty
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},      # zero
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},      # urandom
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},      # console
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},                # pts
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},      # ptmx
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},   # tun
)

# kubelet: pkg/kubelet/qos/policy.go and pkg/kubelet/cm/helpers_linux.go
POD_INFRA_OOM_ADJ = -998
GUARANTEED_OOM_ADJ = -997
BEST_EFFORT_OOM_ADJ = 1000
CPU_PERIOD = 100_000
MIN_QUOTA = 1000
MIN_SHARES = 2
MAX_SHARES = 262144
PROPAGATION = {"None": "rprivate", "": "rprivate", "HostToContainer": "rslave", "Bidirectional": "rshared"}
# Pod sysctls that are namespaced (allowed for a pod's sandbox): upstream's safe + unsafe namespaced groups.
NAMESPACED_SYSCTL_PREFIXES = ("net.", "kernel.shm", "kernel.msg", "fs.mqueue.")
NAMESPACED_SYSCTLS = frozenset({"kernel.sem"})


class SpecError(ValueError):
    """The container cannot be described (no command, runAsNonRoot violated): ``CreateContainerConfigError``."""


@dataclass(frozen=True, slots=True)
class User:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Namespaces:
    """What a container joins. An empty path means "the host's" (the namespace is left out of the spec), except
    ``pid``: empty gives the container its own unless ``host_pid``."""

    network: str = ""
    ipc: str = ""
    uts: str = ""
    pid: str = ""
    host_pid: bool = False


@dataclass(frozen=True, slots=True)
class PodFiles:
    """Host files of the sandbox and container that are bind-mounted in (empty: not mounted)."""

    hosts: str = ""
    resolv_conf: str = ""
    hostname: str = ""
    shm: str = ""                       # the pod's /dev/shm (a tmpfs on the host); empty → a private tmpfs
    termination_log: str = ""


# ------------------------------------------------------------------------------------------------ process

def process_args(config: ContainerConfig, image: ImageConfig) -> list[str]:
    """Kubernetes' rule: ``command`` replaces the Entrypoint and drops the image's Cmd; ``args`` replace Cmd."""
    if config.command:
        argv = [*config.command, *config.args]
    else:
        argv = [*image.entrypoint, *(config.args or image.cmd)]
    if not argv:
        raise SpecError("no command specified")
    return argv


def process_env(config: ContainerConfig, image: ImageConfig, *, hostname: str) -> list[str]:
    """The default PATH, HOSTNAME, the image's variables, then the container's: a later value replaces an earlier
    one in place (containerd's ``WithEnv``), so the image's PATH wins over the default."""
    env: dict[str, str] = {}
    for item in (DEFAULT_PATH, f"HOSTNAME={hostname}", *image.env):
        name, _, value = item.partition("=")
        env[name] = value
    for name, value in config.env:
        env[name] = value
    return [f"{k}={v}" for k, v in env.items()]


def merged_security_context(pod: Obj, container: Obj) -> Obj:
    """The pod's securityContext fields a container inherits, overridden by the container's own."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    out = {k: psc[k] for k in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile") if k in psc}
    out.update(csc)
    return out


def check_run_as_non_root(sc: Obj, user: User, image_user: str) -> None:
    """The kubelet's ``verifyRunAsNonRoot`` (its messages)."""
    if not sc.get("runAsNonRoot"):
        return
    if sc.get("runAsUser") is not None:
        if user.uid == 0:
            raise SpecError("container's runAsUser breaks non-root policy")
        return
    name = image_user.partition(":")[0]
    if name and not name.isdigit():
        raise SpecError(f"container has runAsNonRoot and image has non-numeric user ({name}), "
                        "cannot verify user is non-root")
    if user.uid == 0:
        raise SpecError("container has runAsNonRoot and image will run as root")


def _cap_name(c: str) -> str:
    c = c.strip().upper()
    return c if c.startswith("CAP_") else "CAP_" + c


def caps_of_mask(mask: int) -> tuple[str, ...]:
    """Capability names of a ``/proc/<pid>/status`` bit mask (``CapBnd``)."""
    return tuple(name for i, name in enumerate(CAPS_BY_NUMBER) if mask >> i & 1)


ALL_CAPS = CAPS_BY_NUMBER


def capabilities(sc: Obj, *, privileged: bool, all_caps: Sequence[str] = ALL_CAPS) -> list[str]:
    """The capability set: all when privileged — ``all_caps``, the node's own bounding set (containerd's
    ``cap.Current()``: a runtime cannot grant what it lacks; here CAP_SYS_RESOURCE) —; else Docker's defaults
    changed as containerd does it: ``add: [ALL]`` gives all, then ``drop: [ALL]`` removes all, then the named
    adds, then the named drops (so ``drop: [ALL], add: [NET_BIND_SERVICE]`` leaves just that one)."""
    if privileged:
        return list(all_caps)
    spec = sc.get("capabilities") or {}
    add = [_cap_name(c) for c in spec.get("add") or ()]
    drop = [_cap_name(c) for c in spec.get("drop") or ()]
    caps = list(all_caps) if "CAP_ALL" in add else list(DEFAULT_CAPS)
    if "CAP_ALL" in drop:
        caps = []
    caps += [c for c in dict.fromkeys(add) if c != "CAP_ALL" and c not in caps]
    return [c for c in caps if c not in drop]


def oom_score_adj(qos: str, container: Obj, *, memory_capacity: int) -> int:
    """The kubelet's ``GetContainerOOMScoreAdjust``."""
    if qos == "Guaranteed":
        return GUARANTEED_OOM_ADJ
    if qos == "BestEffort" or memory_capacity <= 0:
        return BEST_EFFORT_OOM_ADJ
    request = _quantity(((container.get("resources") or {}).get("requests") or {}).get("memory"))
    adj = 1000 - (1000 * request) // memory_capacity
    if adj < 1000 + GUARANTEED_OOM_ADJ:
        return 1000 + GUARANTEED_OOM_ADJ
    if adj == BEST_EFFORT_OOM_ADJ:
        return adj - 1
    return int(adj)


def _quantity(value: Any, *, milli: bool = False) -> int:
    if value in (None, ""):
        return 0
    try:
        q = parse_quantity(value)
    except ValueError:
        return 0
    return q.milli_value() if milli else q.value()


def milli_cpu_to_shares(milli: int) -> int:
    if milli <= 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, milli * 1024 // 1000))


def milli_cpu_to_quota(milli: int, period: int = CPU_PERIOD) -> int:
    if milli <= 0:
        return 0
    return max(MIN_QUOTA, milli * period // 1000)


def linux_resources(container: Obj, *, pids_limit: int = 0) -> Obj:
    """cgroup resources from the container's requests and limits (the kubelet's ``generateLinuxContainerResources``:
    shares from the CPU request — or the limit when there is no request — quota from the limit)."""
    res = container.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    cpu_request = _quantity(requests.get("cpu"), milli=True)
    cpu_limit = _quantity(limits.get("cpu"), milli=True)
    if not cpu_request and cpu_limit:
        cpu_request = cpu_limit
    cpu: Obj = {"shares": milli_cpu_to_shares(cpu_request)}
    if cpu_limit:
        cpu["quota"] = milli_cpu_to_quota(cpu_limit)
        cpu["period"] = CPU_PERIOD
    out: Obj = {"devices": [dict(r) for r in DEFAULT_DEVICE_RULES], "cpu": cpu}
    memory = _quantity(limits.get("memory"))
    if memory:
        out["memory"] = {"limit": memory}
    if pids_limit > 0:
        out["pids"] = {"limit": pids_limit}
    return out


def rlimits(nofile: int) -> list[Obj]:
    n = max(1024, min(nofile, MAX_NOFILE))
    return [{"type": "RLIMIT_NOFILE", "hard": n, "soft": n}]


# ------------------------------------------------------------------------------------------------ mounts

def default_mounts(*, privileged: bool) -> list[Obj]:
    cgroup_opts = ["nosuid", "noexec", "nodev", "relatime", "rw" if privileged else "ro"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": cgroup_opts},
    ]


def bind(destination: str, source: str, *, read_only: bool = False, propagation: str = "rprivate") -> Obj:
    return {"destination": destination, "type": "bind", "source": source,
            "options": ["rbind", propagation, "ro" if read_only else "rw"]}


def volume_mount(m: Mount) -> Obj:
    return bind(posixpath.normpath(m.container_path), m.host_path, read_only=m.read_only,
                propagation=PROPAGATION.get(m.propagation, "rprivate"))


def _depth(path: str) -> int:
    return len([p for p in posixpath.normpath(path).split("/") if p])


def container_mounts(files: PodFiles, volumes: Sequence[Mount], *, privileged: bool, read_only_root: bool,
                     termination_path: str, host_ipc: bool) -> list[Obj]:
    """Defaults, the pod files, then the volumes; a volume replaces a default at the same destination, and the
    list is ordered parents first (a stable sort by depth, as containerd's ``sortMounts``)."""
    mounts = default_mounts(privileged=privileged)
    if host_ipc:
        mounts.append(bind("/dev/shm", "/dev/shm"))
    elif files.shm:
        mounts.append(bind("/dev/shm", files.shm))
    else:
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={SHM_SIZE // 1024}k"]})
    for dest, src in (("/etc/hosts", files.hosts), ("/etc/resolv.conf", files.resolv_conf),
                      ("/etc/hostname", files.hostname)):
        if src:
            mounts.append(bind(dest, src, read_only=read_only_root))
    if files.termination_log and termination_path:
        mounts.append(bind(termination_path, files.termination_log))
    wanted = [volume_mount(m) for m in volumes]
    taken = {m["destination"] for m in wanted}
    out = [m for m in mounts if m["destination"] not in taken] + wanted
    out.sort(key=lambda m: _depth(m["destination"]))
    return out


def rootfs_propagation(volumes: Iterable[Mount]) -> str:
    kinds = {m.propagation for m in volumes}
    if "Bidirectional" in kinds:
        return "rshared"
    if "HostToContainer" in kinds:
        return "rslave"
    return ""


# ------------------------------------------------------------------------------------------------ the spec

def namespaces(ns: Namespaces) -> list[Obj]:
    out: list[Obj] = [{"type": "mount"}]
    if ns.pid:
        out.append({"type": "pid", "path": ns.pid})
    elif not ns.host_pid:
        out.append({"type": "pid"})
    for kind, path in (("network", ns.network), ("ipc", ns.ipc), ("uts", ns.uts)):
        if path:
            out.append({"type": kind, "path": path})
    return out


def container_spec(config: ContainerConfig, *, pod: Obj, image: ImageConfig, user: User, files: PodFiles,
                   ns: Namespaces, rootfs: str, cgroups_path: str, hostname: str, nofile: int,
                   all_caps: Sequence[str] = ALL_CAPS,
                   qos: str, memory_capacity: int = 0, host_devices: Sequence[Obj] = (),
                   host_ipc: bool = False, min_oom_score_adj: int = -1000) -> Obj:
    """The ``config.json`` of one app (or init) container. ``min_oom_score_adj`` is the lowest score the
    runtime may set: without CAP_SYS_RESOURCE (as on these machines) nothing below the agent's own."""
    c = config.spec
    sc = merged_security_context(pod, c)
    privileged = bool(sc.get("privileged"))
    read_only_root = bool(sc.get("readOnlyRootFilesystem"))
    caps = capabilities(sc, privileged=privileged, all_caps=all_caps)
    process: Obj = {
        "terminal": bool(c.get("tty")),
        "user": {"uid": user.uid, "gid": user.gid,
                 **({"additionalGids": list(user.additional_gids)} if user.additional_gids else {})},
        "args": process_args(config, image),
        "env": process_env(config, image, hostname=hostname),
        "cwd": config.working_dir or image.working_dir or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": rlimits(nofile),
        "oomScoreAdj": max(oom_score_adj(qos, c, memory_capacity=memory_capacity), min_oom_score_adj),
    }
    if sc.get("allowPrivilegeEscalation") is False and not privileged:
        process["noNewPrivileges"] = True
    resources = linux_resources(c)
    linux: Obj = {"cgroupsPath": cgroups_path, "namespaces": namespaces(ns), "resources": resources}
    if privileged:
        resources["devices"] = [{"allow": True, "access": "rwm"}]
        if host_devices:
            linux["devices"] = [dict(d) for d in host_devices]
    else:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    propagation = rootfs_propagation(config.mounts)
    if propagation:
        linux["rootfsPropagation"] = propagation
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": read_only_root},
        "mounts": container_mounts(files, config.mounts, privileged=privileged, read_only_root=read_only_root,
                                   termination_path=c.get("terminationMessagePath") or "/dev/termination-log",
                                   host_ipc=host_ipc),
        "annotations": {k: str(v) for k, v in {**config.labels, **config.annotations}.items()},
        "linux": linux,
    }


def pod_sysctls(pod: Obj) -> dict[str, str]:
    """The pod's namespaced sysctls (securityContext.sysctls), set in the sandbox's namespaces."""
    out: dict[str, str] = {}
    for s in ((pod.get("spec") or {}).get("securityContext") or {}).get("sysctls") or ():
        name = str(s.get("name", "")).replace("/", ".")
        if name in NAMESPACED_SYSCTLS or name.startswith(NAMESPACED_SYSCTL_PREFIXES):
            out[name] = str(s.get("value", ""))
    return out


def sandbox_spec(*, pod: Obj, args: Sequence[str], rootfs: str, hostname: str, netns: str, cgroups_path: str,
                 min_oom_score_adj: int = -1000) -> Obj:
    """The pause container: it holds the pod's IPC and UTS namespaces (and pid, for shareProcessNamespace), sits
    in the pod's netns, and reaps zombies. ``hostNetwork``/``hostIPC``/``hostPID`` keep the host's."""
    spec = pod.get("spec") or {}
    host_net, host_ipc, host_pid = bool(spec.get("hostNetwork")), bool(spec.get("hostIPC")), bool(spec.get("hostPID"))
    caps = ["CAP_KILL"]
    nss: list[Obj] = [{"type": "mount"}]
    if not host_pid:
        nss.append({"type": "pid"})
    if not host_ipc:
        nss.append({"type": "ipc"})
    if not host_net:
        nss.append({"type": "uts"})
        if netns:
            nss.append({"type": "network", "path": netns})
    linux: Obj = {
        "cgroupsPath": cgroups_path, "namespaces": nss,
        "resources": {"devices": [{"allow": False, "access": "rwm"}], "cpu": {"shares": MIN_SHARES}},
        "maskedPaths": list(MASKED_PATHS), "readonlyPaths": list(READONLY_PATHS),
    }
    sysctls = pod_sysctls(pod)
    if host_net:
        sysctls = {k: v for k, v in sysctls.items() if not k.startswith("net.")}
    if sysctls:
        linux["sysctl"] = sysctls
    out: Obj = {
        "ociVersion": OCI_VERSION,
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": list(args), "env": [DEFAULT_PATH],
                    "cwd": "/", "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                    "noNewPrivileges": True, "oomScoreAdj": max(POD_INFRA_OOM_ADJ, min_oom_score_adj)},
        "root": {"path": rootfs, "readonly": True},
        "mounts": [m for m in default_mounts(privileged=False) if m["destination"] != "/sys/fs/cgroup"],
        "linux": linux,
    }
    if not host_net:
        out["hostname"] = hostname
    return out


def exec_process(base: Obj, cmd: Sequence[str], *, tty: bool) -> Obj:
    """The ``process.json`` of ``crun exec``: the container's own process (user, env, cwd, capabilities, limits)
    running ``cmd`` — as containerd's exec does, not the runtime's bare defaults."""
    if not cmd:
        raise SpecError("no command specified")
    proc = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize", "oomScoreAdj")}
    proc["args"] = list(cmd)
    proc["terminal"] = tty
    proc.setdefault("cwd", "/")
    return proc
