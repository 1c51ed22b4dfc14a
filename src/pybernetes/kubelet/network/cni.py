"""CNI 1.0.0 for pod sandboxes: the standard plugins (loopback, bridge + host-local, portmap) run as libcni runs
them for containerd.

One network config list, ``pybernetes``, is generated from the node's podCIDR and written to
``<data-dir>/cni/10-pybernetes.conflist`` (for people and tools; the plugins get their config on stdin):

- ``bridge`` on ``pyb0`` with ``isGateway`` (the bridge holds the podCIDR's first address, the pods' default
  route, and the plugin turns on ``ip_forward``) and ``hairpinMode`` (a pod reaching itself through its Service
  is sent back out of its own bridge port); ``ipMasq`` is off by default because nodes route pod CIDRs to each
  other and NetworkPolicy needs the real source address — kube-proxy masquerades what leaves the cluster;
- ``host-local`` IPAM over the podCIDR with gateway ``.1`` and a default route, its state under
  ``<data-dir>/cni/networks`` so an agent's IPs are its own and are released by ``DEL``;
- ``portmap`` with ``capabilities: {portMappings: true}``: the runtime config carries the containers'
  ``hostPort`` mappings (libcni injects ``runtimeConfig`` only into plugins that declare the capability).

``ADD`` runs loopback on ``lo`` beside the chain on ``eth0`` (each chained plugin receiving the previous one's
result as ``prevResult``; portmap is skipped when the pod has no host ports, see :func:`is_noop_add`); the final
result is cached (as libcni's ``/var/lib/cni/results``) together with the config and
port mappings used, so ``DEL`` — in reverse order — and ``CHECK`` work after the pod object is gone or the
podCIDR changed. ``DEL`` is idempotent: it succeeds when nothing was set up, when the namespace is gone, and when
run twice. A failed ``ADD`` is rolled back with ``DEL`` so host-local never leaks the address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)
Obj = dict[str, Any]

CNI_VERSION = "1.0.0"
PLUGIN_DIR = "/usr/lib/cni"
NETWORK_NAME = "pybernetes"
BRIDGE = "pyb0"
IFNAME = "eth0"
CONFLIST = "10-pybernetes.conflist"
TIMEOUT = 60.0
LOOPBACK_CONF: Obj = {"cniVersion": CNI_VERSION, "name": "cni-loopback", "type": "loopback"}
CAPABILITIES = ("portMappings",)


class CNIError(Exception):
    """A plugin failed. ``code``/``msg``/``details`` are the CNI error fields (``code`` 0 for a crash that printed
    no CNI error); ``plugin`` and ``command`` say which call failed."""

    def __init__(self, msg: str, *, plugin: str = "", command: str = "", code: int = 0, details: str = "") -> None:
        self.msg, self.plugin, self.command, self.code, self.details = msg, plugin, command, code, details
        text = f"plugin type={plugin!r} failed ({command}): {msg}" if plugin else msg
        if details:
            text += f": {details}"
        super().__init__(text)


# ---------------------------------------------------------------------------------------------------- pure parts

def gateway_of(cidr: str) -> str:
    """The first host address of a podCIDR: the bridge's address and the pods' gateway."""
    net = ipaddress.ip_network(cidr, strict=False)
    return str(net.network_address + 1)


def network_config(*, pod_cidrs: Sequence[str], data_dir: pathlib.Path | str, bridge: str = BRIDGE,
                   ip_masq: bool = False, mtu: int = 0, name: str = NETWORK_NAME) -> Obj:
    """The network config list for a node whose podCIDRs are ``pod_cidrs`` (one per IP family)."""
    ranges = [[{"subnet": str(ipaddress.ip_network(c, strict=False)), "gateway": gateway_of(c)}] for c in pod_cidrs]
    routes = [{"dst": "0.0.0.0/0" if ipaddress.ip_network(c, strict=False).version == 4 else "::/0"}
              for c in pod_cidrs]
    br: Obj = {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": ip_masq, "hairpinMode": True,
               "ipam": {"type": "host-local", "ranges": ranges, "routes": routes,
                        "dataDir": str(pathlib.Path(data_dir) / "cni" / "networks")}}
    if mtu:
        br["mtu"] = mtu
    return {"cniVersion": CNI_VERSION, "name": name,
            "plugins": [br, {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}]}


def port_mappings(pod: Obj) -> list[Obj]:
    """The pod's ``hostPort`` mappings in the shape portmap's ``runtimeConfig.portMappings`` takes (upstream
    ``kubecontainer.MakePortMappings`` over the pod's containers: protocol lower-cased, defaults to TCP, duplicates
    dropped)."""
    out: list[Obj] = []
    seen: set[tuple[str, int, str]] = set()
    for c in (pod.get("spec") or {}).get("containers") or ():
        for p in c.get("ports") or ():
            host_port = int(p.get("hostPort") or 0)
            if host_port <= 0:
                continue
            proto = (p.get("protocol") or "TCP").lower()
            host_ip = p.get("hostIP") or ""
            key = (proto, host_port, host_ip)
            if key in seen:
                continue
            seen.add(key)
            m: Obj = {"hostPort": host_port, "containerPort": int(p.get("containerPort") or 0), "protocol": proto}
            if host_ip:
                m["hostIP"] = host_ip
            out.append(m)
    return out


def plugin_stdin(net: Obj, plugin: Obj, *, prev_result: Obj | None, capability_args: Mapping[str, Any]) -> bytes:
    """One plugin's config as libcni builds it from a list: the list's ``cniVersion`` and ``name``, the plugin's
    own keys, ``runtimeConfig`` for the capabilities it declares, and ``prevResult`` when chained."""
    conf: Obj = {"cniVersion": net.get("cniVersion", CNI_VERSION), "name": net.get("name", NETWORK_NAME)}
    conf.update(plugin)
    caps = plugin.get("capabilities") or {}
    runtime = {k: v for k, v in capability_args.items() if caps.get(k)}
    if runtime:
        conf["runtimeConfig"] = runtime
    if prev_result is not None:
        conf["prevResult"] = prev_result
    return json.dumps(conf, separators=(",", ":")).encode()


def parse_error(stdout: bytes, stderr: bytes, returncode: int, *, plugin: str, command: str) -> CNIError:
    """A failed call's error: the CNI error JSON a plugin prints on stdout, else whatever it said."""
    try:
        err = json.loads(stdout)
        if isinstance(err, dict) and ("msg" in err or "code" in err):
            return CNIError(str(err.get("msg") or ""), plugin=plugin, command=command, code=int(err.get("code") or 0),
                            details=str(err.get("details") or ""))
    except ValueError:
        pass
    text = (stderr or stdout).decode(errors="replace").strip() or f"exit status {returncode}"
    return CNIError(text, plugin=plugin, command=command)


def parse_result(raw: bytes, *, plugin: str = "") -> Obj:
    """A successful ADD's stdout as a CNI result object."""
    try:
        result = json.loads(raw)
    except ValueError as e:
        raise CNIError(f"invalid result: {e}", plugin=plugin, command="ADD") from None
    if not isinstance(result, dict):
        raise CNIError("invalid result: not an object", plugin=plugin, command="ADD")
    return result


def result_ips(result: Obj) -> list[str]:
    """The pod's addresses (no prefix length): the ``ips`` on the interface inside the sandbox, IPv4 first as
    the kubelet orders ``podIPs``; when no interface says so, every address."""
    ifaces = result.get("interfaces") or []
    inside = {i for i, iface in enumerate(ifaces) if isinstance(iface, dict) and iface.get("sandbox")}
    ips: list[str] = []
    for entry in result.get("ips") or ():
        idx = entry.get("interface")
        if inside and idx is not None and idx not in inside:
            continue
        addr = str(entry.get("address") or "").partition("/")[0]
        if addr and addr not in ips:
            ips.append(addr)
    return sorted(ips, key=lambda a: ipaddress.ip_address(a).version)


def is_noop_add(plugin: Obj, capability_args: Mapping[str, Any]) -> bool:
    """Whether an ``ADD`` of this chained plugin would only echo its ``prevResult``: portmap with no port
    mappings returns at once (every plugins release checks this first), so the exec — a Go binary, ~10 ms and
    a core's worth of start-up under a burst — is skipped, its result being the previous one. ``DEL`` still runs
    it (it cleans up by container ID whatever a previous ADD made)."""
    return plugin.get("type") == "portmap" and not capability_args.get("portMappings")


def cni_args(pod: Obj, container_id: str) -> str:
    """``CNI_ARGS`` as containerd sets them (plugins that do not know a key ignore it: ``IgnoreUnknown=1``)."""
    meta = pod.get("metadata") or {}
    return ";".join((
        "IgnoreUnknown=1", f"K8S_POD_NAMESPACE={meta.get('namespace', '')}", f"K8S_POD_NAME={meta.get('name', '')}",
        f"K8S_POD_INFRA_CONTAINER_ID={container_id}", f"K8S_POD_UID={meta.get('uid', '')}"))


# ---------------------------------------------------------------------------------------------------- invocation

class CNINetwork:
    """The node's pod network: ``setup``/``teardown``/``check`` one sandbox's network namespace.

    ``data_dir`` is the agent's data directory: configs go to ``<data_dir>/cni/``, host-local state to
    ``<data_dir>/cni/networks/``, cached results to ``<data_dir>/cni/results/``."""

    def __init__(self, *, data_dir: pathlib.Path | str, plugin_dir: str = PLUGIN_DIR, bridge: str = BRIDGE,
                 ip_masq: bool = False, mtu: int = 0, name: str = NETWORK_NAME, timeout: float = TIMEOUT) -> None:
        self.data_dir = pathlib.Path(data_dir)
        self.plugin_dir = plugin_dir
        self.bridge = bridge
        self.ip_masq = ip_masq
        self.mtu = mtu
        self.name = name
        self.timeout = timeout
        self._written: str = ""

    @property
    def conf_dir(self) -> pathlib.Path:
        return self.data_dir / "cni"

    def config(self, pod_cidr: str) -> Obj:
        cidrs = [c.strip() for c in pod_cidr.split(",") if c.strip()]
        if not cidrs:
            raise CNIError("the node has no podCIDR yet")
        return network_config(pod_cidrs=cidrs, data_dir=self.data_dir, bridge=self.bridge, ip_masq=self.ip_masq,
                              mtu=self.mtu, name=self.name)

    def write_config(self, net: Obj) -> pathlib.Path:
        """Write the config list (atomically, only when it changed) and return its path."""
        text = json.dumps(net, indent=2) + "\n"
        path = self.conf_dir / CONFLIST
        if text != self._written:
            self.conf_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, text.encode())
            self._written = text
        return path

    def _cache_path(self, container_id: str) -> pathlib.Path:
        return self.conf_dir / "results" / f"{self.name}-{container_id}-{IFNAME}"

    def _env(self, command: str, *, container_id: str, netns: str, ifname: str, args: str) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": command,
                "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": ifname,
                "CNI_PATH": self.plugin_dir, "CNI_ARGS": args}

    async def _invoke(self, plugin: str, stdin: bytes, env: Mapping[str, str]) -> bytes:
        exe = os.path.join(self.plugin_dir, plugin)
        command = env.get("CNI_COMMAND", "")
        if not os.access(exe, os.X_OK):
            raise CNIError(f"failed to find plugin {plugin!r} in path [{self.plugin_dir}]", plugin=plugin,
                           command=command)
        proc = await asyncio.create_subprocess_exec(exe, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE, env=dict(env))
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CNIError(f"timed out after {self.timeout:g}s", plugin=plugin, command=command) from None
        if proc.returncode != 0:
            raise parse_error(out, err, proc.returncode or 0, plugin=plugin, command=command)
        return out

    async def setup(self, netns_path: str, *, container_id: str, pod: Obj, pod_cidr: str) -> list[str]:
        """Attach the sandbox's network namespace to the pod network; returns the pod's IPs (IPv4 first)."""
        net = self.config(pod_cidr)
        self.write_config(net)
        args = cni_args(pod, container_id)
        caps: Obj = {"portMappings": port_mappings(pod)}
        lo_env = self._env("ADD", container_id=container_id, netns=netns_path, ifname="lo", args=args)
        # loopback is a network of its own (as containerd's go-cni sets it up), so it runs beside the chain
        lo = asyncio.ensure_future(self._invoke("loopback", json.dumps(LOOPBACK_CONF).encode(), lo_env))
        env = self._env("ADD", container_id=container_id, netns=netns_path, ifname=IFNAME, args=args)
        result: Obj | None = None
        try:
            for plugin in net["plugins"]:
                if is_noop_add(plugin, caps):
                    continue
                out = await self._invoke(plugin["type"], plugin_stdin(net, plugin, prev_result=result,
                                                                      capability_args=caps), env)
                result = parse_result(out, plugin=plugin["type"])
            await lo
            assert result is not None
            ips = result_ips(result)
            if not ips:
                raise CNIError("the network result has no IP address for the pod", plugin=net["plugins"][0]["type"],
                               command="ADD")
            self._save(container_id, {"kind": "cniCacheV1", "containerId": container_id, "ifName": IFNAME,
                                      "networkName": net["name"], "config": net, "cniArgs": args,
                                      "capabilityArgs": caps, "result": result})
        except BaseException:
            await asyncio.shield(asyncio.gather(lo, return_exceptions=True))     # never left running or unread
            try:
                await asyncio.shield(self._delete(net, container_id=container_id, netns=netns_path, args=args,
                                                  caps=caps, result=result))
            except Exception:
                log.warning("rolling back a failed CNI ADD failed", exc_info=True,
                            extra={"container_id": container_id})
            raise
        log.debug("pod network set up", extra={"container_id": container_id, "ips": ips})
        return ips

    async def teardown(self, netns_path: str, *, container_id: str, pod: Obj | None = None) -> None:
        """Detach the sandbox from the pod network and release its IPs. Safe to repeat, and when nothing was set
        up; works from the cached ADD (config, port mappings) so the pod object is not needed."""
        cached = self._load(container_id)
        if cached is not None:
            net, args, caps, result = (cached["config"], cached.get("cniArgs", ""), cached.get("capabilityArgs") or {},
                                       cached.get("result"))
        else:
            net = self._on_disk_config()
            if net is None:
                return                      # no config was ever written: nothing can have been set up
            args = cni_args(pod or {}, container_id)
            caps, result = {"portMappings": port_mappings(pod or {})}, None
        await self._delete(net, container_id=container_id, netns=netns_path, args=args, caps=caps, result=result)
        self._cache_path(container_id).unlink(missing_ok=True)

    async def check(self, netns_path: str, *, container_id: str) -> None:
        """CNI ``CHECK``: each plugin verifies the namespace still matches the cached result; raises CNIError."""
        cached = self._load(container_id)
        if cached is None:
            raise CNIError(f"no cached network result for container {container_id}", command="CHECK")
        net = cached["config"]
        env = self._env("CHECK", container_id=container_id, netns=netns_path, ifname=IFNAME,
                        args=cached.get("cniArgs", ""))
        v6 = any(":" in ip for ip in result_ips(cached.get("result") or {}))
        for plugin in net["plugins"]:
            if plugin["type"] == "portmap" and not v6:
                continue        # portmap ≤ 1.2 checks IPv6 chains it never made (containernetworking/plugins#819)
            await self._invoke(plugin["type"], plugin_stdin(net, plugin, prev_result=cached.get("result"),
                                                            capability_args=cached.get("capabilityArgs") or {}), env)

    async def _delete(self, net: Obj, *, container_id: str, netns: str, args: str, caps: Mapping[str, Any],
                      result: Obj | None) -> None:
        # a namespace that is gone is passed as none at all: the plugins then only release their host-side state
        ns = netns if netns and _exists(netns) else ""
        env = self._env("DEL", container_id=container_id, netns=ns, ifname=IFNAME, args=args)
        errors: list[CNIError] = []
        for plugin in reversed(net["plugins"]):
            try:
                await self._invoke(plugin["type"], plugin_stdin(net, plugin, prev_result=result,
                                                                capability_args=caps), env)
            except CNIError as e:
                errors.append(e)
        if errors:
            raise errors[0]

    def _save(self, container_id: str, entry: Obj) -> None:
        path = self._cache_path(container_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, json.dumps(entry).encode())

    def _load(self, container_id: str) -> Obj | None:
        try:
            entry = json.loads(self._cache_path(container_id).read_bytes())
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and isinstance(entry.get("config"), dict) else None

    def _on_disk_config(self) -> Obj | None:
        try:
            net = json.loads((self.conf_dir / CONFLIST).read_bytes())
        except (OSError, ValueError):
            return None
        return net if isinstance(net, dict) and isinstance(net.get("plugins"), list) else None

    def cached_ips(self, container_id: str) -> list[str]:
        """The IPs a sandbox got at ADD (an agent adopting sandboxes it left running)."""
        cached = self._load(container_id)
        return result_ips(cached.get("result") or {}) if cached else []


def _exists(path: str) -> bool:
    return os.path.exists(path)


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
