"""Pod spec validation (upstream ``ValidatePodSpec``, ``ValidatePodTemplateSpec`` and their helpers).

``validate_pod_spec`` serves both Pods and pod templates; ``is_pod=True`` adds the checks upstream applies only
to Pods (host ports defaulted under hostNetwork, no surrounding whitespace in images, projected tokens need a
service account). Workload kinds (Deployment, Job, ...) call :func:`validate_pod_template_spec`.
"""

from __future__ import annotations

import re
from typing import Any

from pybernetes.api.field import FieldError, Path, duplicate, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.common import (
    IS_NOT_POSITIVE,
    MAX_INT32,
    dns_label,
    dns_subdomain,
    label_name,
    one_of,
    qualified_name,
    validate_label_selector,
)
from pybernetes.api.kinds.container import (
    id_range,
    image_whitespace,
    validate_containers,
    validate_ephemeral_containers,
    validate_init_containers,
    validate_profile,
)
from pybernetes.api.kinds.resource_list import validate_container_resource_name, validate_resource_list
from pybernetes.api.kinds.volumes import validate_volumes
from pybernetes.api.validation import names
from pybernetes.api.validation.known_valid import KnownValid
from pybernetes.api.validation.names import validate_annotations, validate_labels

Obj = dict[str, Any]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
SCHEDULE_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
INCLUSION_POLICIES = ("Honor", "Ignore")
FS_GROUP_CHANGE_POLICIES = ("OnRootMismatch", "Always")
SUPPLEMENTAL_GROUPS_POLICIES = ("Merge", "Strict")
OS_NAMES = ("linux", "windows")
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_CHARS = 2048
_SYSCTL_RE = re.compile(r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")
_SYSCTL_MSG = ("must have at most 253 characters and match regex "
               r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")


def validate_taint_effect(effect: Any, path: Path, *, allow_empty: bool) -> list[FieldError]:
    if not effect:
        return [] if allow_empty else [required(path, "")]
    if effect not in TAINT_EFFECTS:
        return [not_supported(path, effect, TAINT_EFFECTS)]
    return []


_TOLERATIONS_VALID = KnownValid()


def validate_tolerations(tolerations: list | None, path: Path) -> list[FieldError]:
    """Admission gives nearly every Pod the same default tolerations: a valid list is remembered."""
    key = _TOLERATIONS_VALID.key(tolerations)
    if _TOLERATIONS_VALID.known(key):
        return []
    errs = _toleration_errors(tolerations, path)
    if not errs:
        _TOLERATIONS_VALID.add(key)
    return errs


def _toleration_errors(tolerations: list | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, t in enumerate(tolerations or ()):
        ip = path.index(i)
        key, op, value = t.get("key", ""), t.get("operator", ""), t.get("value", "")
        if key:
            errs.extend(label_name(key, ip.child("key")))
        if not key and op != "Exists":
            errs.append(invalid(ip.child("operator"), op, "operator must be Exists when `key` is empty, which means "
                                                          '"match all values and all keys"'))
        if t.get("tolerationSeconds") is not None and t.get("effect", "") != "NoExecute":
            errs.append(invalid(ip.child("effect"), t.get("effect", ""),
                                "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            msgs = names.label_value(value)
            if msgs:
                errs.append(invalid(ip.child("operator"), value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(invalid(ip.child("operator"), t, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(ip.child("operator"), op, TOLERATION_OPERATORS))
        if t.get("effect"):
            errs.extend(validate_taint_effect(t["effect"], ip.child("effect"), allow_empty=True))
    return errs


def validate_node_selector_requirement(rq: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    op, values = rq.get("operator", ""), rq.get("values") or []
    if op in ("In", "NotIn"):
        if not values:
            errs.append(required(path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist"):
        if values:
            errs.append(forbidden(path.child("values"),
                                  "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif op in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(required(path.child("values"), "must be specified single value when `operator` is 'Lt' or "
                                                       "'Gt'"))
    else:
        errs.append(invalid(path.child("operator"), op, "not a valid selector operator"))
    errs.extend(label_name(rq.get("key", ""), path.child("key")))
    return errs


def validate_node_selector_term(term: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for j, rq in enumerate(term.get("matchExpressions") or ()):
        errs.extend(validate_node_selector_requirement(rq, path.child("matchExpressions").index(j)))
    for j, rq in enumerate(term.get("matchFields") or ()):
        fp = path.child("matchFields").index(j)
        if rq.get("operator") in ("In", "NotIn"):
            if len(rq.get("values") or ()) != 1:
                errs.append(required(fp.child("values"), "must be only one value when `operator` is 'In' or 'NotIn' "
                                                         "for node field selector"))
        else:
            errs.append(invalid(fp.child("operator"), rq.get("operator", ""), "not a valid selector operator"))
        if rq.get("key") != "metadata.name":
            errs.append(invalid(fp.child("key"), rq.get("key", ""), "not a valid field selector key"))
        else:
            for k, v in enumerate(rq.get("values") or ()):
                errs.extend(invalid(fp.child("values").index(k), v, m) for m in names.name_is_dns_subdomain(v, False))
    return errs


def validate_node_selector(sel: Obj, path: Path) -> list[FieldError]:
    terms = sel.get("nodeSelectorTerms") or []
    tp = path.child("nodeSelectorTerms")
    if not terms:
        return [required(tp, "must have at least one node selector term")]
    errs: list[FieldError] = []
    for i, term in enumerate(terms):
        errs.extend(validate_node_selector_term(term, tp.index(i)))
    return errs


def _weight(w: Any, path: Path) -> list[FieldError]:
    if not isinstance(w, int) or w <= 0 or w > 100:
        return [invalid(path, w, "must be in the range 1-100")]
    return []


def _pod_affinity_term(term: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    if term.get("labelSelector") is not None:
        errs.extend(validate_label_selector(term["labelSelector"], path.child("labelSelector")))
    if term.get("namespaceSelector") is not None:
        errs.extend(validate_label_selector(term["namespaceSelector"], path.child("namespaceSelector")))
    for ns in term.get("namespaces") or ():
        errs.extend(invalid(path.child("namespace"), ns, m) for m in names.dns1123_label(ns))
    tk = term.get("topologyKey", "")
    if not tk:
        errs.append(required(path.child("topologyKey"), "can not be empty"))
    errs.extend(label_name(tk, path.child("topologyKey")))
    return errs


def _pod_affinity(pa: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    rp = path.child("requiredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(pa.get("requiredDuringSchedulingIgnoredDuringExecution") or ()):
        errs.extend(_pod_affinity_term(term, rp.index(i)))
    pp = path.child("preferredDuringSchedulingIgnoredDuringExecution")
    for i, wt in enumerate(pa.get("preferredDuringSchedulingIgnoredDuringExecution") or ()):
        errs.extend(_weight(wt.get("weight", 0), pp.index(i).child("weight")))
        errs.extend(_pod_affinity_term(wt.get("podAffinityTerm") or {}, pp.index(i).child("podAffinityTerm")))
    return errs


def validate_affinity(aff: Obj | None, path: Path) -> list[FieldError]:
    if not aff:
        return []
    errs: list[FieldError] = []
    na = aff.get("nodeAffinity")
    if na:
        np = path.child("nodeAffinity")
        if na.get("requiredDuringSchedulingIgnoredDuringExecution") is not None:
            errs.extend(validate_node_selector(na["requiredDuringSchedulingIgnoredDuringExecution"],
                                               np.child("requiredDuringSchedulingIgnoredDuringExecution")))
        pp = np.child("preferredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(na.get("preferredDuringSchedulingIgnoredDuringExecution") or ()):
            errs.extend(_weight(term.get("weight", 0), pp.index(i).child("weight")))
            errs.extend(validate_node_selector_term(term.get("preference") or {}, pp.index(i).child("preference")))
    for key in ("podAffinity", "podAntiAffinity"):
        if aff.get(key):
            errs.extend(_pod_affinity(aff[key], path.child(key)))
    return errs


def validate_dns_config(cfg: Obj | None, policy: Any, path: Path) -> list[FieldError]:
    if policy == "None":
        if cfg is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not cfg.get("nameservers"):
            return [required(path.child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` "
                                                        "is None")]
    if cfg is None:
        return []
    errs: list[FieldError] = []
    from pybernetes.api.kinds.common import go_strings
    ns = cfg.get("nameservers") or []
    if len(ns) > MAX_NAMESERVERS:
        errs.append(invalid(path.child("nameservers"), go_strings(ns),
                            f"must not have more than {MAX_NAMESERVERS} nameservers"))
    for i, ip in enumerate(ns):
        errs.extend(invalid(path.child("nameservers").index(i), ip, m) for m in names.valid_ip(ip))
    searches = cfg.get("searches") or []
    if len(searches) > MAX_SEARCH_PATHS:
        errs.append(invalid(path.child("searches"), go_strings(searches),
                            f"must not have more than {MAX_SEARCH_PATHS} search paths"))
    if len(" ".join(searches)) > MAX_SEARCH_CHARS:
        errs.append(invalid(path.child("searches"), go_strings(searches),
                            f"must not have more than {MAX_SEARCH_CHARS} characters (including spaces) in the "
                            "search list"))
    for i, s in enumerate(searches):
        if s == ".":
            continue
        trimmed = s[:-1] if s.endswith(".") else s
        if names.dns1123_subdomain(trimmed.replace("_", "a")):
            errs.extend(invalid(path.child("searches").index(i), trimmed, m) for m in names.dns1123_subdomain(trimmed))
    for i, opt in enumerate(cfg.get("options") or ()):
        if not opt.get("name"):
            errs.append(required(path.child("options").index(i), "Option.Name must not be empty"))
    return errs


def validate_topology_spread(constraints: list | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    constraints = constraints or []
    for i, c in enumerate(constraints):
        ip = path.index(i)
        skew = c.get("maxSkew", 0)
        if not isinstance(skew, int) or skew <= 0:
            errs.append(invalid(ip.child("maxSkew"), skew, IS_NOT_POSITIVE))
        if not c.get("topologyKey"):
            errs.append(required(ip.child("topologyKey"), "can not be empty"))
        wu = c.get("whenUnsatisfiable", "")
        if wu not in SCHEDULE_ACTIONS:
            errs.append(not_supported(ip.child("whenUnsatisfiable"), wu, SCHEDULE_ACTIONS))
        for rest in constraints[i + 1:]:
            if rest.get("topologyKey") == c.get("topologyKey") and rest.get("whenUnsatisfiable") == wu:
                errs.append(duplicate(ip.child("{topologyKey, whenUnsatisfiable}"),
                                      f"{{{c.get('topologyKey', '')}, {wu}}}"))
                break
        md = c.get("minDomains")
        if md is not None:
            if md <= 0:
                errs.append(invalid(ip.child("minDomains"), md, IS_NOT_POSITIVE))
            if wu != "DoNotSchedule":
                errs.append(invalid(ip.child("minDomains"), md,
                                    f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {wu}"))
        for key in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            if c.get(key) is not None and c[key] not in INCLUSION_POLICIES:
                errs.append(not_supported(ip.child(key), c[key], INCLUSION_POLICIES))
        for j, k in enumerate(c.get("matchLabelKeys") or ()):
            errs.extend(label_name(k, ip.child("matchLabelKeys").index(j)))
        if c.get("labelSelector") is not None:
            errs.extend(validate_label_selector(c["labelSelector"], ip.child("labelSelector")))
    return errs


def validate_pod_security_context(spec: Obj, path: Path) -> list[FieldError]:
    sc = spec.get("securityContext")
    errs: list[FieldError] = []
    if sc:
        sp = path.child("securityContext")
        for key in ("fsGroup", "runAsUser", "runAsGroup"):
            if sc.get(key) is not None:
                errs.extend(id_range(sc[key], sp.child(key)))
        for g, gid in enumerate(sc.get("supplementalGroups") or ()):
            errs.extend(id_range(gid, sp.child("supplementalGroups").index(g)))
        seen: set[str] = set()
        for i, s in enumerate(sc.get("sysctls") or ()):
            ip = sp.child("sysctls").index(i)
            name = s.get("name", "")
            if not name:
                errs.append(required(ip.child("name"), ""))
            elif len(name) > 253 or not _SYSCTL_RE.match(name.replace("/", ".")):
                errs.append(invalid(ip.child("name"), name, _SYSCTL_MSG))
            elif name in seen:
                errs.append(duplicate(ip.child("name"), name))
            elif spec.get("hostNetwork") and name.replace("/", ".").startswith("net."):
                errs.append(invalid(ip.child("name"), name, "may not be specified when 'hostNetwork' is true"))
            seen.add(name)
        if sc.get("fsGroupChangePolicy") is not None:
            errs.extend(one_of(sc["fsGroupChangePolicy"], sp.child("fsGroupChangePolicy"), FS_GROUP_CHANGE_POLICIES))
        if sc.get("supplementalGroupsPolicy") is not None:
            errs.extend(one_of(sc["supplementalGroupsPolicy"], sp.child("supplementalGroupsPolicy"),
                               SUPPLEMENTAL_GROUPS_POLICIES))
        errs.extend(validate_profile(sc.get("seccompProfile"), sp.child("seccompProfile"), "seccomp"))
        errs.extend(validate_profile(sc.get("appArmorProfile"), sp.child("appArmorProfile"), "AppArmor"))
    if spec.get("shareProcessNamespace") and spec.get("hostPID"):
        errs.append(invalid(path.child("shareProcessNamespace"), True,
                            "ShareProcessNamespace and HostPID cannot both be enabled"))
    return errs


def validate_pod_spec(spec: Obj, path: Path, *, is_pod: bool = False) -> list[FieldError]:
    """Upstream ``ValidatePodSpec`` (``is_pod`` = ``opts.ResourceIsPod`` plus the Pod-only checks)."""
    errs: list[FieldError] = []
    volumes, verrs = validate_volumes(spec.get("volumes"), path.child("volumes"))
    errs.extend(verrs)
    claim_names = {c.get("name", "") for c in spec.get("resourceClaims") or ()}
    grace = spec.get("terminationGracePeriodSeconds")
    host_users = spec.get("hostUsers") is not False
    errs.extend(validate_containers(spec.get("containers"), path.child("containers"), volumes, grace=grace,
                                    claim_names=claim_names, host_users=host_users))
    errs.extend(validate_init_containers(spec.get("initContainers"), spec.get("containers"),
                                         path.child("initContainers"), volumes, grace=grace,
                                         claim_names=claim_names, host_users=host_users))
    errs.extend(validate_ephemeral_containers(spec.get("ephemeralContainers"), spec,
                                              path.child("ephemeralContainers"), volumes, claim_names=claim_names,
                                              host_users=host_users))
    if spec.get("hostNetwork"):
        for i, c in enumerate(spec.get("containers") or ()):
            for j, port in enumerate(c.get("ports") or ()):
                hp = port.get("hostPort", 0)
                if (is_pod or hp) and hp != port.get("containerPort", 0):
                    errs.append(invalid(path.child("containers").index(i).child("ports").index(j).child("hostPort"),
                                        hp, "must match `containerPort` when `hostNetwork` is true"))
    errs.extend(one_of(spec.get("restartPolicy"), path.child("restartPolicy"), RESTART_POLICIES))
    errs.extend(one_of(spec.get("dnsPolicy"), path.child("dnsPolicy"), DNS_POLICIES))
    if spec.get("nodeSelector"):
        errs.extend(validate_labels(spec["nodeSelector"], path.child("nodeSelector")))
    errs.extend(validate_pod_security_context(spec, path))
    for i, ref in enumerate(spec.get("imagePullSecrets") or ()):
        if set(ref) - {"name"}:
            errs.append(invalid(path.child("imagePullSecrets").index(i), ref, "only name may be set"))
    errs.extend(validate_affinity(spec.get("affinity"), path.child("affinity")))
    errs.extend(validate_dns_config(spec.get("dnsConfig"), spec.get("dnsPolicy"), path.child("dnsConfig")))
    for i, gate in enumerate(spec.get("readinessGates") or ()):
        errs.extend(qualified_name(gate.get("conditionType", ""), path.child("readinessGates").index(i)
                                   .child("conditionType")))
    seen: set[str] = set()
    for i, gate in enumerate(spec.get("schedulingGates") or ()):
        gp = path.child("schedulingGates").index(i)
        errs.extend(qualified_name(gate.get("name", ""), gp))
        if gate.get("name", "") in seen:
            errs.append(duplicate(gp, gate.get("name", "")))
        seen.add(gate.get("name", ""))
    errs.extend(validate_topology_spread(spec.get("topologySpreadConstraints"),
                                         path.child("topologySpreadConstraints")))
    for key in ("serviceAccountName", "nodeName"):
        if spec.get(key):
            errs.extend(invalid(path.child(key), spec[key], m) for m in names.name_is_dns_subdomain(spec[key], False))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or ads < 1 or ads > MAX_INT32):
        errs.append(invalid(path.child("activeDeadlineSeconds"), ads, f"must be between 1 and {MAX_INT32}, inclusive"))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs.extend(dns_label(spec[key], path.child(key)))
    if spec.get("tolerations"):
        errs.extend(validate_tolerations(spec["tolerations"], path.child("tolerations")))
    for i, ha in enumerate(spec.get("hostAliases") or ()):
        hp = path.child("hostAliases").index(i)
        errs.extend(invalid(hp.child("ip"), ha.get("ip", ""), m) for m in names.valid_ip(ha.get("ip", "")))
        for j, hn in enumerate(ha.get("hostnames") or ()):
            errs.extend(dns_subdomain(hn, hp.child("hostnames").index(j)))
    if spec.get("priorityClassName"):
        errs.extend(dns_subdomain(spec["priorityClassName"], path.child("priorityClassName")))
    if spec.get("runtimeClassName") is not None:
        errs.extend(dns_subdomain(spec["runtimeClassName"], path.child("runtimeClassName")))
    if spec.get("preemptionPolicy") is not None:
        errs.extend(one_of(spec["preemptionPolicy"], path.child("preemptionPolicy"), PREEMPTION_POLICIES))
    if spec.get("overhead"):
        errs.extend(validate_resource_list(spec["overhead"], path.child("overhead"), validate_container_resource_name))
    os_ = spec.get("os")
    if os_ is not None:
        if not os_.get("name"):
            errs.append(required(path.child("os", "name"), "cannot be empty"))
        elif os_["name"] not in OS_NAMES:
            errs.append(not_supported(path.child("os"), os_["name"], OS_NAMES))
    if is_pod:
        errs.extend(_pod_only(spec, path))
    return errs


def _pod_only(spec: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    if not spec.get("serviceAccountName"):
        for vi, vol in enumerate(spec.get("volumes") or ()):
            for si, src in enumerate((vol.get("projected") or {}).get("sources") or ()):
                if src.get("serviceAccountToken") is not None:
                    errs.append(forbidden(path.child("volumes").index(vi).child("projected", "sources").index(si)
                                          .child("serviceAccountToken"),
                                          "must not be specified when serviceAccountName is not set"))
    for key in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(key) or ()):
            errs.extend(image_whitespace(c, path.child(key).index(i)))
    return errs


def validate_pod_template_spec(template: Obj | None, path: Path) -> list[FieldError]:
    """Upstream ``ValidatePodTemplateSpec``; note labels/annotations report at ``<path>.labels`` as upstream does."""
    if template is None:
        return [required(path, "")]
    meta = template.get("metadata") or {}
    errs: list[FieldError] = []
    if meta.get("labels"):
        errs.extend(validate_labels(meta["labels"], path.child("labels")))
    if meta.get("annotations"):
        errs.extend(validate_annotations(meta["annotations"], path.child("annotations")))
    spec = template.get("spec") or {}
    errs.extend(validate_pod_spec(spec, path.child("spec")))
    if spec.get("ephemeralContainers"):
        errs.append(forbidden(path.child("spec", "ephemeralContainers"),
                              "ephemeral containers not allowed in pod template"))
    return errs
