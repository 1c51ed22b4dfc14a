"""batch/v1 Job and CronJob: defaults, validation and strategies (upstream ``pkg/apis/batch``, ``pkg/registry/batch``).

A Job's selector is generated at create unless ``manualSelector`` is true: the template gets ``job-name`` and
``controller-uid`` labels (legacy and ``batch.kubernetes.io/`` forms) and the selector matches the new uid, so a
Job can never adopt another Job's pods. Upstream's create answer is decoded from what it just stored, and decoding
defaults again — which copies the template labels onto a Job that has none; :meth:`JobStrategy.prepare_for_create`
does that second pass so a create returns what a real cluster returns.

The pod template of a Job is immutable, except that a suspended Job that never started may change its scheduling
directives (node affinity, node selector, tolerations, scheduling gates, template labels and annotations).
"""

from __future__ import annotations

from typing import Any

from pybernetes.api.field import (
    ErrorType,
    FieldError,
    Path,
    duplicate,
    invalid,
    not_supported,
    required,
    too_long,
    too_many,
)
from pybernetes.api.kinds.apps import (
    SELECTOR_MISMATCH,
    Sel,
    default_template,
    ensure_template,
    go_label_selector,
    labels_repr,
    name_warnings,
    selector_kind,
    selector_matches,
    template_labels,
)
from pybernetes.api.kinds.fieldchecks import domain_prefixed_path, immutable, non_negative
from pybernetes.api.kinds.pod import validate_pod_template_spec
from pybernetes.api.selectors import validate_label_selector
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import dns1123_label, qualified_name

JOB_NAME, LEGACY_JOB_NAME = "batch.kubernetes.io/job-name", "job-name"
CONTROLLER_UID, LEGACY_CONTROLLER_UID = "batch.kubernetes.io/controller-uid", "controller-uid"
MAX_INT32 = 2 ** 31 - 1
MAX_PARALLELISM_INDEXED = 100_000
MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_HIGH_COMPLETIONS = 10_000
MAX_FAILED_INDEXES_HIGH_COMPLETIONS = 10_000
MAX_POD_FAILURE_RULES = 20
MAX_EXIT_CODE_VALUES = 255
MAX_CONDITION_PATTERNS = 20
MAX_MANAGED_BY = 63
MAX_SUCCEEDED_INDEXES = 64 * 1024
MAX_SUCCESS_RULES = 20
FAILURE_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
EXIT_CODE_OPERATORS = ("In", "NotIn")
CONDITION_STATUSES = ("False", "True", "Unknown")
REPLACEMENT_POLICIES = ("Failed", "TerminatingOrFailed")
SPEC = Path("spec")


# ---------------------------------------------------------------- Job defaults


def default_job(obj: Obj) -> None:
    """``SetDefaults_Job`` (batch/v1, 1.33) plus the pod template's defaults."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    copy_template_labels(obj)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    pfp = spec.get("podFailurePolicy")
    if isinstance(pfp, dict):
        for rule in pfp.get("rules") or ():
            for pattern in (rule or {}).get("onPodConditions") or ():
                if isinstance(pattern, dict) and not pattern.get("status"):
                    pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if pfp is not None else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    default_template(obj)


def copy_template_labels(obj: Obj) -> None:
    """A Job without labels takes its template's labels."""
    labels = template_labels(obj.get("spec") or {})
    meta = obj.setdefault("metadata", {})
    if labels is not None and not meta.get("labels"):
        meta["labels"] = dict(labels)


def generate_selector(obj: Obj) -> None:
    """Upstream ``generateSelector``: label the template with the Job's name and uid and select on the uid.

    Labels the user already set are left alone; a conflicting value is then reported by validation.
    """
    meta = obj.get("metadata") or {}
    name, uid = meta.get("name", ""), meta.get("uid", "")
    tmpl = ensure_template(obj["spec"])
    tmeta = tmpl.get("metadata")
    if not isinstance(tmeta, dict):
        tmeta = tmpl["metadata"] = {}
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    for key in (LEGACY_JOB_NAME, JOB_NAME):
        labels.setdefault(key, name)
    for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
        labels.setdefault(key, uid)
    sel = obj["spec"].get("selector")
    if not isinstance(sel, dict):
        sel = obj["spec"]["selector"] = {}
    ml = sel.get("matchLabels")
    if not isinstance(ml, dict):
        ml = sel["matchLabels"] = {}
    ml.setdefault(CONTROLLER_UID, uid)


# ---------------------------------------------------------------- Job validation


def _has_label(labels: dict[str, str], key: str, expected: str, path: Path) -> list[FieldError]:
    """``ValidateHasLabel``."""
    if key not in labels:
        return [required(path.child("labels").key(key), expected)]
    if labels[key] != expected:
        return [invalid(path.child("labels").key(key), labels_repr(labels), f"must be '{expected}'")]
    return []


def validate_generated_selector(obj: Obj, *, require_prefixed: bool) -> list[FieldError]:
    spec = obj.get("spec") or {}
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    meta = obj.get("metadata") or {}
    name, uid = meta.get("name", ""), meta.get("uid", "")
    errs: list[FieldError] = []
    if not uid:
        errs.append(required(Path("metadata", "uid")))
    labels = template_labels(spec) or {}
    tpath = SPEC.child("template", "metadata")
    errs += _has_label(labels, LEGACY_CONTROLLER_UID, uid, tpath)
    errs += _has_label(labels, LEGACY_JOB_NAME, name, tpath)
    expected = {}
    if require_prefixed:
        errs += _has_label(labels, CONTROLLER_UID, uid, tpath)
        errs += _has_label(labels, JOB_NAME, name, tpath)
        expected = {CONTROLLER_UID: uid, JOB_NAME: name}
    expected.update({LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name})
    kind, parsed = selector_kind(spec["selector"])
    if kind is not Sel.BAD and not selector_matches(kind, parsed, expected):
        errs.append(invalid(SPEC.child("selector"), go_label_selector(spec["selector"]),
                            "`selector` not auto-generated"))
    return errs


def validate_job(obj: Obj, *, require_prefixed: bool = True) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs = validate_generated_selector(obj, require_prefixed=require_prefixed)
    errs += validate_job_spec(spec, SPEC)
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
        name = (obj.get("metadata") or {}).get("name", "")
        hostname = f"{name}-{completions - 1}"
        if dns1123_label(hostname):
            errs.append(invalid(Path("metadata", "name"), name,
                                f"will not able to create pod with invalid DNS label: {hostname}"))
    return errs


def validate_job_spec(spec: Obj, path: Path) -> list[FieldError]:
    """``ValidateJobSpec``: the shared spec rules plus a required selector that matches the template."""
    errs = job_spec_errors(spec, path)
    sel = spec.get("selector")
    if sel is None:
        errs.append(required(path.child("selector")))
    else:
        errs += validate_label_selector(sel, path.child("selector"))
    kind, parsed = selector_kind(sel)
    labels = template_labels(spec)
    if kind is not Sel.BAD and not selector_matches(kind, parsed, labels):
        errs.append(invalid(path.child("template", "metadata", "labels"), labels_repr(labels), SELECTOR_MISMATCH))
    return errs


def job_spec_errors(spec: Obj, path: Path) -> list[FieldError]:
    """``validateJobSpec``: rules shared by Jobs and CronJob job templates."""
    errs: list[FieldError] = []
    for name in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                 "backoffLimitPerIndex"):
        errs += non_negative(spec.get(name), path.child(name))
    completions = spec.get("completions")
    per_index, max_failed = spec.get("backoffLimitPerIndex"), spec.get("maxFailedIndexes")
    if max_failed is not None:
        errs += non_negative(max_failed, path.child("maxFailedIndexes"))
        if per_index is None:
            errs.append(required(path.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
    managed_by = spec.get("managedBy")
    if managed_by is not None:
        errs += domain_prefixed_path(managed_by, path.child("managedBy"))
        if len(managed_by) > MAX_MANAGED_BY:
            errs.append(too_long(path.child("managedBy"), managed_by, MAX_MANAGED_BY))
    mode = spec.get("completionMode")
    if mode is not None:
        errs += _indexed(spec, mode, path)
    if mode in (None, "NonIndexed"):
        if per_index is not None:
            errs.append(invalid(path.child("backoffLimitPerIndex"), per_index, "requires indexed completion mode"))
        if max_failed is not None:
            errs.append(invalid(path.child("maxFailedIndexes"), max_failed, "requires indexed completion mode"))
    pfp = spec.get("podFailurePolicy")
    if pfp is not None:
        errs += _pod_failure_policy(spec, pfp, path.child("podFailurePolicy"))
    sp = spec.get("successPolicy")
    if sp is not None:
        if (mode or "NonIndexed") != "Indexed":
            errs.append(invalid(path.child("successPolicy"), sp, "requires indexed completion mode"))
        else:
            errs += _success_policy(sp, completions, path.child("successPolicy"))
    rp = spec.get("podReplacementPolicy")
    if rp is not None:
        if pfp is not None:
            if rp != "Failed":
                errs.append(not_supported(path.child("podReplacementPolicy"), rp, ["Failed"]))
        elif rp not in REPLACEMENT_POLICIES:
            errs.append(not_supported(path.child("podReplacementPolicy"), rp, list(REPLACEMENT_POLICIES)))
    tmpl = spec.get("template") or {}
    errs += validate_pod_template_spec(tmpl, path.child("template"))
    restart = ((tmpl.get("spec") or {}).get("restartPolicy")) or ""
    rpath = path.child("template", "spec", "restartPolicy")
    if restart in ("Always", ""):
        errs.append(required(rpath, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(not_supported(rpath, restart, ["OnFailure", "Never"]))
    elif pfp is not None and restart != "Never":
        errs.append(invalid(rpath, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _indexed(spec: Obj, mode: Any, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    if mode not in ("NonIndexed", "Indexed"):
        errs.append(not_supported(path.child("completionMode"), mode, ["NonIndexed", "Indexed"]))
    if mode != "Indexed":
        return errs
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    per_index, max_failed = spec.get("backoffLimitPerIndex"), spec.get("maxFailedIndexes")
    if completions is None:
        errs.append(required(path.child("completions"), "when completion mode is Indexed"))
    if parallelism is not None and parallelism > MAX_PARALLELISM_INDEXED:
        errs.append(invalid(path.child("parallelism"), parallelism,
                            f"must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"))
    if completions is not None and max_failed is not None and max_failed > completions:
        errs.append(invalid(path.child("maxFailedIndexes"), max_failed, "must be less than or equal to completions"))
    if max_failed is not None and max_failed > MAX_FAILED_INDEXES:
        errs.append(invalid(path.child("maxFailedIndexes"), max_failed,
                            f"must be less than or equal to {MAX_FAILED_INDEXES}"))
    if completions is not None and completions > COMPLETIONS_SOFT_LIMIT and per_index is not None:
        tail = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        if max_failed is None:
            errs.append(required(path.child("maxFailedIndexes"),
                                 f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"))
        if parallelism is not None and parallelism > PARALLELISM_LIMIT_HIGH_COMPLETIONS:
            errs.append(invalid(path.child("parallelism"), parallelism,
                                f"must be less than or equal to {PARALLELISM_LIMIT_HIGH_COMPLETIONS} {tail}"))
        if max_failed is not None and max_failed > MAX_FAILED_INDEXES_HIGH_COMPLETIONS:
            errs.append(invalid(path.child("maxFailedIndexes"), max_failed,
                                f"must be less than or equal to {MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {tail}"))
    return errs


def _omit(path: Path, detail: str) -> FieldError:
    """An Invalid error without a value (upstream ``field.OmitValueType``)."""
    return FieldError(ErrorType.INVALID, str(path), detail=detail)


def _pod_failure_policy(spec: Obj, pfp: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    rules = pfp.get("rules") or []
    rules_path = path.child("rules")
    if len(rules) > MAX_POD_FAILURE_RULES:
        errs.append(too_many(rules_path, len(rules), MAX_POD_FAILURE_RULES))
    pspec = (spec.get("template") or {}).get("spec") or {}
    names = {c.get("name") for key in ("containers", "initContainers") for c in pspec.get(key) or ()
             if isinstance(c, dict)}
    for i, rule in enumerate(rules):
        errs += _failure_rule(spec, rule or {}, rules_path.index(i), names)
    return errs


def _failure_rule(spec: Obj, rule: Obj, path: Path, names: set[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    action = rule.get("action", "")
    apath = path.child("action")
    if action == "":
        errs.append(required(apath, 'valid values: ["Count" "FailIndex" "FailJob" "Ignore"]'))
    elif action == "FailIndex":
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(invalid(apath, action, "requires the backoffLimitPerIndex to be set"))
    elif action not in FAILURE_ACTIONS:
        errs.append(not_supported(apath, action, list(FAILURE_ACTIONS)))
    on_exit, on_conditions = rule.get("onExitCodes"), rule.get("onPodConditions") or []
    if on_exit is not None:
        errs += _on_exit_codes(on_exit, path.child("onExitCodes"), names)
    if on_conditions:
        errs += _on_pod_conditions(on_conditions, path.child("onPodConditions"))
    if on_exit is not None and on_conditions:
        errs.append(_omit(path, "specifying both OnExitCodes and OnPodConditions is not supported"))
    if on_exit is None and not on_conditions:
        errs.append(_omit(path, "specifying one of OnExitCodes and OnPodConditions is required"))
    return errs


def _on_pod_conditions(patterns: list[Any], path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(patterns) > MAX_CONDITION_PATTERNS:
        errs.append(too_many(path, len(patterns), MAX_CONDITION_PATTERNS))
    for j, pattern in enumerate(patterns):
        pattern = pattern or {}
        ppath = path.index(j)
        errs += [invalid(ppath.child("type"), pattern.get("type", ""), m)
                 for m in qualified_name(pattern.get("type", ""))]
        status = pattern.get("status", "")
        if status == "":
            errs.append(required(ppath.child("status"), 'valid values: ["False" "True" "Unknown"]'))
        elif status not in CONDITION_STATUSES:
            errs.append(not_supported(ppath.child("status"), status, list(CONDITION_STATUSES)))
    return errs


def _on_exit_codes(req: Obj, path: Path, names: set[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    op = req.get("operator", "")
    if op == "":
        errs.append(required(path.child("operator"), 'valid values: ["In" "NotIn"]'))
    elif op not in EXIT_CODE_OPERATORS:
        errs.append(not_supported(path.child("operator"), op, list(EXIT_CODE_OPERATORS)))
    cname = req.get("containerName")
    if cname is not None and cname not in names:
        errs.append(invalid(path.child("containerName"), cname,
                            "must be one of the container or initContainer names in the pod template"))
    values = req.get("values") or []
    vpath = path.child("values")
    if not values:
        errs.append(invalid(vpath, values, "at least one value is required"))
    elif len(values) > MAX_EXIT_CODE_VALUES:
        errs.append(too_many(vpath, len(values), MAX_EXIT_CODE_VALUES))
    seen: set[int] = set()
    ordered = True
    for j, v in enumerate(values):
        if op == "In" and v == 0:
            errs.append(invalid(vpath.index(j), v, "must not be 0 for the In operator"))
        if v in seen:
            errs.append(duplicate(vpath.index(j), v))
        seen.add(v)
        if j > 0 and values[j - 1] > v:
            ordered = False
    if not ordered:
        errs.append(invalid(vpath, values, "must be ordered"))
    return errs


def _success_policy(sp: Obj, completions: Any, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    rules = sp.get("rules") or []
    rpath = path.child("rules")
    if not rules:
        errs.append(required(rpath, "at least one rules must be specified when the successPolicy is specified"))
    if len(rules) > MAX_SUCCESS_RULES:
        errs.append(too_many(rpath, len(rules), MAX_SUCCESS_RULES))
    total_completions = completions if isinstance(completions, int) else 0
    for i, rule in enumerate(rules):
        rule = rule or {}
        p = rpath.index(i)
        count, indexes = rule.get("succeededCount"), rule.get("succeededIndexes")
        if count is None and indexes is None:
            errs.append(required(p, "at least one of succeededCount or succeededIndexes must be specified"))
        total = 0
        if indexes is not None:
            ipath = p.child("succeededIndexes")
            if len(indexes) > MAX_SUCCEEDED_INDEXES:
                errs.append(too_long(ipath, indexes, MAX_SUCCEEDED_INDEXES))
            try:
                total = indexes_total(indexes, total_completions)
            except ValueError as e:
                errs.append(invalid(ipath, indexes, f"error parsing succeededIndexes: {e}"))
        if count is not None:
            cpath = p.child("succeededCount")
            errs += non_negative(count, cpath)
            if count > total_completions:
                errs.append(invalid(cpath, count, f"must be less than or equal to {total_completions} "
                                                  "(the number of specified completions)"))
            if indexes is not None and count > total:
                errs.append(invalid(cpath, count, f"must be less than or equal to {total} "
                                                  "(the number of indexes in the specified succeededIndexes field)"))
    return errs


def indexes_total(text: str, completions: int) -> int:
    """Count the indexes in ``"1,3-5"``; ValueError with upstream's text when malformed or out of order."""
    if not text:
        return 0
    last: int | None = None
    total = 0
    for interval in text.split(","):
        x, y = _interval(interval, completions)
        if last is not None and last >= x:
            raise ValueError(f"non-increasing order, previous: {last}, current: {x}")
        total += y - x + 1
        last = y
    return total


def _interval(text: str, completions: int) -> tuple[int, int]:
    parts = text.split("-")
    if len(parts) > 2:
        raise ValueError(f'the fragment "{text}" violates the requirement that an index interval can have at most '
                         "two parts separated by '-'")
    nums = []
    for part in parts:
        if not part.lstrip("+-").isdigit():
            raise ValueError(f'cannot convert string to integer for index: "{part}"')
        n = int(part)
        if n >= completions:
            raise ValueError(f'too large index: "{part}"')
        nums.append(n)
    if len(nums) == 2 and nums[0] >= nums[1]:
        raise ValueError(f"non-increasing order, previous: {nums[0]}, current: {nums[1]}")
    return nums[0], nums[-1]


# ---------------------------------------------------------------- Job updates and status


def _scheduling_view(tmpl: Obj, new_tmpl: Obj) -> Obj:
    """The old template with the directives a suspended, never-started Job may change taken from the new one."""
    old = {**tmpl, "metadata": dict(tmpl.get("metadata") or {}), "spec": dict(tmpl.get("spec") or {})}
    new_meta, new_spec = new_tmpl.get("metadata") or {}, new_tmpl.get("spec") or {}
    ospec = old["spec"]
    new_aff, old_aff = new_spec.get("affinity"), ospec.get("affinity")
    if new_aff is None and old_aff is not None:
        rest = {k: v for k, v in old_aff.items() if k != "nodeAffinity"}
        ospec["affinity"] = rest if any(v is not None for v in rest.values()) else None
        if ospec["affinity"] is None:
            del ospec["affinity"]
    elif new_aff is not None and old_aff is None:
        ospec["affinity"] = {"nodeAffinity": new_aff.get("nodeAffinity")} if "nodeAffinity" in new_aff else {}
    elif new_aff is not None and old_aff is not None:
        ospec["affinity"] = {**old_aff, "nodeAffinity": new_aff.get("nodeAffinity")}
        if "nodeAffinity" not in new_aff:
            del ospec["affinity"]["nodeAffinity"]
    for key in ("nodeSelector", "tolerations", "schedulingGates"):
        _copy_key(ospec, new_spec, key)
    for key in ("annotations", "labels"):
        _copy_key(old["metadata"], new_meta, key)
    return old


def _copy_key(dst: dict[str, Any], src: dict[str, Any], key: str) -> None:
    if key in src:
        dst[key] = src[key]
    else:
        dst.pop(key, None)


def validate_job_update(obj: Obj, old: Obj) -> list[FieldError]:
    spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
    old_labels = template_labels(old_spec) or {}
    require_prefixed = JOB_NAME in old_labels and CONTROLLER_UID in old_labels
    errs = validate_job(obj, require_prefixed=require_prefixed)
    errs += validate_job_spec(spec, SPEC)
    errs += _completions_update(spec, old_spec)
    errs += immutable(spec.get("selector"), old_spec.get("selector"), SPEC.child("selector"))
    tmpl, old_tmpl = spec.get("template") or {}, old_spec.get("template") or {}
    suspended = old_spec.get("suspend") is True
    never_started = (old.get("status") or {}).get("startTime") is None
    if suspended and never_started:
        old_tmpl = _scheduling_view(old_tmpl, tmpl)
    errs += immutable(tmpl, old_tmpl, SPEC.child("template"))
    for name in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        errs += immutable(spec.get(name), old_spec.get(name), SPEC.child(name))
    return _dedupe(errs)


def _dedupe(errs: list[FieldError]) -> list[FieldError]:
    """Upstream runs the spec rules twice on update and de-duplicates when it renders the message."""
    seen: set[str] = set()
    out = []
    for e in errs:
        s = str(e)
        if s not in seen:
            seen.add(s)
            out.append(e)
    return out


def _completions_update(spec: Obj, old_spec: Obj) -> list[FieldError]:
    """Completions are immutable, except that an Indexed Job may scale completions together with parallelism."""
    path = SPEC.child("completions")
    if spec.get("completionMode") != "Indexed":
        return immutable(spec.get("completions"), old_spec.get("completions"), path)
    new, prev = spec.get("completions"), old_spec.get("completions")
    if new == prev or new is None:
        return []
    if new != spec.get("parallelism"):
        return [invalid(path, new, "can only be modified in tandem with spec.parallelism")]
    return []


def _cond_true(status: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or ()
               if isinstance(c, dict))


def validate_job_status_update(obj: Obj, old: Obj) -> list[FieldError]:
    """The status rules that hold for every writer (the Job controller or a ``managedBy`` controller)."""
    path = Path("status")
    status, old_status = obj.get("status") or {}, old.get("status") or {}
    errs: list[FieldError] = []
    for name in ("active", "succeeded", "failed", "ready", "terminating"):
        errs += non_negative(status.get(name), path.child(name))
    uncounted = status.get("uncountedTerminatedPods") or {}
    seen: set[str] = set()
    for key in ("succeeded", "failed"):
        for i, uid in enumerate(uncounted.get(key) or ()):
            p = path.child("uncountedTerminatedPods", key).index(i)
            if uid == "":
                errs.append(invalid(p, uid, "must not be empty"))
            elif uid in seen:
                errs.append(duplicate(p, uid))
            else:
                seen.add(uid)
    complete, failed = _cond_true(status, "Complete"), _cond_true(status, "Failed")
    conds = path.child("conditions")
    if complete and failed:
        errs.append(_omit(conds, "cannot set Complete=True and Failed=true conditions"))
    for kind in ("Failed", "Complete", "FailureTarget"):
        if _cond_true(old_status, kind) and not _cond_true(status, kind):
            errs.append(_omit(conds, f"cannot disable the terminal {kind}=True condition"))
    if (status.get("failed") or 0) < (old_status.get("failed") or 0):
        errs.append(invalid(path.child("failed"), status.get("failed") or 0, "cannot decrease the failed counter"))
    spec = obj.get("spec") or {}
    indexed_elastic = spec.get("completionMode") == "Indexed" and spec.get("completions") == spec.get("parallelism")
    if not indexed_elastic and (status.get("succeeded") or 0) < (old_status.get("succeeded") or 0):
        errs.append(invalid(path.child("succeeded"), status.get("succeeded") or 0,
                            "cannot decrease the succeeded counter"))
    finished = complete or failed
    if finished and (status.get("active") or 0) > 0 and status.get("active") != old_status.get("active"):
        errs.append(invalid(path.child("active"), status["active"], "active>0 is invalid for finished job"))
    ready = status.get("ready")
    if ready is not None and ready != old_status.get("ready") and ready > (status.get("active") or 0):
        errs.append(invalid(path.child("ready"), ready, "cannot set more ready pods than active"))
    return errs


class JobStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {}

    def default(self, obj: Obj) -> None:
        default_job(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not spec.get("manualSelector"):
            generate_selector(obj)
        super().prepare_for_create(obj)
        copy_template_labels(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_job(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_job_update(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_job_status_update(obj, old)

    def warnings_on_create(self, obj: Obj) -> list[str]:
        return name_warnings(obj)
