"""Custom resources through real kubectl: a CRD is applied, and its kind is then served like a built-in one —
discovery, printer columns, schema validation and defaulting, status and scale subresources, explain, categories."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"
CRD_NAME = "crontabs.kubectl-crd.example.com"
CRD = textwrap.dedent(r"""
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: crontabs.kubectl-crd.example.com
    spec:
      group: kubectl-crd.example.com
      scope: Namespaced
      names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ctb], categories: [all, tabs]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources:
          status: {}
          scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas,
                  labelSelectorPath: .status.selector}
        additionalPrinterColumns:
        - {name: Spec, type: string, jsonPath: .spec.cronSpec}
        - {name: Replicas, type: integer, jsonPath: .spec.replicas}
        - {name: Image, type: string, jsonPath: .spec.image, priority: 1}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
        schema:
          openAPIV3Schema:
            type: object
            required: [spec]
            properties:
              spec:
                type: object
                required: [cronSpec]
                properties:
                  cronSpec: {type: string, pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'}
                  image: {type: string, default: "busybox:1.36"}
                  replicas: {type: integer, minimum: 1, maximum: 10, default: 1}
                  mode: {type: string, enum: [fast, slow]}
              status:
                type: object
                properties:
                  replicas: {type: integer}
                  selector: {type: string}
    """)

SERVICE_MONITOR_CRD = textwrap.dedent("""
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: servicemonitors.monitoring.coreos.com
    spec:
      group: monitoring.coreos.com
      scope: Namespaced
      names: {plural: servicemonitors, singular: servicemonitor, kind: ServiceMonitor, listKind: ServiceMonitorList,
              shortNames: [smon], categories: [prometheus-operator]}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            required: [spec]
            properties:
              spec:
                type: object
                required: [selector]
                properties:
                  endpoints:
                    type: array
                    items:
                      type: object
                      properties:
                        port: {type: string}
                        interval:
                          type: string
                          pattern: "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?\\
                            (([0-9]+)ms)?)$"
                        path: {type: string}
                  selector:
                    type: object
                    x-kubernetes-map-type: atomic
                    properties:
                      matchLabels: {type: object, additionalProperties: {type: string}}
    """)

SERVICE_MONITOR = textwrap.dedent("""
    apiVersion: monitoring.coreos.com/v1
    kind: ServiceMonitor
    metadata:
      name: web
      labels: {release: prometheus}
    spec:
      selector:
        matchLabels: {app: web}
      endpoints:
      - port: http
        interval: 30s
        path: /metrics
    """)


def crontab(name: str, spec: str) -> str:
    return f"apiVersion: kubectl-crd.example.com/v1\nkind: CronTab\nmetadata:\n  name: {name}\nspec:\n{spec}"


@pytest.fixture(scope="module")
def crd(server: Server) -> str:
    server.kubectl("apply", "-f", "-", input=CRD, version=V)
    server.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=30s", version=V)
    return CRD_NAME


def get_json(server: Server, ns: str, *what: str) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", *what, "-o", "json", version=V).stdout)


def test_crd_is_discovered(server: Server, crd: str) -> None:
    out = server.kubectl("api-resources", "--api-group=kubectl-crd.example.com", "-o", "wide", version=V).stdout
    lines = out.splitlines()
    assert lines[1].split() == ["crontabs", "ctb", "kubectl-crd.example.com/v1", "true", "CronTab",
                                "create,delete,deletecollection,get,list,patch,update,watch", "all,tabs"]
    obj = json.loads(server.kubectl("get", "crd", crd, "-o", "json", version=V).stdout)
    conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    assert obj["status"]["acceptedNames"]["kind"] == "CronTab"
    assert "kubectl-crd.example.com/v1" in server.kubectl("api-versions", version=V).stdout.split()


def test_custom_resource_printer_columns_and_defaults(server: Server, ns: str, crd: str) -> None:
    out = server.kubectl("-n", ns, "apply", "-f", "-", input=crontab("nightly", '  cronSpec: "0 3 * * *"\n'),
                         version=V).stdout
    assert out == "crontab.kubectl-crd.example.com/nightly created\n"
    obj = get_json(server, ns, "crontab", "nightly")
    assert obj["spec"] == {"cronSpec": "0 3 * * *", "image": "busybox:1.36", "replicas": 1}  # schema defaults
    assert obj["metadata"]["generation"] == 1
    out = server.kubectl("-n", ns, "get", "ctb", version=V).stdout
    assert out.splitlines()[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert re.fullmatch(r"nightly\s+0 3 \* \* \*\s+1\s+\d+s", out.splitlines()[1])
    out = server.kubectl("-n", ns, "get", "crontabs", "-o", "wide", version=V).stdout
    assert out.splitlines()[0].split() == ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"]  # priority 1 column
    assert "busybox:1.36" in out.splitlines()[1]
    # Categories: "all" and its own category find it (with its resource prefix when listed among others).
    assert "crontab.kubectl-crd.example.com/nightly" in server.kubectl("-n", ns, "get", "all", "-o", "name",
                                                                       version=V).stdout.split()
    assert server.kubectl("-n", ns, "get", "tabs", "-o", "name", version=V).stdout == \
        "crontab.kubectl-crd.example.com/nightly\n"


def test_custom_resource_validation(server: Server, ns: str, crd: str) -> None:
    p = server.kubectl("-n", ns, "apply", "-f", "-", version=V, check=False, input=crontab(
        "bad", '  cronSpec: "nope"\n  replicas: 20\n  mode: medium\n'))
    assert p.returncode == 1
    assert p.stderr.strip() == (
        'The CronTab "bad" is invalid: \n'
        "* spec.cronSpec: Invalid value: \"nope\": spec.cronSpec in body should match "
        "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'\n"
        '* spec.mode: Unsupported value: "medium": supported values: "fast", "slow"\n'
        "* spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10")
    p = server.kubectl("-n", ns, "create", "-f", "-", version=V, check=False, input=crontab("bad", '  image: x\n'))
    assert p.returncode == 1 and p.stderr.strip() == 'The CronTab "bad" is invalid: spec.cronSpec: Required value'
    p = server.kubectl("-n", ns, "create", "-f", "-", version=V, check=False,
                       input=crontab("bad", '  cronSpec: "* * * * *"\n  replicas: many\n'))
    assert p.returncode == 1
    assert p.stderr.strip() == ('The CronTab "bad" is invalid: spec.replicas: Invalid value: "string": '
                                'spec.replicas in body must be of type integer: "string"')
    p = server.kubectl("-n", ns, "create", "-f", "-", version=V, check=False,
                       input=crontab("bad", '  cronSpec: "* * * * *"\n  extra: 1\n'))
    assert p.returncode == 1
    assert p.stderr.strip() == ('Error from server (BadRequest): error when creating "STDIN": CronTab in version "v1" '
                                'cannot be handled as a CronTab: strict decoding error: unknown field "spec.extra"')
    assert server.kubectl("-n", ns, "get", "crontabs", "-o", "name", version=V).stdout == ""


def test_custom_resource_status_and_scale(server: Server, ns: str, crd: str) -> None:
    server.kubectl("-n", ns, "create", "-f", "-", input=crontab("job", '  cronSpec: "*/5 * * * *"\n'), version=V)
    out = server.kubectl("-n", ns, "scale", "crontab", "job", "--replicas=3", version=V).stdout
    assert out == "crontab.kubectl-crd.example.com/job scaled\n"
    assert get_json(server, ns, "crontab", "job")["spec"]["replicas"] == 3
    server.kubectl("-n", ns, "patch", "crontab", "job", "--subresource=status", "--type=merge", "-p",
                   '{"status":{"replicas":3,"selector":"app=job"}}', version=V)
    scale = json.loads(server.kubectl("get", "--raw",
                                      f"/apis/kubectl-crd.example.com/v1/namespaces/{ns}/crontabs/job/scale",
                                      version=V).stdout)
    assert scale["spec"] == {"replicas": 3} and scale["status"] == {"replicas": 3, "selector": "app=job"}
    p = server.kubectl("-n", ns, "scale", "crontab", "job", "--replicas=11", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == ('The CronTab "job" is invalid: spec.replicas: Invalid value: 11: spec.replicas in '
                                "body should be less than or equal to 10")


def test_custom_resource_explain_describe_delete(server: Server, ns: str, crd: str) -> None:
    out = server.kubectl("explain", "crontab.spec", version=V).stdout
    assert out.splitlines()[:3] == ["GROUP:      kubectl-crd.example.com", "KIND:       CronTab", "VERSION:    v1"]
    fields = dict(re.findall(r"^  (\w+)\t(.+)$", out, re.M))
    assert fields == {"cronSpec": "<string> -required-", "image": "<string>", "mode": "<string>",
                      "replicas": "<integer>"}
    server.kubectl("-n", ns, "create", "-f", "-", input=crontab("d", '  cronSpec: "* * * * *"\n'), version=V)
    out = server.kubectl("-n", ns, "describe", "crontab", "d", version=V).stdout
    assert re.search(r"^API Version:\s+kubectl-crd.example.com/v1$", out, re.M)
    assert re.search(r"^Spec:\n\s+Cron Spec:\s+\* \* \* \* \*$", out, re.M)
    assert server.kubectl("-n", ns, "delete", "crontab", "d", version=V).stdout == \
        'crontab.kubectl-crd.example.com "d" deleted\n'


def test_service_monitor_applies_once_its_crd_is(server: Server, ns: str) -> None:
    p = server.kubectl("-n", ns, "apply", "-f", "-", input=SERVICE_MONITOR, version=V, check=False)
    if p.returncode == 0:  # another run of this suite on the same server already installed the CRD
        server.kubectl("-n", ns, "delete", "servicemonitor", "web", version=V)
    else:
        assert 'no matches for kind "ServiceMonitor" in version "monitoring.coreos.com/v1"' in p.stderr
    server.kubectl("apply", "-f", "-", input=SERVICE_MONITOR_CRD, version=V)
    server.kubectl("wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com",
                   "--timeout=30s", version=V)
    out = server.kubectl("-n", ns, "apply", "-f", "-", input=SERVICE_MONITOR, version=V).stdout
    assert out == "servicemonitor.monitoring.coreos.com/web created\n"
    out = server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=SERVICE_MONITOR.replace("30s", "15s"),
                         version=V).stdout
    assert out == "servicemonitor.monitoring.coreos.com/web serverside-applied\n"
    obj = get_json(server, ns, "smon", "web")
    assert obj["spec"]["endpoints"] == [{"port": "http", "interval": "15s", "path": "/metrics"}]
    p = server.kubectl("-n", ns, "apply", "-f", "-", input=SERVICE_MONITOR.replace("30s", "30 seconds"), version=V,
                       check=False)
    assert p.returncode == 1
    assert 'spec.endpoints[0].interval: Invalid value: "30 seconds": spec.endpoints[0].interval in body should ' \
           "match" in p.stderr
