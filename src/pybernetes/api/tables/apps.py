"""Tables of the apps/v1 workloads: ReplicaSet, Deployment, StatefulSet, DaemonSet, ControllerRevision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    Obj,
    Printer,
    age_of,
    column,
    containers_of,
    format_label_selector,
    format_labels,
    layout_containers,
    selector_string,
)

__all__ = ["PRINTERS", "controller_name"]

_EMPTY: dict[str, Any] = {}


def _parts(obj: Obj) -> tuple[dict[str, Any], dict[str, Any], str]:
    return obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY, (obj.get("metadata") or _EMPTY).get("name", "")


def _replica_set(obj: Obj, now: datetime) -> list[Any]:
    spec, status, name = _parts(obj)
    names, images = layout_containers(containers_of(spec.get("template")))
    return [name, spec.get("replicas") or 0, status.get("replicas") or 0, status.get("readyReplicas") or 0,
            age_of(obj, now), names, images, format_label_selector(spec.get("selector"))]


def _deployment(obj: Obj, now: datetime) -> list[Any]:
    spec, status, name = _parts(obj)
    names, images = layout_containers(containers_of(spec.get("template")))
    return [name, f"{status.get('readyReplicas') or 0}/{spec.get('replicas') or 0}",
            status.get("updatedReplicas") or 0, status.get("availableReplicas") or 0, age_of(obj, now), names,
            images, selector_string(spec.get("selector"))]


def _stateful_set(obj: Obj, now: datetime) -> list[Any]:
    spec, status, name = _parts(obj)
    names, images = layout_containers(containers_of(spec.get("template")))
    return [name, f"{status.get('readyReplicas') or 0}/{spec.get('replicas') or 0}", age_of(obj, now), names,
            images]


def _daemon_set(obj: Obj, now: datetime) -> list[Any]:
    spec, status, name = _parts(obj)
    template = spec.get("template") or _EMPTY
    names, images = layout_containers(containers_of(template))
    node_selector = (template.get("spec") or _EMPTY).get("nodeSelector")
    return [name, status.get("desiredNumberScheduled") or 0, status.get("currentNumberScheduled") or 0,
            status.get("numberReady") or 0, status.get("updatedNumberScheduled") or 0,
            status.get("numberAvailable") or 0, format_labels(node_selector), age_of(obj, now), names, images,
            format_label_selector(spec.get("selector"))]


def controller_name(obj: Obj) -> str:
    """The controlling owner as ``kind.group/name`` in lower case ("daemonset.apps/fluentd"), "<none>" if none."""
    for ref in (obj.get("metadata") or _EMPTY).get("ownerReferences") or ():
        if ref.get("controller"):
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            kind = ref.get("kind") or ""
            if not kind and not group:
                return ref.get("name") or ""
            qualified = f"{kind}.{group}" if group else kind
            return f"{qualified.lower()}/{ref.get('name') or ''}"
    return "<none>"


def _controller_revision(obj: Obj, now: datetime) -> list[Any]:
    return [(obj.get("metadata") or _EMPTY).get("name", ""), controller_name(obj), obj.get("revision") or 0,
            age_of(obj, now)]


PRINTERS = {
    ("apps", "ReplicaSet"): Printer((
        NAME,
        column("Desired", "integer", DOCS["extensions.ReplicaSetSpec.replicas"]),
        column("Current", "integer", DOCS["extensions.ReplicaSetStatus.replicas"]),
        column("Ready", "integer", DOCS["extensions.ReplicaSetStatus.readyReplicas"]),
        AGE,
        column("Containers", "string", CONTAINERS, priority=1),
        column("Images", "string", IMAGES, priority=1),
        column("Selector", "string", DOCS["extensions.ReplicaSetSpec.selector"], priority=1),
    ), _replica_set),
    ("apps", "Deployment"): Printer((
        NAME,
        column("Ready", "string", "Number of the pod with ready state"),
        column("Up-to-date", "string", DOCS["extensions.DeploymentStatus.updatedReplicas"]),
        column("Available", "string", DOCS["extensions.DeploymentStatus.availableReplicas"]),
        AGE,
        column("Containers", "string", CONTAINERS, priority=1),
        column("Images", "string", IMAGES, priority=1),
        column("Selector", "string", DOCS["extensions.DeploymentSpec.selector"], priority=1),
    ), _deployment),
    ("apps", "StatefulSet"): Printer((
        NAME,
        column("Ready", "string", "Number of the pod with ready state"),
        AGE,
        column("Containers", "string", CONTAINERS, priority=1),
        column("Images", "string", IMAGES, priority=1),
    ), _stateful_set),
    ("apps", "DaemonSet"): Printer((
        NAME,
        column("Desired", "integer", DOCS["extensions.DaemonSetStatus.desiredNumberScheduled"]),
        column("Current", "integer", DOCS["extensions.DaemonSetStatus.currentNumberScheduled"]),
        column("Ready", "integer", DOCS["extensions.DaemonSetStatus.numberReady"]),
        column("Up-to-date", "integer", DOCS["extensions.DaemonSetStatus.updatedNumberScheduled"]),
        column("Available", "integer", DOCS["extensions.DaemonSetStatus.numberAvailable"]),
        column("Node Selector", "string", DOCS["core.PodSpec.nodeSelector"]),
        AGE,
        column("Containers", "string", CONTAINERS, priority=1),
        column("Images", "string", IMAGES, priority=1),
        column("Selector", "string", DOCS["extensions.DaemonSetSpec.selector"], priority=1),
    ), _daemon_set),
    ("apps", "ControllerRevision"): Printer((
        NAME,
        column("Controller", "string", "Controller of the object"),
        column("Revision", "string", DOCS["appsv1beta1.ControllerRevision.revision"]),
        AGE,
    ), _controller_revision),
}
