"""CNI: config generation, plugin stdin as libcni builds it, result/error parsing, and the ADD/DEL/CHECK call
sequence against stand-in plugins (shell scripts that log their environment and stdin)."""

from __future__ import annotations

import json
import pathlib
import stat

import pytest

from pybernetes.kubelet.network.cni import (
    CNIError,
    CNINetwork,
    cni_args,
    is_noop_add,
    network_config,
    parse_error,
    parse_result,
    plugin_stdin,
    port_mappings,
    result_ips,
)

POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
       "spec": {"containers": [
           {"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81},
                                   {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"}]},
           {"name": "b", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}}


def test_network_config_shape() -> None:
    net = network_config(pod_cidrs=["10.42.3.0/24"], data_dir="/var/lib/pyb")
    assert net["cniVersion"] == "1.0.0" and net["name"] == "pybernetes"
    br, pm = net["plugins"]
    assert br == {"type": "bridge", "bridge": "pyb0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
                  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.42.3.0/24", "gateway": "10.42.3.1"}]],
                           "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "/var/lib/pyb/cni/networks"}}
    assert pm == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}


def test_network_config_dual_stack_and_options() -> None:
    net = network_config(pod_cidrs=["10.42.0.0/24", "fd00:42::/64"], data_dir="/d", ip_masq=True, mtu=1400,
                         bridge="br9")
    br = net["plugins"][0]
    assert br["ipMasq"] is True and br["mtu"] == 1400 and br["bridge"] == "br9"
    assert br["ipam"]["ranges"][1] == [{"subnet": "fd00:42::/64", "gateway": "fd00:42::1"}]
    assert br["ipam"]["routes"] == [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]


def test_port_mappings_from_host_ports() -> None:
    assert port_mappings(POD) == [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"},
    ]
    assert port_mappings({"spec": {}}) == []


def test_plugin_stdin_runtime_config_only_for_capable_plugins() -> None:
    net = network_config(pod_cidrs=["10.42.0.0/24"], data_dir="/d")
    caps = {"portMappings": [{"hostPort": 1, "containerPort": 2, "protocol": "tcp"}]}
    bridge = json.loads(plugin_stdin(net, net["plugins"][0], prev_result=None, capability_args=caps))
    assert "runtimeConfig" not in bridge and "prevResult" not in bridge
    assert bridge["cniVersion"] == "1.0.0" and bridge["name"] == "pybernetes" and bridge["type"] == "bridge"
    pm = json.loads(plugin_stdin(net, net["plugins"][1], prev_result={"ips": []}, capability_args=caps))
    assert pm["runtimeConfig"] == caps and pm["prevResult"] == {"ips": []}
    empty = json.loads(plugin_stdin(net, net["plugins"][1], prev_result=None, capability_args={}))
    assert "runtimeConfig" not in empty


@pytest.mark.parametrize(("result", "ips"), [
    # bridge result: host bridge, host veth, eth0 in the sandbox
    ({"interfaces": [{"name": "pyb0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/run/netns/x"}],
      "ips": [{"interface": 2, "address": "10.42.0.7/24", "gateway": "10.42.0.1"}]}, ["10.42.0.7"]),
    # an address on a host-side interface is not the pod's
    ({"interfaces": [{"name": "pyb0"}, {"name": "eth0", "sandbox": "/x"}],
      "ips": [{"interface": 0, "address": "10.42.0.1/24"}, {"interface": 1, "address": "10.42.0.9/24"}]},
     ["10.42.0.9"]),
    # no interfaces listed: every address; IPv4 first
    ({"ips": [{"address": "fd00::5/64"}, {"address": "10.1.2.3/16"}]}, ["10.1.2.3", "fd00::5"]),
    ({}, []),
])
def test_result_ips(result: dict, ips: list[str]) -> None:
    assert result_ips(result) == ips


def test_parse_result_and_errors() -> None:
    assert parse_result(b'{"ips": []}') == {"ips": []}
    with pytest.raises(CNIError, match="invalid result"):
        parse_result(b"nope", plugin="bridge")
    with pytest.raises(CNIError, match="not an object"):
        parse_result(b"[1]")
    e = parse_error(b'{"cniVersion":"1.0.0","code":7,"msg":"bad thing","details":"more"}', b"", 1,
                    plugin="bridge", command="ADD")
    assert (e.code, e.msg, e.details) == (7, "bad thing", "more")
    assert str(e) == "plugin type='bridge' failed (ADD): bad thing: more"
    e = parse_error(b"", b"panic: boom\n", 2, plugin="portmap", command="DEL")
    assert e.msg == "panic: boom" and e.code == 0
    assert parse_error(b"", b"", 3, plugin="x", command="ADD").msg == "exit status 3"


def test_cni_args() -> None:
    assert cni_args(POD, "c1") == ("IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web;"
                                   "K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=u-1")


# ---------------------------------------------------------------------------------------------------- invocation

PLUGIN = """#!/bin/sh
log={log}
input=$(cat)
printf '%s %s %s %s %s\\n' "$(basename $0)" "$CNI_COMMAND" "$CNI_IFNAME" "$CNI_CONTAINERID" "$CNI_NETNS" >> $log
printf '%s\\n' "$input" >> $log.stdin
if [ -e {fail} ] && grep -q "$(basename $0) $CNI_COMMAND" {fail}; then
  echo '{{"cniVersion":"1.0.0","code":11,"msg":"failing on purpose"}}'; exit 1
fi
if [ "$CNI_COMMAND" = ADD ]; then
  case "$(basename $0)" in
    bridge) echo '{result}';;
    loopback) echo '{{"cniVersion":"1.0.0","interfaces":[{{"name":"lo"}}]}}';;
    *) printf '%s' "$input" | sed 's/.*"prevResult":\\(.*\\)}}$/\\1/';;
  esac
fi
"""
RESULT = {"cniVersion": "1.0.0", "interfaces": [{"name": "pyb0"}, {"name": "eth0", "sandbox": "/ns"}],
          "ips": [{"interface": 1, "address": "10.42.0.5/24", "gateway": "10.42.0.1"}]}


@pytest.fixture
def plugins(tmp_path: pathlib.Path) -> pathlib.Path:
    d = tmp_path / "plugins"
    d.mkdir()
    for name in ("loopback", "bridge", "portmap"):
        p = d / name
        p.write_text(PLUGIN.format(log=tmp_path / "calls", fail=tmp_path / "fail", result=json.dumps(RESULT)))
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return d


def calls(tmp_path: pathlib.Path) -> list[list[str]]:
    f = tmp_path / "calls"
    return [line.split(" ") for line in f.read_text().splitlines()] if f.exists() else []


def stdins(tmp_path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "calls.stdin").read_text().splitlines()]


async def test_setup_chains_plugins_and_caches(tmp_path: pathlib.Path, plugins: pathlib.Path) -> None:
    net = CNINetwork(data_dir=tmp_path / "data", plugin_dir=str(plugins))
    ips = await net.setup(str(tmp_path), container_id="sb1", pod=POD, pod_cidr="10.42.0.0/24")
    assert ips == ["10.42.0.5"]
    got = [c[:4] for c in calls(tmp_path)]
    # loopback runs beside the chain (its own network); the chain itself runs in order
    assert sorted(got) == [["bridge", "ADD", "eth0", "sb1"], ["loopback", "ADD", "lo", "sb1"],
                           ["portmap", "ADD", "eth0", "sb1"]]
    chain = [["bridge", "ADD", "eth0", "sb1"], ["portmap", "ADD", "eth0", "sb1"]]
    assert [c for c in got if c[0] != "loopback"] == chain
    by_type = {s["type"]: s for s in stdins(tmp_path)}
    br, pm = by_type["bridge"], by_type["portmap"]
    assert by_type["loopback"]["name"] == "cni-loopback"
    assert "prevResult" not in br and br["ipam"]["ranges"][0][0]["subnet"] == "10.42.0.0/24"
    assert pm["prevResult"] == RESULT
    assert pm["runtimeConfig"]["portMappings"][0] == {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}
    conf = json.loads((tmp_path / "data" / "cni" / "10-pybernetes.conflist").read_text())
    assert conf["plugins"][0]["ipam"]["dataDir"] == str(tmp_path / "data" / "cni" / "networks")
    assert net.cached_ips("sb1") == ["10.42.0.5"]


async def test_setup_without_host_ports_skips_portmap_add_but_not_del(tmp_path: pathlib.Path,
                                                                      plugins: pathlib.Path) -> None:
    pod = {"metadata": {"name": "plain", "namespace": "shop", "uid": "u-2"},
           "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}}
    net = CNINetwork(data_dir=tmp_path / "data", plugin_dir=str(plugins))
    assert await net.setup(str(tmp_path), container_id="sb9", pod=pod, pod_cidr="10.42.0.0/24") == ["10.42.0.5"]
    assert sorted(c[:2] for c in calls(tmp_path)) == [["bridge", "ADD"], ["loopback", "ADD"]]
    await net.teardown(str(tmp_path), container_id="sb9")
    assert [c[:2] for c in calls(tmp_path)][-2:] == [["portmap", "DEL"], ["bridge", "DEL"]]


@pytest.mark.parametrize(("plugin", "caps", "noop"), [
    ({"type": "portmap", "capabilities": {"portMappings": True}}, {"portMappings": []}, True),
    ({"type": "portmap", "capabilities": {"portMappings": True}}, {}, True),
    ({"type": "portmap", "capabilities": {"portMappings": True}}, {"portMappings": [{"hostPort": 1}]}, False),
    ({"type": "bridge"}, {"portMappings": []}, False),
    ({"type": "bandwidth"}, {}, False),
])
def test_is_noop_add(plugin: dict, caps: dict, noop: bool) -> None:
    assert is_noop_add(plugin, caps) is noop


async def test_failed_loopback_rolls_the_chain_back(tmp_path: pathlib.Path, plugins: pathlib.Path) -> None:
    (tmp_path / "fail").write_text("loopback ADD\n")
    net = CNINetwork(data_dir=tmp_path / "data", plugin_dir=str(plugins))
    with pytest.raises(CNIError) as info:
        await net.setup(str(tmp_path), container_id="sb4", pod=POD, pod_cidr="10.42.0.0/24")
    assert info.value.plugin == "loopback"
    assert [c[:2] for c in calls(tmp_path)][-2:] == [["portmap", "DEL"], ["bridge", "DEL"]]
    assert net.cached_ips("sb4") == []


async def test_teardown_reverse_order_from_cache_and_idempotent(tmp_path: pathlib.Path,
                                                                plugins: pathlib.Path) -> None:
    net = CNINetwork(data_dir=tmp_path / "data", plugin_dir=str(plugins))
    await net.setup(str(tmp_path), container_id="sb1", pod=POD, pod_cidr="10.42.0.0/24")
    (tmp_path / "calls").unlink()
    (tmp_path / "calls.stdin").unlink()
    await net.teardown(str(tmp_path), container_id="sb1")           # no pod object needed
    assert [c[:2] for c in calls(tmp_path)] == [["portmap", "DEL"], ["bridge", "DEL"]]
    pm, br = stdins(tmp_path)
    assert pm["prevResult"] == RESULT and pm["runtimeConfig"]["portMappings"][0]["hostPort"] == 8080
    assert br["prevResult"] == RESULT
    assert net.cached_ips("sb1") == []
    # again: no cache any more, still a DEL (host-local releases by container id), and no error
    await net.teardown(str(tmp_path / "gone-netns"), container_id="sb1")
    last = calls(tmp_path)[-2:]
    assert [c[:2] for c in last] == [["portmap", "DEL"], ["bridge", "DEL"]]
    assert all(c[4] == "" for c in last)                            # a namespace that is gone is not passed


async def test_teardown_without_any_config_does_nothing(tmp_path: pathlib.Path, plugins: pathlib.Path) -> None:
    net = CNINetwork(data_dir=tmp_path / "data", plugin_dir=str(plugins))
    await net.teardown("/nonexistent", container_id="never")
    assert calls(tmp_path) == []


async def test_failed_add_is_rolled_back(tmp_path: pathlib.Path, plugins: pathlib.Path) -> None:
    (tmp_path / "fail").write_text("portmap ADD\n")
    net = CNINetwork(data_dir=tmp_path / "data", plugin_dir=str(plugins))
    with pytest.raises(CNIError) as info:
        await net.setup(str(tmp_path), container_id="sb2", pod=POD, pod_cidr="10.42.0.0/24")
    assert info.value.code == 11 and info.value.plugin == "portmap"
    assert [c[:2] for c in calls(tmp_path)][-2:] == [["portmap", "DEL"], ["bridge", "DEL"]]
    assert net.cached_ips("sb2") == []


async def test_check_uses_cached_result(tmp_path: pathlib.Path, plugins: pathlib.Path) -> None:
    net = CNINetwork(data_dir=tmp_path / "data", plugin_dir=str(plugins))
    with pytest.raises(CNIError, match="no cached network result"):
        await net.check(str(tmp_path), container_id="sb3")
    await net.setup(str(tmp_path), container_id="sb3", pod=POD, pod_cidr="10.42.0.0/24")
    await net.check(str(tmp_path), container_id="sb3")
    # portmap's CHECK is skipped for IPv4-only results (containernetworking/plugins#819)
    assert [c[:2] for c in calls(tmp_path)][-1:] == [["bridge", "CHECK"]]
    (tmp_path / "fail").write_text("bridge CHECK\n")
    with pytest.raises(CNIError, match="failing on purpose"):
        await net.check(str(tmp_path), container_id="sb3")


async def test_missing_plugin_and_cidr(tmp_path: pathlib.Path) -> None:
    net = CNINetwork(data_dir=tmp_path / "data", plugin_dir=str(tmp_path / "nowhere"))
    with pytest.raises(CNIError, match="no podCIDR"):
        await net.setup("/x", container_id="c", pod=POD, pod_cidr="")
    with pytest.raises(CNIError, match=r"failed to find plugin '(loopback|bridge)'"):
        await net.setup("/x", container_id="c", pod=POD, pod_cidr="10.42.0.0/24")
