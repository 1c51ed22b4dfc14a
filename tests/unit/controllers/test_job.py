"""The Job controller against the fake API: completions and parallelism, tracking finalizers and uncounted pods,
backoffLimit with exponential backoff, activeDeadlineSeconds, Indexed Jobs, OnFailure restarts, suspension, pod
failure and success policies, the two-step terminal conditions of 1.33 and the status they leave."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import FakeClient, Harness, drain, harness, status_error

from pybernetes.client.resources import JOBS, PODS
from pybernetes.client.rest import APIStatusError
from pybernetes.controllers.job import JobController
from pybernetes.controllers.job_util import COMPLETION_INDEX, TRACKING_FINALIZER

Obj = dict[str, Any]
OPTIONS = {"job_sync_batch_period": 0}


def job_body(*, completions: int | None = 1, parallelism: int = 1, backoff: int = 6, restart: str = "Never",
             **spec: Any) -> Obj:
    body: Obj = {"metadata": {"name": "pi", "namespace": "ns"},
                 "spec": {"parallelism": parallelism, "backoffLimit": backoff, **spec,
                          "template": {"spec": {"restartPolicy": restart,
                                                "containers": [{"name": "pi", "image": "perl"}]}}}}
    if completions is not None:
        body["spec"]["completions"] = completions
    return body


async def started(h: Harness) -> JobController:
    c = JobController(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: JobController, key: str = "ns/pi") -> float | None:
    await h.settle()
    out = await c.reconcile(key)
    await h.settle()
    return out


async def drain_orphans(h: Harness, c: JobController) -> None:
    """Run queued orphan-pod keys (finalizer cleanup) as the workers would."""
    for _ in range(len(c.queue)):
        key = await c.queue.get()
        if str(key).startswith("@"):
            await c.reconcile(str(key))
        c.queue.done(key)
    await h.settle()


def live(fake: FakeClient) -> list[Obj]:
    return [p for p in fake.objects(PODS, "ns") if (p.get("status") or {}).get("phase") not in ("Succeeded",
                                                                                                "Failed")]


async def finish(fake: FakeClient, pod: Obj, *, phase: str = "Succeeded", exit_code: int | None = None) -> None:
    """The kubelet reports the pod finished (Ready=False at the current time, the container terminated)."""
    pod = await fake.get(PODS, pod["metadata"]["name"], "ns")
    code = exit_code if exit_code is not None else (0 if phase == "Succeeded" else 1)
    pod["status"] = {"phase": phase, "conditions": [{"type": "Ready", "status": "False",
                                                     "lastTransitionTime": fake._now()}],
                     "containerStatuses": [{"name": "pi", "restartCount": 0, "ready": False, "image": "perl",
                                            "imageID": "", "state": {"terminated": {
                                                "exitCode": code, "finishedAt": fake._now()}}}]}
    await fake.update(PODS, pod, subresource="status")


async def run(fake: FakeClient, pod: Obj, *, restarts: int = 0) -> None:
    pod = await fake.get(PODS, pod["metadata"]["name"], "ns")
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                         "lastTransitionTime": fake._now()}],
                     "containerStatuses": [{"name": "pi", "restartCount": restarts, "ready": True, "image": "perl",
                                            "imageID": "", "state": {"running": {}}}]}
    await fake.update(PODS, pod, subresource="status")


def job_status(fake: FakeClient) -> Obj:
    return fake.peek(JOBS, "pi", "ns")["status"]              # type: ignore[index,no-any-return]


def conditions(fake: FakeClient) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", "")) for c in job_status(fake).get("conditions") or ()]


async def test_completions_and_parallelism_run_to_complete() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        job = await h.client.create(JOBS, job_body(completions=3, parallelism=2), "ns")
        await sync(h, c)
        pods = live(h.client)
        assert len(pods) == 2
        for p in pods:
            assert p["metadata"]["finalizers"] == [TRACKING_FINALIZER]
            assert p["metadata"]["generateName"] == "pi-"
            assert p["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
            assert p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == job["metadata"]["uid"]
        st = job_status(h.client)
        assert st == {"startTime": st["startTime"], "active": 2, "terminating": 0, "uncountedTerminatedPods": {},
                      "ready": 0}
        await run(h.client, pods[0])
        await sync(h, c)
        assert job_status(h.client)["ready"] == 1
        await finish(h.client, pods[0])
        await sync(h, c)
        assert len(live(h.client)) == 2                         # one replacement for the success
        st = job_status(h.client)
        assert (st.get("succeeded"), st["active"], st["uncountedTerminatedPods"]) == (1, 2, {})
        done = h.client.peek(PODS, pods[0]["metadata"]["name"], "ns")
        assert done is not None and not done["metadata"].get("finalizers")   # counted: finalizer gone
        for p in live(h.client):
            await finish(h.client, p)
        await sync(h, c)
        st = job_status(h.client)
        assert conditions(h.client) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                                        ("Complete", "True", "CompletionsReached")]
        assert st["conditions"][1]["message"] == "Reached expected number of succeeded pods"
        assert (st["succeeded"], st.get("active", 0), st["completionTime"]) == (3, 0,
                                                                                st["conditions"][1][
                                                                                    "lastTransitionTime"])
        assert h.recorder.messages("Completed") == ["Job completed"]
        assert h.client.count("create", "pods") == 3
        assert all(not p["metadata"].get("finalizers") for p in h.client.objects(PODS, "ns"))


async def test_uncounted_pods_are_recorded_before_finalizers_go() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=2), "ns")
        await sync(h, c)
        pod = live(h.client)[0]
        await finish(h.client, pod)
        h.client.fail("patch", "pods", status_error(500, "InternalError", "etcd is down"), times=1)
        with pytest.raises(APIStatusError, match="etcd is down"):
            await sync(h, c)
        st = job_status(h.client)
        assert st["uncountedTerminatedPods"] == {"succeeded": [pod["metadata"]["uid"]]}
        assert "succeeded" not in st                           # recorded, not yet counted
        await sync(h, c)
        st = job_status(h.client)
        assert (st["succeeded"], st["uncountedTerminatedPods"]) == (1, {})


async def test_failing_job_backs_off_exponentially_then_hits_backoff_limit() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(backoff=2), "ns")
        await sync(h, c)
        await finish(h.client, live(h.client)[0], phase="Failed")
        requeue = await sync(h, c)
        assert requeue == 10.0 and not live(h.client)          # 10 s before the replacement
        h.clock.advance(5)
        assert await sync(h, c) == 5.0
        h.clock.advance(5)
        await sync(h, c)
        assert len(live(h.client)) == 1
        await finish(h.client, live(h.client)[0], phase="Failed")
        assert await sync(h, c) == 20.0                        # doubled
        h.clock.advance(20)
        await sync(h, c)
        await finish(h.client, live(h.client)[0], phase="Failed")
        await sync(h, c)
        st = job_status(h.client)
        assert conditions(h.client) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                                        ("Failed", "True", "BackoffLimitExceeded")]
        assert st["failed"] == 3 and "completionTime" not in st
        assert h.recorder.messages("BackoffLimitExceeded") == ["Job has reached the specified backoff limit"]
        assert h.client.count("create", "pods") == 3


async def test_active_deadline_fails_the_job_and_stops_its_pods() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(parallelism=2, completions=4, activeDeadlineSeconds=30), "ns")
        assert await sync(h, c) == 30.0
        for p in live(h.client):
            await run(h.client, p)
        for p in h.client.objects(PODS, "ns"):                 # bound pods are deleted gracefully
            pod = await h.client.get(PODS, p["metadata"]["name"], "ns")
            pod["spec"]["nodeName"] = "n1"
            await h.client.update(PODS, pod)
        h.clock.advance(29)
        assert await sync(h, c) == 1.0                         # re-queued for the deadline
        h.clock.advance(1)
        await sync(h, c)
        assert conditions(h.client) == [("FailureTarget", "True", "DeadlineExceeded")]
        assert all(p["metadata"].get("deletionTimestamp") for p in h.client.objects(PODS, "ns"))
        assert all(not p["metadata"].get("finalizers") for p in h.client.objects(PODS, "ns"))
        assert job_status(h.client)["terminating"] == 2
        for p in h.client.objects(PODS, "ns"):                 # the kubelet finishes the deletions
            await h.client.delete(PODS, p["metadata"]["name"], "ns", grace_period_seconds=0)
        await sync(h, c)
        st = job_status(h.client)
        assert conditions(h.client)[-1] == ("Failed", "True", "DeadlineExceeded")
        assert (st["failed"], st["terminating"]) == (2, 0)
        assert h.recorder.messages("DeadlineExceeded") == ["Job was active longer than specified deadline"]


async def test_indexed_job_gives_each_pod_an_index() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=3, parallelism=3, completionMode="Indexed"), "ns")
        await sync(h, c)
        pods = sorted(live(h.client), key=lambda p: p["metadata"]["annotations"][COMPLETION_INDEX])
        assert [p["metadata"]["annotations"][COMPLETION_INDEX] for p in pods] == ["0", "1", "2"]
        for i, p in enumerate(pods):
            assert p["metadata"]["labels"][COMPLETION_INDEX] == str(i)
            assert p["metadata"]["generateName"] == f"pi-{i}-"
            assert p["spec"]["hostname"] == f"pi-{i}"
            assert p["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {
                "fieldRef": {"fieldPath": f"metadata.labels['{COMPLETION_INDEX}']", "apiVersion": "v1"}}}]
        await finish(h.client, pods[1])
        await finish(h.client, pods[0], phase="Failed")
        await sync(h, c)
        st = job_status(h.client)
        assert (st["completedIndexes"], st["succeeded"], st["failed"]) == ("1", 1, 1)
        h.clock.advance(10)
        await sync(h, c)
        new = [p for p in live(h.client) if p["metadata"]["annotations"][COMPLETION_INDEX] == "0"]
        assert len(new) == 1                                   # index 0 is retried, index 1 is not
        await finish(h.client, new[0])
        await finish(h.client, pods[2])
        await sync(h, c)
        st = job_status(h.client)
        assert (st["completedIndexes"], st["succeeded"]) == ("0-2", 3)
        assert conditions(h.client)[-1] == ("Complete", "True", "CompletionsReached")


async def test_success_policy_completes_an_indexed_job_early() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=3, parallelism=3, completionMode="Indexed",
                                             successPolicy={"rules": [{"succeededIndexes": "0"}]}), "ns")
        await sync(h, c)
        leader = next(p for p in live(h.client) if p["metadata"]["annotations"][COMPLETION_INDEX] == "0")
        await finish(h.client, leader)
        await sync(h, c)
        assert conditions(h.client) == [("SuccessCriteriaMet", "True", "SuccessPolicy")]
        for p in h.client.objects(PODS, "ns"):
            if p["metadata"].get("deletionTimestamp"):
                await h.client.delete(PODS, p["metadata"]["name"], "ns", grace_period_seconds=0)
        await sync(h, c)
        assert conditions(h.client)[-1] == ("Complete", "True", "SuccessPolicy")
        assert job_status(h.client)["conditions"][-1]["message"] == "Matched rules at index 0"


async def test_pod_failure_policy_fail_job_and_ignore() -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
                        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}}]}
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=2, backoff=0, podFailurePolicy=policy), "ns")
        await sync(h, c)
        await finish(h.client, live(h.client)[0], phase="Failed", exit_code=7)
        await sync(h, c)
        assert not conditions(h.client) and "failed" not in job_status(h.client)   # ignored: not counted
        assert not live(h.client)                              # not counted, but the replacement backs off
        h.clock.advance(10)
        await sync(h, c)
        assert len(live(h.client)) == 1
        await finish(h.client, live(h.client)[0], phase="Failed", exit_code=42)
        await sync(h, c)
        msg = job_status(h.client)["conditions"][-1]["message"]
        assert conditions(h.client)[-1] == ("Failed", "True", "PodFailurePolicy")
        assert msg.startswith("Container pi for pod ns/pi-") and msg.endswith(
            "failed with exit code 42 matching FailJob rule at index 0")


async def test_on_failure_restarts_count_against_backoff_limit() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(backoff=2, restart="OnFailure"), "ns")
        await sync(h, c)
        await run(h.client, live(h.client)[0], restarts=2)
        await sync(h, c)
        assert ("FailureTarget", "True", "BackoffLimitExceeded") in conditions(h.client)


async def test_suspend_deletes_pods_and_resume_restarts_the_clock() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=2, parallelism=2), "ns")
        await sync(h, c)
        job = await h.client.get(JOBS, "pi", "ns")
        job["spec"]["suspend"] = True
        await h.client.update(JOBS, job)
        await sync(h, c)
        assert not live(h.client)
        assert conditions(h.client) == [("Suspended", "True", "JobSuspended")]
        assert h.recorder.messages("Suspended") == ["Job suspended"]
        job = await h.client.get(JOBS, "pi", "ns")
        job["spec"]["suspend"] = False
        await h.client.update(JOBS, job)
        h.clock.advance(60)
        await sync(h, c)
        assert len(live(h.client)) == 2
        assert conditions(h.client) == [("Suspended", "False", "JobResumed")]
        assert job_status(h.client)["startTime"] == h.client._now()


async def test_expectations_stop_a_stale_cache_from_over_creating() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=3, parallelism=3), "ns")
        await h.settle()
        h.client.hold()
        await c.reconcile("ns/pi")
        try:
            await c.reconcile("ns/pi")                          # our own status write is still unseen: conflict
        except Exception as e:
            assert "modified" in str(e)
        h.client.release()
        await sync(h, c)
        assert h.client.count("create", "pods") == 3


async def test_orphan_and_finished_job_pods_lose_their_finalizer() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(PODS, {"metadata": {"name": "stray", "finalizers": [TRACKING_FINALIZER]},
                                     "spec": {"containers": [{"name": "c", "image": "i"}]}}, "ns")
        await h.settle()
        await drain_orphans(h, c)
        assert not h.client.peek(PODS, "stray", "ns")["metadata"].get("finalizers")   # type: ignore[index]


async def test_no_completions_finishes_when_any_pod_succeeds_and_others_exit() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=None, parallelism=2), "ns")
        await sync(h, c)
        a, b = live(h.client)
        await finish(h.client, a)
        await sync(h, c)
        assert len(live(h.client)) == 1 and not conditions(h.client)   # b still runs: wait, no replacement
        await finish(h.client, b)
        await sync(h, c)
        assert conditions(h.client)[-1] == ("Complete", "True", "CompletionsReached")


async def test_scale_down_parallelism_deletes_surplus_pods_without_counting_them() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=5, parallelism=3), "ns")
        await sync(h, c)
        job = await h.client.get(JOBS, "pi", "ns")
        job["spec"]["parallelism"] = 1
        await h.client.update(JOBS, job)
        await sync(h, c)
        assert len(live(h.client)) == 1
        st = job_status(h.client)
        assert (st["active"], st.get("failed", 0)) == (1, 0)
        assert h.recorder.messages("SuccessfulDelete") and len(h.recorder.messages("SuccessfulDelete")) == 2


async def test_event_handlers_alone_run_a_job_to_completion() -> None:
    async with harness(options=OPTIONS) as h:
        c = await started(h)
        await h.client.create(JOBS, job_body(completions=3, parallelism=2), "ns")
        for _ in range(3):
            assert await drain(h, c) == []
            for p in live(h.client):
                await finish(h.client, p)
        assert await drain(h, c) == []
        assert conditions(h.client)[-1] == ("Complete", "True", "CompletionsReached")
        assert job_status(h.client)["succeeded"] == 3 and h.client.count("create", "pods") == 3
        assert all(not p["metadata"].get("finalizers") for p in h.client.objects(PODS, "ns"))
