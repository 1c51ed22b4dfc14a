"""Job and CronJob: defaults, generated selector, validation, immutable template, status rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.batch import JobStrategy, indexes_total
from pybernetes.api.kinds.cronjob import CronJobStrategy

JOB = JobStrategy()
CRON = CronJobStrategy()
UID = "0f6c2f39-9d6a-4b5e-9b6c-2a4d5e6f7a8b"
GENERATED = {"job-name": "pi", "batch.kubernetes.io/job-name": "pi",
             "controller-uid": UID, "batch.kubernetes.io/controller-uid": UID}


def job(**spec: Any) -> dict[str, Any]:
    base = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default", "uid": UID},
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}],
                                           "restartPolicy": "Never"}}}}
    base["spec"].update(spec)
    return base


def created(obj: dict[str, Any]) -> dict[str, Any]:
    JOB.default(obj)
    JOB.prepare_for_create(obj)
    return obj


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_job_as_a_real_cluster_stores_it() -> None:
    j = created(job())
    assert {k: v for k, v in j["spec"].items() if k != "template"} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed", "manualSelector": False,
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}}
    assert j["spec"]["template"]["metadata"]["labels"] == GENERATED
    assert j["metadata"]["labels"] == GENERATED          # copied by upstream's read-back defaulting
    assert j["metadata"]["generation"] == 1
    assert JOB.validate(j) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"parallelism": 3}, {"parallelism": 3, "backoffLimit": 6}),
    ({"completions": 5}, {"completions": 5, "parallelism": 1}),
    ({"completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1},
     {"backoffLimit": 2147483647}),
    ({"podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}},
     {"podReplacementPolicy": "Failed",
      "podFailurePolicy": {"rules": [{"action": "Ignore",
                                      "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}}),
])
def test_job_defaults_depend_on_what_is_given(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    j = created(job(**spec))
    for k, v in expected.items():
        assert j["spec"][k] == v
    assert "completions" not in j["spec"] or spec.get("parallelism") is None


def test_user_labels_are_kept_and_the_job_keeps_its_own() -> None:
    j = job()
    j["metadata"]["labels"] = {"team": "a"}
    j["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    created(j)
    assert j["metadata"]["labels"] == {"team": "a"}
    assert j["spec"]["template"]["metadata"]["labels"] == {"app": "pi", **GENERATED}


def test_manual_selector() -> None:
    j = job(manualSelector=True, selector={"matchLabels": {"app": "pi"}})
    j["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    created(j)
    assert j["spec"]["selector"] == {"matchLabels": {"app": "pi"}}
    assert JOB.validate(j) == []


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda j: j["spec"]["template"]["spec"].__setitem__("restartPolicy", "Always"),
     ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']),
    (lambda j: j["spec"]["template"]["spec"].__setitem__("restartPolicy", "Sometimes"),
     # the pod template's own check first, then the Job's, as upstream reports both
     ['spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", '
      '"Never"',
      'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "OnFailure", "Never"']),
    (lambda j: j["spec"].__setitem__("backoffLimit", -1),
     ["spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"]),
    (lambda j: j["spec"].__setitem__("completionMode", "Sometimes"),
     ['spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"']),
    (lambda j: j["spec"].__setitem__("maxFailedIndexes", 1),
     ["spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
      "spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode"]),
    (lambda j: j["spec"].__setitem__("successPolicy", {"rules": [{"succeededCount": 1}]}),
     ['spec.successPolicy: Invalid value: {"rules":[{"succeededCount":1}]}: requires indexed completion mode']),
    (lambda j: j["spec"]["template"]["metadata"]["labels"].__setitem__("controller-uid", "other"),
     ['spec.template.metadata.labels[controller-uid]: Invalid value: map[string]string{"batch.kubernetes.io/'
      'controller-uid":"' + UID + '", "batch.kubernetes.io/job-name":"pi", "controller-uid":"other", '
      '"job-name":"pi"}: must be \'' + UID + "'"]),
    (lambda j: j["spec"].__setitem__("podReplacementPolicy", "Never"),
     ['spec.podReplacementPolicy: Unsupported value: "Never": supported values: "Failed", "TerminatingOrFailed"']),
    (lambda j: j["spec"].__setitem__("managedBy", "kueue"),
     ['spec.managedBy: Invalid value: "kueue": must be a domain-prefixed path (such as "acme.io/foo")']),
])
def test_job_mistakes(mutate: Any, expected: list[str]) -> None:
    j = created(job())
    mutate(j)
    assert msgs(JOB.validate(j)) == expected


def test_pod_failure_policy_rules() -> None:
    j = created(job(podFailurePolicy={"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 3, 3, 1]}},
        {"action": "FailIndex", "onPodConditions": [{"type": "DisruptionTarget", "status": "Maybe"}]},
        {"action": "Count"},
    ]}))
    j["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert msgs(JOB.validate(j)) == [
        "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
        "spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 3",
        "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0,3,3,1]: must be ordered",
        'spec.podFailurePolicy.rules[1].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be '
        "set",
        'spec.podFailurePolicy.rules[1].onPodConditions[0].status: Unsupported value: "Maybe": supported values: '
        '"False", "True", "Unknown"',
        "spec.podFailurePolicy.rules[2]: Invalid value: specifying one of OnExitCodes and OnPodConditions is "
        "required",
        'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when '
        "podFailurePolicy is specified",
    ]


def test_indexed_job_name_must_fit_hostnames() -> None:
    j = created(job(completionMode="Indexed", completions=10))
    j["metadata"]["name"] = "x" * 62
    assert msgs(JOB.validate(j))[-1] == (
        f'metadata.name: Invalid value: "{"x" * 62}": will not able to create pod with invalid DNS label: '
        f'{"x" * 62}-9')


def test_template_is_immutable_unless_suspended_and_never_started() -> None:
    old = created(job())
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5"
    assert [e.field for e in JOB.validate_update(new, old)] == ["spec.template"]
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    assert [e.field for e in JOB.validate_update(new, old)] == ["spec.template"]
    old["spec"]["suspend"] = True
    new["spec"]["suspend"] = True
    assert JOB.validate_update(new, old) == []
    old["status"] = {"startTime": "2025-01-01T00:00:00Z"}
    assert [e.field for e in JOB.validate_update(new, old)] == ["spec.template"]


@pytest.mark.parametrize(("field", "value"), [
    ("completions", 4), ("completionMode", "Indexed"), ("selector", {"matchLabels": {"a": "b"}}),
])
def test_immutable_job_fields(field: str, value: Any) -> None:
    old = created(job())
    new = copy.deepcopy(old)
    new["spec"][field] = value
    assert field in {e.field.removeprefix("spec.") for e in JOB.validate_update(new, old)}
    assert any(str(e).endswith("field is immutable") for e in JOB.validate_update(new, old)
               if e.field == f"spec.{field}")


def test_elastic_indexed_job_scales_completions_with_parallelism() -> None:
    old = created(job(completionMode="Indexed", completions=3, parallelism=3))
    new = copy.deepcopy(old)
    new["spec"].update(completions=5, parallelism=5)
    assert JOB.validate_update(new, old) == []
    new["spec"]["parallelism"] = 4
    assert msgs(JOB.validate_update(new, old)) == [
        "spec.completions: Invalid value: 5: can only be modified in tandem with spec.parallelism"]


def test_job_status_rules() -> None:
    old = created(job())
    old["status"] = {"failed": 2, "conditions": [{"type": "Complete", "status": "True"}]}
    new = copy.deepcopy(old)
    new["status"] = {"failed": 1, "active": 1, "conditions": [{"type": "Failed", "status": "True"}]}
    assert msgs(JOB.status_strategy().validate_update(new, old)) == [
        "status.conditions: Invalid value: cannot disable the terminal Complete=True condition",
        "status.failed: Invalid value: 1: cannot decrease the failed counter",
        "status.active: Invalid value: 1: active>0 is invalid for finished job",
    ]


@pytest.mark.parametrize(("text", "completions", "result"), [
    ("", 5, 0), ("0", 5, 1), ("0,2-4", 5, 4),
    ("3-1", 5, "non-increasing order, previous: 3, current: 1"),
    ("1,1", 5, "non-increasing order, previous: 1, current: 1"),
    ("7", 5, 'too large index: "7"'),
    ("a", 5, 'cannot convert string to integer for index: "a"'),
    ("1-2-3", 5, "the fragment \"1-2-3\" violates the requirement that an index interval can have at most two parts "
                 "separated by '-'"),
])
def test_index_intervals(text: str, completions: int, result: Any) -> None:
    if isinstance(result, int):
        assert indexes_total(text, completions) == result
    else:
        with pytest.raises(ValueError, match="^" + __import__("re").escape(result) + "$"):
            indexes_total(text, completions)


# ---------------------------------------------------------------- CronJob


def cronjob(**spec: Any) -> dict[str, Any]:
    base = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"schedule": "*/5 * * * *",
                     "jobTemplate": {"spec": {"template": {"spec": {
                         "containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}}
    base["spec"].update(spec)
    return base


def cron_created(obj: dict[str, Any]) -> dict[str, Any]:
    CRON.default(obj)
    CRON.prepare_for_create(obj)
    return obj


def test_cronjob_defaults() -> None:
    c = cron_created(cronjob())
    assert {k: v for k, v in c["spec"].items() if k != "jobTemplate"} == {
        "schedule": "*/5 * * * *", "concurrencyPolicy": "Allow", "suspend": False,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    jspec = c["spec"]["jobTemplate"]["spec"]
    assert "backoffLimit" not in jspec and "selector" not in jspec     # Job defaults are not applied to templates
    assert jspec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert CRON.validate(c) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"schedule": ""}, ["spec.schedule: Required value"]),
    ({"schedule": "every minute"},
     ['spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: [every minute]']),
    ({"schedule": "61 * * * *"}, ['spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum '
                                  "(59): 61"]),
    ({"schedule": "TZ=UTC 0 * * * *"},
     ['spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field '
      "instead"]),
    ({"timeZone": "Mars/Olympus"},
     ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']),
    ({"timeZone": ""}, ['spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string']),
    ({"concurrencyPolicy": "Sometimes"},
     ['spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"']),
    ({"startingDeadlineSeconds": -5},
     ["spec.startingDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0"]),
])
def test_cronjob_mistakes(spec: dict[str, Any], expected: list[str]) -> None:
    c = cron_created(cronjob())
    c["spec"].update(spec)
    assert msgs(CRON.validate(c)) == expected


def test_cronjob_template_rules_and_name_length() -> None:
    c = cron_created(cronjob())
    c["metadata"]["name"] = "n" * 53
    jspec = c["spec"]["jobTemplate"]["spec"]
    jspec["selector"] = {"matchLabels": {"a": "b"}}
    jspec["manualSelector"] = True
    jspec["template"]["spec"]["restartPolicy"] = "Always"
    assert msgs(CRON.validate(c)) == [
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
        'spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated",
        'spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"',
        f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters',
    ]


def test_cronjob_update_allows_tz_kept_from_before() -> None:
    old = cron_created(cronjob(schedule="CRON_TZ=UTC 0 * * * *"))
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    assert CRON.validate_update(new, old) == []
    new["spec"]["timeZone"] = "Europe/Paris"
    assert msgs(CRON.validate_update(new, old)) == [
        'spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use both timeZone field and TZ or CRON_TZ in '
        "schedule"]
    CRON.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 2
