"""The resource registry: every served group/version/resource with its kind, scope, names, verbs and subresources.

Built-in resources are declared in :data:`BUILTIN` below (facts as upstream's discovery documents for 1.33);
CustomResourceDefinitions add entries at run time through :meth:`Registry.add` and :meth:`Registry.remove`.
Several versions of one resource share a storage location (``storage``) and convert through the storage version
(for instance autoscaling/v1 and v2 HorizontalPodAutoscalers, core and events.k8s.io Events).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from pybernetes.api.strategy import Strategy

STANDARD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE = ("create", "delete", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)
READ_ONLY = ("get", "list")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str
    verbs: tuple[str, ...]
    # The kind served at the subresource when it is not the parent's (e.g. scale → autoscaling/v1 Scale).
    group: str | None = None
    version: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD
    subresources: tuple[Subresource, ...] = ()
    # Where objects live in the store: "group/plural" (core: "core/plural"); shared by versions of one resource.
    storage: str = ""
    storage_version: str = ""          # apiVersion objects are stored in (e.g. "autoscaling/v2"); conversion if ≠
    message: str | None = None         # schema message for built-ins; None for custom resources
    custom: bool = False               # served from a CRD
    crd_name: str = ""
    strategy: Strategy = field(default_factory=Strategy, compare=False)
    list_kind: str = ""
    # Custom resources only: the version's OpenAPI v3 schema (JSONSchemaProps as a dict), its
    # additionalPrinterColumns, and the scale subresource's paths (specReplicasPath, statusReplicasPath,
    # labelSelectorPath) — all straight from the CRD.
    openapi_schema: dict | None = field(default=None, compare=False)
    printer_columns: tuple[dict, ...] = field(default=(), compare=False)
    scale_paths: dict | None = field(default=None, compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None

    def key_prefix(self, namespace: str | None = None) -> str:
        """Store key prefix for a list: all namespaces when ``namespace`` is falsy."""
        base = f"/registry/{self.storage}/"
        if self.namespaced and namespace:
            return f"{base}{namespace}/"
        return base

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"/registry/{self.storage}/{namespace}/{name}"
        return f"/registry/{self.storage}/{name}"


def _status() -> Subresource:
    return Subresource("status", STATUS_VERBS)


def _scale() -> Subresource:
    return Subresource("scale", STATUS_VERBS, "autoscaling", "v1", "Scale")


def _r(gv: str, kind: str, plural: str, *, ns: bool = True, short: tuple[str, ...] = (),
       cats: tuple[str, ...] = (), verbs: tuple[str, ...] = STANDARD, subs: tuple[Subresource, ...] = (),
       storage_version: str | None = None, storage: str | None = None) -> Resource:
    group, _, version = gv.rpartition("/")
    return Resource(group=group, version=version, kind=kind, plural=plural, singular=kind.lower(), namespaced=ns,
                    short_names=short, categories=cats, verbs=verbs, subresources=subs,
                    storage=storage or f"{group or 'core'}/{plural}", storage_version=storage_version or gv,
                    list_kind=f"{kind}List")


ALL = ("all",)
POD_SUBS = (
    Subresource("attach", ("create", "get")), Subresource("binding", CREATE_ONLY),
    Subresource("ephemeralcontainers", STATUS_VERBS), Subresource("eviction", CREATE_ONLY, "policy", "v1", "Eviction"),
    Subresource("exec", ("create", "get")), Subresource("log", ("get",)), Subresource("portforward", ("create", "get")),
    Subresource("proxy", ("create", "delete", "get", "patch", "update")), Subresource("resize", STATUS_VERBS),
    _status(),
)

BUILTIN: tuple[Resource, ...] = (
    # core/v1
    _r("v1", "Binding", "bindings", verbs=CREATE_ONLY),
    _r("v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("v1", "Endpoints", "endpoints", short=("ep",)),
    _r("v1", "Event", "events", short=("ev",)),
    _r("v1", "LimitRange", "limitranges", short=("limits",)),
    _r("v1", "Namespace", "namespaces", ns=False, short=("ns",), verbs=NO_COLLECTION_DELETE,
       subs=(Subresource("finalize", ("update",)), _status())),
    _r("v1", "Node", "nodes", ns=False, short=("no",),
       subs=(Subresource("proxy", ("create", "delete", "get", "patch", "update")), _status())),
    _r("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), subs=(_status(),)),
    _r("v1", "PersistentVolume", "persistentvolumes", ns=False, short=("pv",), subs=(_status(),)),
    _r("v1", "Pod", "pods", short=("po",), cats=ALL, subs=POD_SUBS),
    _r("v1", "PodTemplate", "podtemplates"),
    _r("v1", "ReplicationController", "replicationcontrollers", short=("rc",), cats=ALL, subs=(_scale(), _status())),
    _r("v1", "ResourceQuota", "resourcequotas", short=("quota",), subs=(_status(),)),
    _r("v1", "Secret", "secrets"),
    _r("v1", "ServiceAccount", "serviceaccounts", short=("sa",),
       subs=(Subresource("token", CREATE_ONLY, "authentication.k8s.io", "v1", "TokenRequest"),)),
    _r("v1", "Service", "services", short=("svc",), cats=ALL,
       subs=(Subresource("proxy", ("create", "delete", "get", "patch", "update")), _status())),
    # apiregistration.k8s.io/v1
    _r("apiregistration.k8s.io/v1", "APIService", "apiservices", ns=False, cats=("api-extensions",),
       subs=(_status(),)),
    # apps/v1
    _r("apps/v1", "ControllerRevision", "controllerrevisions"),
    _r("apps/v1", "DaemonSet", "daemonsets", short=("ds",), cats=ALL, subs=(_status(),)),
    _r("apps/v1", "Deployment", "deployments", short=("deploy",), cats=ALL, subs=(_scale(), _status())),
    _r("apps/v1", "ReplicaSet", "replicasets", short=("rs",), cats=ALL, subs=(_scale(), _status())),
    _r("apps/v1", "StatefulSet", "statefulsets", short=("sts",), cats=ALL, subs=(_scale(), _status())),
    # authentication.k8s.io/v1
    _r("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", ns=False, verbs=CREATE_ONLY),
    _r("authentication.k8s.io/v1", "TokenReview", "tokenreviews", ns=False, verbs=CREATE_ONLY),
    # authorization.k8s.io/v1
    _r("authorization.k8s.io/v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", verbs=CREATE_ONLY),
    _r("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", ns=False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io/v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", ns=False, verbs=CREATE_ONLY),
    _r("authorization.k8s.io/v1", "SubjectAccessReview", "subjectaccessreviews", ns=False, verbs=CREATE_ONLY),
    # autoscaling: v2 is the storage (and preferred) version, v1 converts
    _r("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",), cats=ALL,
       subs=(_status(),)),
    _r("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",), cats=ALL,
       subs=(_status(),), storage_version="autoscaling/v2"),
    # batch/v1
    _r("batch/v1", "CronJob", "cronjobs", short=("cj",), cats=ALL, subs=(_status(),)),
    _r("batch/v1", "Job", "jobs", cats=ALL, subs=(_status(),)),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io/v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
    # events.k8s.io/v1 shares storage with core v1 events
    _r("events.k8s.io/v1", "Event", "events", short=("ev",), storage="core/events", storage_version="v1"),
    # networking.k8s.io/v1
    _r("networking.k8s.io/v1", "IngressClass", "ingressclasses", ns=False),
    _r("networking.k8s.io/v1", "Ingress", "ingresses", short=("ing",), subs=(_status(),)),
    _r("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    # policy/v1
    _r("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",), subs=(_status(),)),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", ns=False),
    _r("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", ns=False),
    _r("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io/v1", "Role", "roles"),
    # scheduling.k8s.io/v1
    _r("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", ns=False, short=("pc",)),
    # storage.k8s.io/v1
    _r("storage.k8s.io/v1", "CSIDriver", "csidrivers", ns=False),
    _r("storage.k8s.io/v1", "CSINode", "csinodes", ns=False),
    _r("storage.k8s.io/v1", "StorageClass", "storageclasses", ns=False, short=("sc",)),
    _r("storage.k8s.io/v1", "VolumeAttachment", "volumeattachments", ns=False, subs=(_status(),)),
    # apiextensions.k8s.io/v1
    _r("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", ns=False,
       short=("crd", "crds"), cats=("api-extensions",), subs=(_status(),)),
)

# Group order in /apis, as upstream lists them (priority order); groups not named here follow alphabetically.
GROUP_ORDER = (
    "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
    "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "flowcontrol.apiserver.k8s.io", "metrics.k8s.io",
)
# Preferred version per group when several are served.
PREFERRED = {"autoscaling": "v2"}
# Version order within a group (newest first), as discovery lists them.
VERSION_ORDER = {"autoscaling": ("v2", "v1")}


class Registry:
    """Mutable index of served resources; lookups by (group, version, plural) and by kind."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._by_gvr: dict[tuple[str, str, str], Resource] = {}
        self._by_gvk: dict[tuple[str, str, str], Resource] = {}
        self.generation = 0                 # bumped on every change (discovery/OpenAPI caches key on it)
        for r in resources:
            self.add(r)

    def add(self, r: Resource) -> None:
        self._by_gvr[(r.group, r.version, r.plural)] = r
        self._by_gvk[(r.group, r.version, r.kind)] = r
        self.generation += 1

    def remove(self, group: str, version: str, plural: str) -> None:
        r = self._by_gvr.pop((group, version, plural), None)
        if r is not None:
            self._by_gvk.pop((r.group, r.version, r.kind), None)
            self.generation += 1

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_gvk.get((group, version, kind))

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._by_gvr.values()))

    def groups(self) -> list[tuple[str, list[str]]]:
        """[(group, [versions, preferred first])] in discovery order; the core group ("") first."""
        gv: dict[str, set[str]] = {}
        for r in self._by_gvr.values():
            gv.setdefault(r.group, set()).add(r.version)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        out = []
        for g in sorted(gv, key=lambda g: (g != "", order.get(g, len(order)), g)):
            out.append((g, sorted(gv[g], key=lambda v: _version_key(g, v))))
        return out

    def preferred_version(self, group: str) -> str | None:
        for g, versions in self.groups():
            if g == group:
                return versions[0]
        return None

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return sorted((r for r in self._by_gvr.values() if r.group == group and r.version == version),
                      key=lambda r: r.plural)

    def versions_of(self, r: Resource) -> list[Resource]:
        """Every served version sharing ``r``'s storage."""
        return [x for x in self._by_gvr.values() if x.storage == r.storage]


def _version_key(group: str, version: str) -> tuple[int, int, int, str]:
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    if group in PREFERRED and version == PREFERRED[group]:
        return (-1, 0, 0, version)
    import re
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (9, 0, 0, version)
    major, stage, minor = int(m[1]), m[2], int(m[3] or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, version)


def with_strategy(r: Resource, strategy: Strategy) -> Resource:
    return replace(r, strategy=strategy)
