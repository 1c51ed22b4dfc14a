"""config.json for typical containers: process, capabilities, namespaces, mounts, cgroups (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.kubelet.images.store import ImageConfig
from pybernetes.kubelet.runtime.interface import ContainerConfig, Mount
from pybernetes.kubelet.runtime.oci import spec

Obj = dict[str, Any]
NGINX = ImageConfig(entrypoint=("/docker-entrypoint.sh",), cmd=("nginx", "-g", "daemon off;"),
                    env=("PATH=/usr/sbin:/usr/bin", "NGINX_VERSION=1.25"), working_dir="/srv", user="",
                    stop_signal="SIGQUIT")
FILES = spec.PodFiles(hosts="/sb/hosts", resolv_conf="/sb/resolv.conf", hostname="/sb/hostname", shm="/sb/shm",
                      termination_log="/c/termination-log")
NS = spec.Namespaces(network="/run/netns/pyb-1", ipc="/proc/10/ns/ipc", uts="/proc/10/ns/uts")


def config(c: Obj | None = None, **kw: Any) -> ContainerConfig:
    c = {"name": "app", "image": "nginx", **(c or {})}
    return ContainerConfig(name=c["name"], image=c["image"], spec=c, **kw)


def build(cfg: ContainerConfig, *, pod: Obj | None = None, image: ImageConfig = NGINX, qos: str = "BestEffort",
          **kw: Any) -> Obj:
    args: Obj = {"pod": pod or {"spec": {}}, "image": image, "user": spec.User(0, 0), "files": FILES, "ns": NS,
                 "rootfs": "/c/rootfs", "cgroups_path": "/pybernetes/besteffort/podU/cid", "hostname": "web-0",
                 "nofile": 20000, "qos": qos, **kw}
    return spec.container_spec(cfg, **args)


@pytest.mark.parametrize(("command", "args", "image", "want"), [
    ((), (), NGINX, ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]),
    ((), ("nginx", "-T"), NGINX, ["/docker-entrypoint.sh", "nginx", "-T"]),
    (("sh",), (), NGINX, ["sh"]),                                         # command drops the image's Cmd
    (("sh", "-c"), ("echo hi",), NGINX, ["sh", "-c", "echo hi"]),
    ((), (), ImageConfig(cmd=("sh",)), ["sh"]),
])
def test_process_args(command: tuple[str, ...], args: tuple[str, ...], image: ImageConfig, want: list[str]) -> None:
    assert spec.process_args(ContainerConfig(name="a", image="i", command=command, args=args), image) == want


def test_no_command_is_an_error() -> None:
    with pytest.raises(spec.SpecError, match="no command specified"):
        spec.process_args(ContainerConfig(name="a", image="i"), ImageConfig())


def test_env_order_and_overrides() -> None:
    cfg = ContainerConfig(name="a", image="i", env=(("NGINX_VERSION", "mine"), ("A", "1")))
    assert spec.process_env(cfg, NGINX, hostname="web-0") == [
        "PATH=/usr/sbin:/usr/bin", "HOSTNAME=web-0", "NGINX_VERSION=mine", "A=1"]
    assert spec.process_env(cfg, ImageConfig(), hostname="h")[0] == spec.DEFAULT_PATH


def test_typical_container() -> None:
    cfg = config({"resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "250m"}}},
                 working_dir="/work", env=(("X", "y"),))
    doc = build(cfg, qos="Burstable", memory_capacity=8 << 30)
    proc = doc["process"]
    assert proc["args"] == ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]
    assert proc["cwd"] == "/work" and "X=y" in proc["env"] and proc["terminal"] is False
    assert proc["user"] == {"uid": 0, "gid": 0}
    assert proc["capabilities"]["bounding"] == list(spec.DEFAULT_CAPS)
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}]
    assert proc["oomScoreAdj"] == 999 and "noNewPrivileges" not in proc
    assert doc["root"] == {"path": "/c/rootfs", "readonly": False}
    assert "hostname" not in doc                             # it joins the pause process's UTS namespace
    linux = doc["linux"]
    assert linux["cgroupsPath"] == "/pybernetes/besteffort/podU/cid"
    assert linux["resources"]["cpu"] == {"shares": 256, "quota": 50000, "period": 100000}
    assert linux["resources"]["memory"] == {"limit": 64 << 20}
    assert linux["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert linux["namespaces"] == [{"type": "mount"}, {"type": "pid"},
                                   {"type": "network", "path": "/run/netns/pyb-1"},
                                   {"type": "ipc", "path": "/proc/10/ns/ipc"},
                                   {"type": "uts", "path": "/proc/10/ns/uts"}]
    assert linux["maskedPaths"] == list(spec.MASKED_PATHS) and linux["readonlyPaths"] == list(spec.READONLY_PATHS)


def dests(doc: Obj) -> dict[str, Obj]:
    return {m["destination"]: m for m in doc["mounts"]}


def test_mounts_defaults_pod_files_and_volumes() -> None:
    vols = (Mount("/data", "/var/lib/pods/u/volumes/data"), Mount("/etc/hosts", "/mine/hosts", read_only=True),
            Mount("/cfg/", "/vol/cfg", read_only=True, propagation="HostToContainer"))
    doc = build(config())
    m = dests(doc)
    assert m["/proc"]["type"] == "proc" and m["/sys"]["options"][-1] == "ro"
    assert m["/dev/shm"] == {"destination": "/dev/shm", "type": "bind", "source": "/sb/shm",
                             "options": ["rbind", "rprivate", "rw"]}
    assert m["/etc/resolv.conf"]["source"] == "/sb/resolv.conf"
    assert m["/dev/termination-log"]["source"] == "/c/termination-log"
    doc = build(ContainerConfig(name="app", image="nginx", mounts=vols, spec={"name": "app"}))
    m = dests(doc)
    assert m["/data"]["options"] == ["rbind", "rprivate", "rw"]
    assert m["/etc/hosts"]["source"] == "/mine/hosts" and m["/etc/hosts"]["options"][-1] == "ro"
    assert m["/cfg"]["options"] == ["rbind", "rslave", "ro"]
    assert doc["linux"]["rootfsPropagation"] == "rslave"
    depths = [d.count("/") for d in (x["destination"] for x in doc["mounts"])]
    assert depths == sorted(depths)                          # parents before children


def test_read_only_root_makes_pod_files_read_only() -> None:
    doc = build(config({"securityContext": {"readOnlyRootFilesystem": True}}))
    m = dests(doc)
    assert doc["root"]["readonly"] is True
    assert m["/etc/hosts"]["options"][-1] == "ro" and m["/dev/shm"]["options"][-1] == "rw"


def test_custom_termination_message_path() -> None:
    m = dests(build(config({"terminationMessagePath": "/tmp/done"})))
    assert "/tmp/done" in m and "/dev/termination-log" not in m


@pytest.mark.parametrize(("sc", "want"), [
    ({}, list(spec.DEFAULT_CAPS)),
    ({"capabilities": {"add": ["NET_ADMIN"], "drop": ["KILL", "CAP_CHOWN"]}},
     [c for c in spec.DEFAULT_CAPS if c not in ("CAP_KILL", "CAP_CHOWN")] + ["CAP_NET_ADMIN"]),
    ({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}, ["CAP_NET_BIND_SERVICE"]),
    ({"capabilities": {"drop": ["ALL"]}}, []),
    ({"capabilities": {"add": ["ALL"], "drop": ["SYS_ADMIN"]}},
     [c for c in spec.CAPS_BY_NUMBER if c != "CAP_SYS_ADMIN"]),
    ({"privileged": True, "capabilities": {"drop": ["ALL"]}}, list(spec.CAPS_BY_NUMBER)),
])
def test_capabilities(sc: Obj, want: list[str]) -> None:
    assert spec.capabilities(sc, privileged=bool(sc.get("privileged"))) == want


def test_all_capabilities_are_the_nodes() -> None:
    node = spec.caps_of_mask(0x000001fffeffffff)              # these machines: no CAP_SYS_RESOURCE (24)
    assert "CAP_SYS_RESOURCE" not in node and len(node) == 40
    assert spec.capabilities({}, privileged=True, all_caps=node) == list(node)
    assert spec.capabilities({"capabilities": {"add": ["ALL"]}}, privileged=False, all_caps=node) == list(node)


def test_privileged() -> None:
    doc = build(config({"securityContext": {"privileged": True}}), host_devices=[{"path": "/dev/fuse"}])
    assert doc["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert doc["linux"]["devices"] == [{"path": "/dev/fuse"}]
    assert "maskedPaths" not in doc["linux"] and dests(doc)["/sys"]["options"][-1] == "rw"
    assert len(doc["process"]["capabilities"]["effective"]) == 41


def test_no_new_privileges_only_when_escalation_is_forbidden() -> None:
    assert build(config({"securityContext": {"allowPrivilegeEscalation": False}}))["process"]["noNewPrivileges"]
    assert "noNewPrivileges" not in build(config({"securityContext": {"allowPrivilegeEscalation": True}}))["process"]


def test_pod_security_context_is_inherited() -> None:
    pod = {"spec": {"securityContext": {"runAsUser": 1000, "runAsNonRoot": True}}}
    c = {"name": "a", "securityContext": {"runAsGroup": 5}}
    assert spec.merged_security_context(pod, c) == {"runAsUser": 1000, "runAsNonRoot": True, "runAsGroup": 5}


@pytest.mark.parametrize(("sc", "uid", "image_user", "error"), [
    ({"runAsNonRoot": True}, 0, "", "image will run as root"),
    ({"runAsNonRoot": True}, 1000, "nginx", r"non-numeric user \(nginx\)"),
    ({"runAsNonRoot": True, "runAsUser": 0}, 0, "", "runAsUser breaks non-root policy"),
    ({"runAsNonRoot": True}, 1000, "1000", None),
    ({}, 0, "", None),
])
def test_run_as_non_root(sc: Obj, uid: int, image_user: str, error: str | None) -> None:
    if error is None:
        spec.check_run_as_non_root(sc, spec.User(uid, 0), image_user)
    else:
        with pytest.raises(spec.SpecError, match=error):
            spec.check_run_as_non_root(sc, spec.User(uid, 0), image_user)


@pytest.mark.parametrize(("qos", "request_", "adj"), [
    ("Guaranteed", "1Gi", -997),
    ("BestEffort", "", 1000),
    ("Burstable", "", 999),                  # 1000 - 0 would be BestEffort's: one less
    ("Burstable", "4Gi", 500),
    ("Burstable", "8Gi", 3),                 # never below 1000 + guaranteed's
])
def test_oom_score_adj(qos: str, request_: str, adj: int) -> None:
    c = {"resources": {"requests": {"memory": request_}}} if request_ else {}
    assert spec.oom_score_adj(qos, c, memory_capacity=8 << 30) == adj


def test_oom_score_adj_floor() -> None:
    doc = build(config({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}), qos="Guaranteed",
                min_oom_score_adj=0)
    assert doc["process"]["oomScoreAdj"] == 0


@pytest.mark.parametrize(("milli", "shares", "quota"), [(0, 2, 0), (1, 2, 1000), (250, 256, 25000),
                                                        (1000, 1024, 100000), (4000, 4096, 400000)])
def test_cpu_conversions(milli: int, shares: int, quota: int) -> None:
    assert spec.milli_cpu_to_shares(milli) == shares
    assert spec.milli_cpu_to_quota(milli) == quota


def test_resources_limit_only_sets_shares_from_the_limit() -> None:
    res = spec.linux_resources({"resources": {"limits": {"cpu": "2"}}}, pids_limit=100)
    assert res["cpu"] == {"shares": 2048, "quota": 200000, "period": 100000}
    assert res["pids"] == {"limit": 100} and "memory" not in res


@pytest.mark.parametrize(("nofile", "want"), [(20000, 20000), (500, 1024), (10 ** 7, spec.MAX_NOFILE)])
def test_rlimits(nofile: int, want: int) -> None:
    assert spec.rlimits(nofile) == [{"type": "RLIMIT_NOFILE", "hard": want, "soft": want}]


def test_host_namespaces() -> None:
    doc = build(config(), ns=spec.Namespaces(host_pid=True), host_ipc=True)
    assert doc["linux"]["namespaces"] == [{"type": "mount"}]
    assert dests(doc)["/dev/shm"]["source"] == "/dev/shm"
    shared = build(config(), ns=spec.Namespaces(pid="/proc/10/ns/pid"))
    assert {"type": "pid", "path": "/proc/10/ns/pid"} in shared["linux"]["namespaces"]


def test_sandbox_spec() -> None:
    pod = {"spec": {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
                                                     {"name": "kernel/shm_rmid_forced", "value": "1"},
                                                     {"name": "vm.swappiness", "value": "1"}]}}}
    doc = spec.sandbox_spec(pod=pod, args=("/bin/sh",), rootfs="/pause", hostname="web-0", netns="/run/netns/x",
                            cgroups_path="/pybernetes/podU/sb")
    assert doc["hostname"] == "web-0" and doc["root"] == {"path": "/pause", "readonly": True}
    assert [n["type"] for n in doc["linux"]["namespaces"]] == ["mount", "pid", "ipc", "uts", "network"]
    assert doc["linux"]["sysctl"] == {"net.ipv4.ip_unprivileged_port_start": "0", "kernel.shm_rmid_forced": "1"}
    assert doc["process"]["oomScoreAdj"] == -998
    host = spec.sandbox_spec(pod={"spec": {"hostNetwork": True, "hostIPC": True, "hostPID": True}}, args=("x",),
                             rootfs="/p", hostname="h", netns="", cgroups_path="/pybernetes/podU/sb",
                             min_oom_score_adj=0)
    assert "hostname" not in host and host["linux"]["namespaces"] == [{"type": "mount"}]
    assert host["process"]["oomScoreAdj"] == 0


def test_exec_process_keeps_the_containers_process() -> None:
    base = build(config(env=(("A", "1"),), working_dir="/w"))["process"]
    proc = spec.exec_process(base, ["ls", "-l"], tty=True)
    assert proc["args"] == ["ls", "-l"] and proc["terminal"] is True
    assert proc["env"] == base["env"] and proc["cwd"] == "/w" and proc["user"] == base["user"]
    assert "oomScoreAdj" not in proc
    with pytest.raises(spec.SpecError):
        spec.exec_process(base, [], tty=False)
