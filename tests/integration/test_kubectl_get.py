"""`kubectl get`: server-side Tables (default and `-o wide`), yaml/json/jsonpath, selectors, `-A`, labels."""

from __future__ import annotations

import json
import re
import textwrap

import pytest
import yaml

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"
SAMPLE_VERSIONS = ["1.32", "1.27", "1.30", "1.33"]
AGE = re.compile(r"\d+s")  # every object in these tests is seconds old
# Every namespace holds the cluster's CA bundle (the root CA publisher's ConfigMap), as in real Kubernetes; the
# `ns` fixture waits for it, so listings show it beside what the test made.
ROOT_CA = "kube-root-ca.crt"

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web, tier: fe}
      template:
        metadata:
          labels: {app: web, tier: fe}
        spec:
          containers:
          - {name: web, image: "nginx:1.25"}
          - {name: log, image: "busybox:1.36"}
    """)


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of a kubectl table as dicts, cut at the header's column starts (cells may be empty)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    names = [header[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
    rows = []
    for line in lines[1:]:
        cells = [line[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def header(text: str) -> list[str]:
    return text.splitlines()[0].split()


def make_configmaps(server: Server, ns: str) -> None:
    manifest = "---\n".join(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels: {labels}\ndata: {data}\n"
        for name, labels, data in [
            ("one", "{tier: fe, env: prod}", "{a: '1'}"),
            ("two", "{tier: be, env: dev}", "{a: '1', b: '2'}"),
            ("three", "{}", "{}"),
        ])
    server.kubectl("-n", ns, "create", "-f", "-", input=manifest, version=V)


def test_get_default_table(server: Server, ns: str) -> None:
    make_configmaps(server, ns)
    out = server.kubectl("-n", ns, "get", "configmaps", version=V).stdout
    assert header(out) == ["NAME", "DATA", "AGE"]
    rows = parse_table(out)
    assert [(r["NAME"], r["DATA"]) for r in rows] == [(ROOT_CA, "1"), ("one", "1"), ("three", "0"), ("two", "2")]
    assert all(AGE.fullmatch(r["AGE"]) for r in rows)


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_get_wide(server: Server, ns: str, version: str) -> None:
    server.kubectl("-n", ns, "create", "-f", "-", input=DEPLOYMENT, version=version)
    out = server.kubectl("-n", ns, "get", "deployment", "web", version=version).stdout
    assert header(out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    out = server.kubectl("-n", ns, "get", "deployment", "web", "-o", "wide", version=version).stdout
    assert header(out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    [row] = parse_table(out)
    assert row["NAME"] == "web" and re.fullmatch(r"\d/2", row["READY"])
    assert row["CONTAINERS"] == "web,log" and row["IMAGES"] == "nginx:1.25,busybox:1.36"
    assert row["SELECTOR"] == "app=web,tier=fe"

    server.kubectl("-n", ns, "expose", "deployment", "web", "--port=80", "--target-port=8080", version=version)
    svc = json.loads(server.kubectl("-n", ns, "get", "service", "web", "-o", "json", version=version).stdout)
    out = server.kubectl("-n", ns, "get", "service", "web", "-o", "wide", version=version).stdout
    [row] = parse_table(out)
    assert row == {"NAME": "web", "TYPE": "ClusterIP", "CLUSTER-IP": svc["spec"]["clusterIP"],
                   "EXTERNAL-IP": "<none>", "PORT(S)": "80/TCP", "AGE": row["AGE"], "SELECTOR": "app=web,tier=fe"}


def test_get_pod_wide_while_pending(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "run", "p", "--image=nginx:1.25", version=V)
    out = server.kubectl("-n", ns, "get", "pods", "-o", "wide", version=V).stdout
    assert header(out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                           "READINESS", "GATES"]
    [row] = parse_table(out)
    assert row == {"NAME": "p", "READY": "0/1", "STATUS": "Pending", "RESTARTS": "0", "AGE": row["AGE"],
                   "IP": "<none>", "NODE": "<none>", "NOMINATED NODE": "<none>", "READINESS GATES": "<none>"}


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_get_yaml_json_jsonpath(server: Server, ns: str, version: str) -> None:
    server.kubectl("-n", ns, "create", "-f", "-", input=DEPLOYMENT, version=version)
    as_json = json.loads(server.kubectl("-n", ns, "get", "deployment", "web", "-o", "json", version=version).stdout)
    as_yaml = yaml.safe_load(server.kubectl("-n", ns, "get", "deployment", "web", "-o", "yaml",
                                            version=version).stdout)
    assert as_json["kind"] == "Deployment" and as_json["apiVersion"] == "apps/v1"
    assert as_json["metadata"]["uid"] == as_yaml["metadata"]["uid"]
    assert as_json["spec"] == as_yaml["spec"]
    assert "managedFields" not in as_json["metadata"]  # kubectl hides them unless asked

    out = server.kubectl("-n", ns, "get", "deployment", "web", "-o",
                         "jsonpath={.metadata.name} {.spec.replicas} {.spec.template.spec.containers[*].image}",
                         version=version).stdout
    assert out == "web 2 nginx:1.25 busybox:1.36"
    out = server.kubectl("-n", ns, "get", "deployments", "-o", "jsonpath={.items[0].metadata.uid}",
                         version=version).stdout
    assert out == as_json["metadata"]["uid"]

    listed = yaml.safe_load(server.kubectl("-n", ns, "get", "deployments", "-o", "yaml", version=version).stdout)
    assert listed["kind"] == "List" and listed["apiVersion"] == "v1"
    assert [item["metadata"]["name"] for item in listed["items"]] == ["web"]
    assert listed["items"][0]["kind"] == "Deployment"


def test_get_name_custom_columns_and_sort(server: Server, ns: str) -> None:
    make_configmaps(server, ns)
    out = server.kubectl("-n", ns, "get", "configmaps", "-o", "name", version=V).stdout
    assert out == f"configmap/{ROOT_CA}\nconfigmap/one\nconfigmap/three\nconfigmap/two\n"
    # (without the CA bundle: it has no tier either, and kubectl's sort is not stable between equal keys)
    out = server.kubectl("-n", ns, "get", "configmaps", "--sort-by=.metadata.labels.tier",
                         f"--field-selector=metadata.name!={ROOT_CA}",
                         "-o", "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier,A:.data.a",
                         version=V).stdout
    assert [line.split() for line in out.splitlines()] == [
        ["NAME", "TIER", "A"], ["three", "<none>", "<none>"], ["two", "be", "1"], ["one", "fe", "1"]]
    out = server.kubectl("-n", ns, "get", "configmaps", "-o", "go-template={{range .items}}{{.metadata.name}},"
                         "{{end}}", version=V).stdout
    assert out == f"{ROOT_CA},one,three,two,"


@pytest.mark.parametrize(("selector", "names"), [
    ("tier=fe", ["one"]),
    ("tier==fe", ["one"]),
    ("tier!=fe", [ROOT_CA, "three", "two"]),             # != and notin match objects without the key
    ("tier", ["one", "two"]),
    ("!tier", [ROOT_CA, "three"]),
    ("env in (prod,dev)", ["one", "two"]),
    ("env notin (prod)", [ROOT_CA, "three", "two"]),
    ("env in (prod,dev),tier!=be", ["one"]),
    ("nothing=here", []),
])
def test_get_label_selector(server: Server, ns: str, selector: str, names: list[str]) -> None:
    make_configmaps(server, ns)
    p = server.kubectl("-n", ns, "get", "configmaps", "-l", selector, "-o", "name", version=V)
    assert p.stdout.split() == [f"configmap/{n}" for n in names]


def test_get_label_selector_syntax_error(server: Server, ns: str) -> None:
    p = server.kubectl("-n", ns, "get", "configmaps", "-l", "bad key", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("Error from server (BadRequest): ")
    assert "unable to parse requirement" in p.stderr


@pytest.mark.parametrize(("selector", "names"), [
    ("metadata.name=two", ["two"]),
    ("metadata.name!=two", [ROOT_CA, "one", "three"]),
    ("metadata.name=two,metadata.name=one", []),
])
def test_get_field_selector(server: Server, ns: str, selector: str, names: list[str]) -> None:
    make_configmaps(server, ns)
    p = server.kubectl("-n", ns, "get", "configmaps", "--field-selector", selector, "-o", "name", version=V)
    assert p.stdout.split() == [f"configmap/{n}" for n in names]


def test_get_unsupported_field_selector(server: Server, ns: str) -> None:
    p = server.kubectl("-n", ns, "get", "configmaps", "--field-selector", "data.a=1", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip().endswith(
        '"data.a" is not a known field selector: only "metadata.name", "metadata.namespace"')


def test_get_pods_by_phase_field_selector(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "run", "p", "--image=nginx", version=V)
    out = server.kubectl("-n", ns, "get", "pods", "--field-selector=status.phase=Pending", "-o", "name",
                         version=V).stdout
    assert out == "pod/p\n"
    out = server.kubectl("-n", ns, "get", "pods", "--field-selector=status.phase=Running", "-o", "name",
                         version=V).stdout
    assert out == ""


def test_get_show_labels_and_label_columns(server: Server, ns: str) -> None:
    make_configmaps(server, ns)
    out = server.kubectl("-n", ns, "get", "configmaps", "--show-labels", version=V).stdout
    assert header(out) == ["NAME", "DATA", "AGE", "LABELS"]
    assert {r["NAME"]: r["LABELS"] for r in parse_table(out)} == {
        ROOT_CA: "<none>", "one": "env=prod,tier=fe", "three": "<none>", "two": "env=dev,tier=be"}
    out = server.kubectl("-n", ns, "get", "configmaps", "-L", "tier,env", version=V).stdout
    assert header(out) == ["NAME", "DATA", "AGE", "TIER", "ENV"]
    assert {r["NAME"]: (r["TIER"], r["ENV"]) for r in parse_table(out)} == {
        ROOT_CA: ("", ""), "one": ("fe", "prod"), "three": ("", ""), "two": ("be", "dev")}


def test_get_all_namespaces(server: Server, ns: str) -> None:
    for name in ("a", "b"):
        server.kubectl("-n", ns, "create", "configmap", name, version=V)
        server.kubectl("-n", ns, "label", "configmap", name, f"suite={ns}", version=V)
    out = server.kubectl("get", "configmaps", "-A", "-l", f"suite={ns}", version=V).stdout
    assert header(out) == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert [(r["NAMESPACE"], r["NAME"]) for r in parse_table(out)] == [(ns, "a"), (ns, "b")]
    out = server.kubectl("get", "namespaces", version=V).stdout
    names = {r["NAME"]: r["STATUS"] for r in parse_table(out)}
    for name in ("default", "kube-system", "kube-public", "kube-node-lease", ns):
        assert names[name] == "Active"
    out = server.kubectl("get", "services", "-A", "--field-selector=metadata.name=kubernetes", version=V).stdout
    [row] = parse_table(out)
    assert (row["NAMESPACE"], row["NAME"], row["CLUSTER-IP"], row["PORT(S)"]) == (
        "default", "kubernetes", "10.43.0.1", "443/TCP")


def test_get_not_found(server: Server, ns: str) -> None:
    make_configmaps(server, ns)
    p = server.kubectl("-n", ns, "get", "deployment", "nope", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'
    p = server.kubectl("-n", ns, "get", "configmaps", "one", "nope", "-o", "name", version=V, check=False)
    assert p.returncode == 1
    assert p.stdout == "configmap/one\n"
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found'
    p = server.kubectl("-n", ns, "get", "configmap", "nope", "--ignore-not-found", version=V)
    assert p.stdout == p.stderr == ""
    p = server.kubectl("-n", ns, "get", "pods", version=V)
    assert p.stdout == "" and p.stderr.strip() == f"No resources found in {ns} namespace."


def test_get_in_chunks(server: Server, ns: str) -> None:
    made = [f"cm-{i:02d}" for i in range(7)]
    server.kubectl("-n", ns, "create", "-f", "-", version=V, input="---\n".join(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n" for n in made))
    names = sorted([*made, ROOT_CA])    # 8 items: pages of 2 and 3 end exactly and mid-list
    for size in ("2", "3", "500"):
        out = server.kubectl("-n", ns, "get", "configmaps", f"--chunk-size={size}", version=V).stdout
        assert [r["NAME"] for r in parse_table(out)] == names
        assert out.count("NAME") == 1  # one table, however many pages
        out = server.kubectl("-n", ns, "get", "configmaps", f"--chunk-size={size}", "-o", "name", version=V).stdout
        assert out.split() == [f"configmap/{n}" for n in names]


def test_get_several_kinds_and_short_names(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "-f", "-", input=DEPLOYMENT, version=V)
    server.kubectl("-n", ns, "create", "configmap", "cfg", version=V)
    out = server.kubectl("-n", ns, "get", "cm,deploy", "-o", "name", version=V).stdout
    assert out == f"configmap/cfg\nconfigmap/{ROOT_CA}\ndeployment.apps/web\n"
    out = server.kubectl("-n", ns, "get", "cm,deploy", version=V).stdout
    blocks = out.strip().split("\n\n")
    assert header(blocks[0]) == ["NAME", "DATA", "AGE"] and parse_table(blocks[0])[0]["NAME"] == "configmap/cfg"
    assert header(blocks[1])[:2] == ["NAME", "READY"] and parse_table(blocks[1])[0]["NAME"] == "deployment.apps/web"
    out = server.kubectl("-n", ns, "get", "all", "-o", "name", version=V).stdout
    assert "deployment.apps/web" in out.split() and "configmap/cfg" not in out.split()
