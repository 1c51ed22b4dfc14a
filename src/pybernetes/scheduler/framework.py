"""The scheduler framework's plugin API: one small Protocol per extension point (upstream
``staging/src/k8s.io/kube-scheduler/framework/interface.go``).

A plugin is a class with a ``name`` and the methods of the extension points it implements; the runtime
(``runtime.py``) finds them by Protocol and calls them in profile order. Outcomes are a :class:`Status` with a
closed set of codes telling the framework what to do next; ``None`` means success (as Go's nil status), which
keeps the hot filter loop free of allocations. Per-cycle data travels in :class:`CycleState` (a PreFilter writes,
Filter reads), so plugins hold no pod state.

Everything on the scheduling path is synchronous: one cycle runs without yielding to the event loop, so the
node cache is the snapshot (no copy per cycle). Only the binding cycle (PreBind, Bind, PostBind) is async.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pybernetes.scheduler.cache import NodeInfo
    from pybernetes.scheduler.podinfo import PodInfo

Obj = dict[str, Any]
MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0
MAX_TOTAL_SCORE = (1 << 63) - 1


class Code(enum.IntEnum):
    """What a plugin's verdict tells the framework to do (upstream ``framework.Code``)."""
    SUCCESS = 0
    ERROR = 1           # plugin bug or bad input: retry with backoff, no preemption
    UNSCHEDULABLE = 2   # the pod does not fit here now; preempting other pods might help
    UNRESOLVABLE = 3    # UnschedulableAndUnresolvable: nothing done to other pods on this node will help
    WAIT = 4            # Permit only: hold the pod before binding
    SKIP = 5            # PreFilter/PreScore: this plugin has nothing to do for this pod; Bind: try the next binder
    PENDING = 6         # waiting for something outside the scheduler; no preemption


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's outcome. ``plugin`` names who decided, so a rejected pod is requeued only by events that
    plugin cares about. Plugins may return shared constants; the runtime fills ``plugin`` in when empty."""
    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_rejected(self) -> bool:
        """Unschedulable, unresolvable or pending: a verdict about the pod, not a failure of the scheduler."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNRESOLVABLE, Code.PENDING)

    def is_skip(self) -> bool:
        return self.code == Code.SKIP

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, name: str) -> Status:
        return self if self.plugin == name else Status(self.code, self.reasons, name)


SUCCESS = Status()
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str, plugin: str = "") -> Status:
    return Status(Code.UNSCHEDULABLE, reasons, plugin)


def unresolvable(*reasons: str, plugin: str = "") -> Status:
    return Status(Code.UNRESOLVABLE, reasons, plugin)


def as_error(err: BaseException | str, *, plugin: str = "") -> Status:
    return Status(Code.ERROR, (str(err),), plugin)


def status_code(st: Status | None) -> Code:
    return Code.SUCCESS if st is None else st.code


# ------------------------------------------------------------------------------------------------ cycle state
class StateData(Protocol):
    def clone(self) -> StateData: ...


class CycleState:
    """Data plugins share within one scheduling cycle, keyed by plugin-chosen names.

    ``pod_info`` is the parsed incoming pod (requests, terms, ports: computed once when it was queued).
    ``skip_filter``/``skip_score`` name plugins whose PreFilter/PreScore returned Skip. ``clone`` copies every
    value through its ``clone()`` (preemption evaluates each node on its own copy)."""

    __slots__ = ("_data", "pod_info", "skip_filter", "skip_score")

    def __init__(self, pod_info: PodInfo | None = None) -> None:
        self._data: dict[str, Any] = {}
        self.pod_info = pod_info
        self.skip_filter: frozenset[str] = frozenset()
        self.skip_score: frozenset[str] = frozenset()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """The value at ``key``; KeyError when absent (as upstream's ErrNotFound)."""
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        c = CycleState(self.pod_info)
        c._data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()}
        c.skip_filter, c.skip_score = self.skip_filter, self.skip_score
        return c


# ------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True, slots=True)
class PreFilterResult:
    """Nodes a PreFilter already knows are the only candidates (``None``: all nodes), e.g. NodeAffinity's
    ``metadata.name`` matchFields. Results of several plugins intersect."""
    node_names: frozenset[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


class NominatingMode(enum.Enum):
    NOOP = 0
    OVERRIDE = 1


@dataclass(frozen=True, slots=True)
class NominatingInfo:
    nominated_node_name: str = ""
    mode: NominatingMode = NominatingMode.NOOP


CLEAR_NOMINATED_NODE = NominatingInfo("", NominatingMode.OVERRIDE)


@dataclass(frozen=True, slots=True)
class PostFilterResult:
    nominating: NominatingInfo = NominatingInfo()


class NodeToStatus:
    """The filter verdict per node name; nodes never evaluated get ``absent`` (upstream ``NodeToStatus``).

    The default absent status is UnschedulableAndUnresolvable with no reason: nodes skipped because enough
    feasible nodes were found are not preemption candidates."""

    __slots__ = ("absent", "statuses")

    def __init__(self, statuses: dict[str, Status] | None = None, absent: Status | None = None) -> None:
        self.statuses: dict[str, Status] = statuses if statuses is not None else {}
        self.absent = absent if absent is not None else Status(Code.UNRESOLVABLE)

    def get(self, name: str) -> Status:
        return self.statuses.get(name) or self.absent

    def set(self, name: str, st: Status) -> None:
        self.statuses[name] = st

    def __len__(self) -> int:
        return len(self.statuses)

    def nodes_for_code(self, nodes: Iterable[NodeInfo], code: Code) -> list[NodeInfo]:
        """Nodes (of ``nodes``) whose verdict has ``code``, in the given order."""
        statuses, absent_match = self.statuses, self.absent.code == code
        out = []
        for n in nodes:
            st = statuses.get(n.name)
            if (st.code == code) if st is not None else absent_match:
                out.append(n)
        return out


# ------------------------------------------------------------------------------------------------ cluster events
class ActionType(enum.IntFlag):
    """What changed about an object (upstream ``framework.ActionType``); updates are split by what changed so a
    plugin can ask only for the changes that may make a pod it rejected fit."""
    ADD = 1 << 0
    DELETE = 1 << 1
    UPDATE_NODE_ALLOCATABLE = 1 << 2
    UPDATE_NODE_LABEL = 1 << 3
    UPDATE_NODE_TAINT = 1 << 4
    UPDATE_NODE_CONDITION = 1 << 5
    UPDATE_NODE_ANNOTATION = 1 << 6
    UPDATE_POD_LABEL = 1 << 7
    UPDATE_POD_SCALE_DOWN = 1 << 8
    UPDATE_POD_TOLERATIONS = 1 << 9
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1 << 10
    UPDATE_POD_GENERATED_RESOURCE_CLAIM = 1 << 11
    UPDATE_OTHER = 1 << 12
    UPDATE = ((1 << 13) - 1) & ~3
    ALL = (1 << 13) - 1


POD = "Pod"
ASSIGNED_POD = "AssignedPod"        # resource name used only in event labels
NODE = "Node"
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """A change in the cluster that may make a rejected pod schedulable (``resource`` × ``action``).

    ``hint``, when given, is a queueing hint: ``hint(pod, old, new) -> bool`` says whether this particular
    change may help ``pod`` (upstream QueueingHintFn); without one, every matching event requeues."""
    resource: str
    action: ActionType
    label: str = ""
    hint: Callable[[Obj, Any, Any], bool] | None = field(default=None, compare=False)

    def matches(self, event: ClusterEvent) -> bool:
        """Whether this registration covers ``event`` (a wildcard registration covers everything)."""
        if self.resource == WILDCARD:
            return bool(self.action & event.action)
        return self.resource == event.resource and bool(self.action & event.action)


EVENT_NODE_ADD = ClusterEvent(NODE, ActionType.ADD, "NodeAdd")
EVENT_NODE_DELETE = ClusterEvent(NODE, ActionType.DELETE, "NodeDelete")
EVENT_ASSIGNED_POD_ADD = ClusterEvent(POD, ActionType.ADD, "AssignedPodAdd")
EVENT_ASSIGNED_POD_DELETE = ClusterEvent(POD, ActionType.DELETE, "AssignedPodDelete")
EVENT_UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL, "UnschedulableTimeout")
EVENT_FORCE_ACTIVATE = ClusterEvent(WILDCARD, ActionType.ALL, "ForceActivate")


# ------------------------------------------------------------------------------------------------ plugin protocols
@runtime_checkable
class Plugin(Protocol):
    name: ClassVar[str]


@runtime_checkable
class PreEnqueuePlugin(Protocol):
    """Gate before a pod enters the active queue (SchedulingGates). Non-success keeps it out until updated."""
    name: ClassVar[str]

    def pre_enqueue(self, pod: Obj) -> Status | None: ...


@runtime_checkable
class PreFilterPlugin(Protocol):
    """Once per cycle before filtering: compute per-pod state, reject early, narrow the candidate nodes, or
    return Skip when the pod needs nothing from this plugin (its Filter is then not run)."""
    name: ClassVar[str]

    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]: ...


@runtime_checkable
class PreFilterExtensions(Protocol):
    """Incremental updates of PreFilter state when the framework adds or removes a pod on a node copy
    (nominated pods, preemption dry runs)."""
    def add_pod(self, state: CycleState, pod: Obj, pod_info_to_add: PodInfo, node: NodeInfo) -> Status | None: ...

    def remove_pod(self, state: CycleState, pod: Obj, pod_info_to_remove: PodInfo,
                   node: NodeInfo) -> Status | None: ...


@runtime_checkable
class FilterPlugin(Protocol):
    """Can ``pod`` run on ``node``? Pure CPU work; called for many nodes per cycle, so keep it cheap."""
    name: ClassVar[str]

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status | None: ...


@runtime_checkable
class PostFilterPlugin(Protocol):
    """Runs when no node fits (preemption)."""
    name: ClassVar[str]

    def post_filter(self, state: CycleState, pod: Obj,
                    node_to_status: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]: ...


@runtime_checkable
class PreScorePlugin(Protocol):
    name: ClassVar[str]

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None: ...


@runtime_checkable
class ScorePlugin(Protocol):
    """Rank feasible nodes: ``score`` per node; optionally ``normalize_score(state, pod, scores)`` rewrites the
    list in place to [0, 100], and ``score_nodes(state, pod, nodes) -> list[int]`` scores a whole list at once
    (one call instead of one per node: the same numbers, cheaper in Python)."""
    name: ClassVar[str]

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int: ...


@runtime_checkable
class ReservePlugin(Protocol):
    name: ClassVar[str]

    def reserve(self, state: CycleState, pod: Obj, node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: Obj, node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Protocol):
    """Approve, reject, or hold (Code.WAIT, with a timeout in seconds) a pod before binding."""
    name: ClassVar[str]

    def permit(self, state: CycleState, pod: Obj, node_name: str) -> tuple[Status | None, float]: ...


@runtime_checkable
class PreBindPlugin(Protocol):
    name: ClassVar[str]

    async def pre_bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None: ...


@runtime_checkable
class BindPlugin(Protocol):
    """Bind the pod (Skip: let the next bind plugin do it)."""
    name: ClassVar[str]

    async def bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None: ...


@runtime_checkable
class PostBindPlugin(Protocol):
    name: ClassVar[str]

    def post_bind(self, state: CycleState, pod: Obj, node_name: str) -> None: ...


@runtime_checkable
class EnqueueExtensions(Protocol):
    """The cluster events that may make a pod this plugin rejected schedulable (upstream EventsToRegister)."""
    requeue_on: tuple[ClusterEvent, ...]


# ------------------------------------------------------------------------------------------------ handle
class Recorder(Protocol):
    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None: ...


class Listers(Protocol):
    """Read-only views of other resources some plugins need (informer caches in production)."""
    def services(self, namespace: str) -> list[Obj]: ...
    def controller(self, kind: str, namespace: str, name: str) -> Obj | None: ...   # ReplicaSet, RC, StatefulSet
    def namespace_labels(self, name: str) -> dict[str, str] | None: ...
    def namespaces(self) -> list[Obj]: ...
    def pdbs(self) -> list[Obj]: ...
    def pod(self, namespace: str, name: str) -> Obj | None: ...
    def pvc(self, namespace: str, name: str) -> Obj | None: ...
    def pv(self, name: str) -> Obj | None: ...
    def pvs(self) -> list[Obj]: ...
    def storage_class(self, name: str) -> Obj | None: ...


class StaticListers:
    """Listers over fixed lists (tests, benchmarks)."""

    def __init__(self, *, services: Sequence[Obj] = (), controllers: Sequence[Obj] = (),
                 namespaces: Sequence[Obj] = (), pdbs: Sequence[Obj] = (), pods: Sequence[Obj] = (),
                 pvcs: Sequence[Obj] = (), pvs: Sequence[Obj] = (), storage_classes: Sequence[Obj] = ()) -> None:
        self._services = list(services)
        self._controllers = {(o.get("kind", ""), o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
                             for o in controllers}
        self._namespaces = {o["metadata"]["name"]: o for o in namespaces}
        self._pdbs = list(pdbs)
        self._pods = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in pods}
        self._pvcs = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in pvcs}
        self._pvs = {o["metadata"]["name"]: o for o in pvs}
        self._classes = {o["metadata"]["name"]: o for o in storage_classes}

    def services(self, namespace: str) -> list[Obj]:
        return [s for s in self._services if s["metadata"].get("namespace") == namespace]

    def controller(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self._controllers.get((kind, namespace, name))

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        ns = self._namespaces.get(name)
        return None if ns is None else (ns["metadata"].get("labels") or {})

    def namespaces(self) -> list[Obj]:
        return list(self._namespaces.values())

    def pdbs(self) -> list[Obj]:
        return list(self._pdbs)

    def pod(self, namespace: str, name: str) -> Obj | None:
        return self._pods.get((namespace, name))

    def pvc(self, namespace: str, name: str) -> Obj | None:
        return self._pvcs.get((namespace, name))

    def pv(self, name: str) -> Obj | None:
        return self._pvs.get(name)

    def pvs(self) -> list[Obj]:
        return list(self._pvs.values())

    def storage_class(self, name: str) -> Obj | None:
        return self._classes.get(name)

    def set_pod(self, pod: Obj) -> None:
        self._pods[(pod["metadata"].get("namespace", ""), pod["metadata"]["name"])] = pod


class Snapshot(Protocol):
    """The node cache as plugins see it during a cycle."""
    def node_list(self) -> list[NodeInfo]: ...
    def get(self, name: str) -> NodeInfo | None: ...
    def have_pods_with_affinity(self) -> list[NodeInfo]: ...
    def have_pods_with_required_anti_affinity(self) -> list[NodeInfo]: ...


PluginFactory = Callable[[dict[str, Any], Any], Any]    # (args, handle) -> plugin
