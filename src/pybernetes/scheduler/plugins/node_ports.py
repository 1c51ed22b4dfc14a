"""NodePorts: a pod's host ports must be free on the node (upstream ``plugins/nodeports``).

A port bound on 0.0.0.0 conflicts with the same protocol/port on any address, and the other way round. PreFilter
Skips pods without host ports, which is nearly all of them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pybernetes.scheduler.framework import (
    NODE,
    POD,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    FilterPlugin,
    PreFilterResult,
    Status,
    unschedulable,
)
from pybernetes.scheduler.podinfo import host_ports

Obj = dict[str, Any]
NAME = "NodePorts"
PRE_FILTER_KEY = "PreFilter" + NAME
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECT = unschedulable(ERR_REASON, plugin=NAME)


def fits_ports(ports: tuple[tuple[str, str, int], ...], node: Any) -> bool:
    return not any(node.port_conflict(ip, proto, port) for ip, proto, port in ports)


def fits(pod: Obj, node: Any) -> bool:
    return fits_ports(host_ports(pod), node)


class NodePorts:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(POD, ActionType.DELETE),
                  ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT))

    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        ports = state.pod_info.host_ports if state.pod_info is not None else host_ports(pod)
        if not ports:
            return None, SKIP
        state.write(PRE_FILTER_KEY, ports)
        return None, None

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        ports = state.get(PRE_FILTER_KEY)
        if ports is None:
            ports = host_ports(pod)
        return None if fits_ports(ports, node) else _REJECT


def new(args: dict[str, Any], handle: Any) -> NodePorts:
    return NodePorts()


_: FilterPlugin = NodePorts()
