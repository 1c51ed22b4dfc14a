from __future__ import annotations

import copy

import pytest

from pybernetes.api.kinds.replication import BindingStrategy, PodTemplateStrategy, ReplicationControllerStrategy

from .helpers import create, errors, update

RC = ReplicationControllerStrategy()


def rc(**spec: object) -> dict:
    base = {"template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web", "namespace": "default"},
            "spec": base}


def test_rc_defaults() -> None:
    out, errs = create(RC, rc())
    assert errs == []
    assert out["spec"]["selector"] == {"app": "web"}
    assert out["spec"]["replicas"] == 1
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["metadata"]["generation"] == 1
    assert out["status"] == {"replicas": 0}
    assert out["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert "enableServiceLinks" not in out["spec"]["template"]["spec"]


@pytest.mark.parametrize(("spec", "message"), [
    ({"selector": {"app": "other"}},
     'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match '
     "template `labels`"),
    ({"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    ({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {
        "restartPolicy": "Never", "containers": [{"name": "web", "image": "nginx"}]}}},
     'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'),
    ({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}},
     "spec.template.spec.containers: Required value"),
])
def test_rc_mistakes(spec: dict, message: str) -> None:
    _, errs = create(RC, rc(**spec))
    assert any(m.startswith(message) for m in errors(errs)), errors(errs)


def test_rc_generation_and_status() -> None:
    old, _ = create(RC, rc())
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    out, errs = update(RC, new, old)
    assert errs == [] and out["metadata"]["generation"] == 2
    st = copy.deepcopy(out)
    st["status"] = {"replicas": 1, "readyReplicas": 2}
    _, errs = update(RC.status_strategy(), st, out)
    assert errors(errs) == ["status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]


def test_pod_template() -> None:
    s = PodTemplateStrategy()
    out, errs = create(s, {"metadata": {"name": "t"}, "template": {"spec": {"containers": [
        {"name": "c", "image": "busybox"}]}}})
    assert errs == []
    assert out["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    _, errs = create(s, {"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"a": "b c"}},
                                                                   "spec": {"containers": []}}})
    assert errors(errs)[0].startswith('template.labels: Invalid value: "b c"')


def test_binding_target_required() -> None:
    _, errs = create(BindingStrategy(), {"metadata": {"name": "p"}, "target": {"kind": "Pod", "name": ""}})
    assert errors(errs) == ['target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"',
                            "target.name: Required value"]
