"""Pod defaulting: upstream 1.33 ``SetDefaults_Pod/PodSpec/Container/Probe/Volume/...`` and the v1 conversion
aliases (``serviceAccount``, ``podIP``/``podIPs``), plus the admission plugins that touch every real pod
(ServiceAccount, DefaultTolerationSeconds, Priority).

Everything here mutates plain JSON dicts in place and is idempotent: running it twice changes nothing more.
``default_pod_spec`` is what every kind with a pod template applies (Deployment, Job, ...); ``default_pod`` adds
the Pod-only defaults (requests from limits, ``enableServiceLinks``, host ports under ``hostNetwork``), which
upstream deliberately keeps out of templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pybernetes.api.errors import Forbidden

Obj = dict[str, Any]

DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_GRACE_PERIOD = 30
DEFAULT_FILE_MODE = 420        # 0644, for secret/configMap/downwardAPI/projected volumes
DEFAULT_TOKEN_EXPIRATION = 3600
DEFAULT_TOLERATION_SECONDS = 300
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"

# The docker reference grammar (distribution/reference), enough to find the tag as ParseImageName does.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:(?:{_DOMAIN})/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}))?$")


def image_tag(image: str) -> str:
    """The tag ``ParseImageName`` finds: ``latest`` when neither tag nor digest is given, "" when unparsable.
    Memoised (for names of a sane length): a cluster runs few distinct images, and the reference pattern is long."""
    if type(image) is not str or len(image) > 512:
        return _image_tag(image)
    got = _TAGS.get(image)
    if got is None:
        got = _image_tag(image)
        if len(_TAGS) >= 4096:
            _TAGS.clear()
        _TAGS[image] = got
    return got


_TAGS: dict[str, str] = {}


def _image_tag(image: str) -> str:
    m = _REFERENCE.match(image or "")
    if m is None:
        return ""
    tag, digest = m["tag"], m["digest"]
    if not tag and not digest:
        return "latest"
    return tag or ""


def default_pull_policy(image: str) -> str:
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def _default_http_get(action: Obj | None) -> None:
    if isinstance(action, dict):
        action.setdefault("path", "/")
        if not action["path"]:
            action["path"] = "/"
        if not action.get("scheme"):
            action["scheme"] = "HTTP"


def _default_handler(h: Obj | None) -> None:
    if not isinstance(h, dict):
        return
    _default_http_get(h.get("httpGet"))
    grpc = h.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def default_probe(p: Obj | None) -> None:
    if not isinstance(p, dict):
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if not p.get(key):
            p[key] = value
    _default_handler(p)


def _default_field_ref(ref: Obj | None) -> None:
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _default_resource_field_ref(ref: Obj | None) -> None:
    if isinstance(ref, dict) and ref.get("divisor") in (None, ""):
        ref["divisor"] = "0"


def default_container(c: Obj) -> None:
    """Upstream ``SetDefaults_Container`` and the defaults of everything a container holds."""
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = default_pull_policy(c.get("image", ""))
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = DEFAULT_TERMINATION_MESSAGE_PATH
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    if c.get("resources") is None:
        c["resources"] = {}          # a struct in Go: always written, even empty
    for port in c.get("ports") or ():
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for ev in c.get("env") or ():
        vf = ev.get("valueFrom")
        if isinstance(vf, dict):
            _default_field_ref(vf.get("fieldRef"))
            _default_resource_field_ref(vf.get("resourceFieldRef"))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        default_probe(c.get(key))
    lc = c.get("lifecycle")
    if isinstance(lc, dict):
        _default_handler(lc.get("postStart"))
        _default_handler(lc.get("preStop"))


def _default_items(items: list | None) -> None:
    for it in items or ():
        _default_field_ref(it.get("fieldRef"))
        _default_resource_field_ref(it.get("resourceFieldRef"))


def default_volume(v: Obj) -> None:
    """Upstream ``SetDefaults_Volume`` and the per-source defaults."""
    from pybernetes.api.kinds.volumes import VOLUME_SOURCES
    if not any(v.get(k) is not None for k in VOLUME_SOURCES):
        v["emptyDir"] = {}
    default_volume_source(v)


def default_volume_source(v: Obj) -> None:
    """Per-source defaults, shared by pod volumes and PersistentVolume specs (same JSON keys)."""
    if (s := v.get("secret")) is not None and s.get("defaultMode") is None:
        s["defaultMode"] = DEFAULT_FILE_MODE
    if (s := v.get("configMap")) is not None and s.get("defaultMode") is None:
        s["defaultMode"] = DEFAULT_FILE_MODE
    if (s := v.get("downwardAPI")) is not None:
        if s.get("defaultMode") is None:
            s["defaultMode"] = DEFAULT_FILE_MODE
        _default_items(s.get("items"))
    if (s := v.get("projected")) is not None:
        if s.get("defaultMode") is None:
            s["defaultMode"] = DEFAULT_FILE_MODE
        for src in s.get("sources") or ():
            tok = src.get("serviceAccountToken")
            if isinstance(tok, dict) and tok.get("expirationSeconds") is None:
                tok["expirationSeconds"] = DEFAULT_TOKEN_EXPIRATION
            dapi = src.get("downwardAPI")
            if isinstance(dapi, dict):
                _default_items(dapi.get("items"))
    if (s := v.get("hostPath")) is not None and s.get("type") is None:
        s["type"] = ""
    if (s := v.get("iscsi")) is not None and not s.get("iscsiInterface"):
        s["iscsiInterface"] = "default"
    if (s := v.get("rbd")) is not None:
        for key, value in (("pool", "rbd"), ("user", "admin"), ("keyring", "/etc/ceph/keyring")):
            if not s.get(key):
                s[key] = value
    if (s := v.get("azureDisk")) is not None:
        for key, value in (("cachingMode", "ReadWrite"), ("fsType", "ext4"), ("kind", "Shared")):
            if s.get(key) is None:
                s[key] = value
        if s.get("readOnly") is None:
            s["readOnly"] = False
    if (s := v.get("scaleIO")) is not None:
        if not s.get("storageMode"):
            s["storageMode"] = "ThinProvisioned"
        if not s.get("fsType"):
            s["fsType"] = "xfs"
    eph = v.get("ephemeral")
    if isinstance(eph, dict):
        tmpl = eph.get("volumeClaimTemplate")
        if isinstance(tmpl, dict):
            spec = tmpl.get("spec")
            if isinstance(spec, dict) and spec.get("volumeMode") is None:
                spec["volumeMode"] = "Filesystem"


def default_pod_spec(spec: Obj) -> None:
    """Upstream ``SetDefaults_PodSpec`` and everything nested (containers, probes, volumes), for pods and templates."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_GRACE_PERIOD
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER
    # v1 conversion: serviceAccount is a deprecated alias; serviceAccountName wins, and output mirrors it.
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    else:
        spec.pop("serviceAccount", None)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or ():
            default_container(c)
    for v in spec.get("volumes") or ():
        default_volume(v)


def default_pod_template(template: Obj | None) -> None:
    """Defaults of a ``PodTemplateSpec`` (Deployment/ReplicaSet/Job/... ``spec.template``)."""
    if not isinstance(template, dict):
        return
    spec = template.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


def _requests_from_limits(c: Obj) -> None:
    res = c.get("resources")
    if not isinstance(res, dict):
        return
    limits = res.get("limits")
    if limits is None:
        return
    requests = res.get("requests")
    if requests is None:
        requests = res["requests"] = {}
    for k, v in limits.items():
        if k not in requests:
            requests[k] = v


def _sync_ip_aliases(status: Obj, single: str, plural: str) -> None:
    ips = status.get(plural)
    if ips:
        status[single] = ips[0].get("ip", "")
    elif status.get(single):
        status[plural] = [{"ip": status[single]}]


def default_pod(pod: Obj) -> None:
    """Upstream ``SetDefaults_Pod`` + ``SetDefaults_PodSpec`` (+ v1 status aliases) for a Pod object."""
    spec = pod.get("spec")
    if isinstance(spec, dict):
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or ():
                if c.get("resources") is None:
                    c["resources"] = {}
                _requests_from_limits(c)
        if spec.get("enableServiceLinks") is None:
            spec["enableServiceLinks"] = True
        if spec.get("hostNetwork"):
            for key in ("containers", "initContainers"):
                for c in spec.get(key) or ():
                    for port in c.get("ports") or ():
                        if not port.get("hostPort"):
                            port["hostPort"] = port.get("containerPort", 0)
        default_pod_spec(spec)
    status = pod.get("status")
    if isinstance(status, dict):
        _sync_ip_aliases(status, "podIP", "podIPs")
        _sync_ip_aliases(status, "hostIP", "hostIPs")


# --- admission-time defaults ----------------------------------------------------------------------------------


def admit_pod_service_account(pod: Obj) -> None:
    """ServiceAccount admission, minus token automounting: default ``serviceAccountName`` to ``default``.

    Mirror pods (static pods reflected by a kubelet) are left alone, as upstream does.
    """
    annotations = pod.get("metadata", {}).get("annotations") or {}
    if MIRROR_POD_ANNOTATION in annotations:
        return
    spec = pod.setdefault("spec", {})
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
    spec["serviceAccount"] = spec["serviceAccountName"]


def _tolerates(tolerations: list, key: str) -> bool:
    for t in tolerations:
        if t.get("key", "") in (key, "") and t.get("effect", "") in ("NoExecute", ""):
            return True
    return False


def admit_pod_default_tolerations(pod: Obj, *, not_ready_seconds: int = DEFAULT_TOLERATION_SECONDS,
                                  unreachable_seconds: int = DEFAULT_TOLERATION_SECONDS) -> None:
    """DefaultTolerationSeconds admission: tolerate not-ready/unreachable NoExecute taints for 300 s."""
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations") or []
    added = False
    for key, seconds in ((NOT_READY_TAINT, not_ready_seconds), (UNREACHABLE_TAINT, unreachable_seconds)):
        if not _tolerates(tolerations, key):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": seconds})
            added = True
    if added or "tolerations" in spec:
        spec["tolerations"] = tolerations


def admit_pod_priority(pod: Obj, *, lookup: Callable[[str], Obj | None] | None = None,
                       global_default: Obj | None = None) -> None:
    """Priority admission: resolve ``priorityClassName`` to ``priority`` and ``preemptionPolicy``.

    ``lookup(name)`` returns a PriorityClass object or None; ``global_default`` is the class with
    ``globalDefault: true`` if any. Raises :class:`Forbidden` with upstream's messages.
    """
    meta = pod.get("metadata", {})
    spec = pod.setdefault("spec", {})
    name = spec.get("priorityClassName") or ""
    policy: str | None = None
    if not name:
        if global_default is not None:
            value = int(global_default.get("value", 0))
            name = global_default["metadata"]["name"]
            spec["priorityClassName"] = name
            policy = global_default.get("preemptionPolicy")
        else:
            value = 0
    elif name in SYSTEM_PRIORITY_CLASSES and (lookup is None or lookup(name) is None):
        value = SYSTEM_PRIORITY_CLASSES[name]
    else:
        pc = lookup(name) if lookup is not None else None
        if pc is None:
            raise Forbidden("pods", "", meta.get("name", ""), f"no PriorityClass with name {name} was found")
        value = int(pc.get("value", 0))
        policy = pc.get("preemptionPolicy")
    policy = policy or "PreemptLowerPriority"
    given = spec.get("priority")
    if given is not None and given != value:
        raise Forbidden("pods", "", meta.get("name", ""),
                        f"the integer value of priority ({given}) must not be provided in pod spec; priority "
                        f"admission controller computed {value} from the given PriorityClass name")
    given_policy = spec.get("preemptionPolicy")
    if given_policy is not None and given_policy != policy:
        raise Forbidden("pods", "", meta.get("name", ""),
                        f"the string value of PreemptionPolicy ({given_policy}) must not be provided in pod spec; "
                        f"priority admission controller computed {policy} from the given PriorityClass name")
    spec["priority"] = value
    spec["preemptionPolicy"] = policy


def admit_pod(pod: Obj, *, lookup: Callable[[str], Obj | None] | None = None,
              global_default: Obj | None = None, toleration_seconds: int = DEFAULT_TOLERATION_SECONDS) -> None:
    """The admission-time defaults every real pod carries, in upstream's plugin order. ``toleration_seconds`` is
    the API server's --default-not-ready/unreachable-toleration-seconds (our --node-eviction-timeout)."""
    admit_pod_service_account(pod)
    admit_pod_default_tolerations(pod, not_ready_seconds=toleration_seconds, unreachable_seconds=toleration_seconds)
    admit_pod_priority(pod, lookup=lookup, global_default=global_default)
