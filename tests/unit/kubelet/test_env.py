"""Container environments (upstream makeEnvironmentVariables, envvars.FromServices, expansion_test.go cases)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pybernetes.kubelet.env import (
    ConfigError,
    expand,
    expand_command,
    field_ref_value,
    format_map,
    from_services,
    make_environment,
    mapping_for,
    resource_field_value,
    service_env,
)

Obj = dict[str, Any]


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


class FakeObjects:
    def __init__(self, *, configmaps: dict[tuple[str, str], Obj] | None = None,
                 secrets: dict[tuple[str, str], Obj] | None = None, services: list[Obj] | None = None) -> None:
        self.cms = configmaps or {}
        self.secs = secrets or {}
        self.svcs = services
        self.gets: list[tuple[str, str, str]] = []

    async def configmap(self, namespace: str, name: str) -> Obj | None:
        self.gets.append(("configmap", namespace, name))
        return self.cms.get((namespace, name))

    async def secret(self, namespace: str, name: str) -> Obj | None:
        self.gets.append(("secret", namespace, name))
        return self.secs.get((namespace, name))

    def services(self) -> list[Obj] | None:
        return self.svcs


def svc(name: str, ns: str, ip: str, *ports: Obj) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": list(ports)}}


KUBERNETES = svc("kubernetes", "default", "10.43.0.1", {"name": "https", "port": 443, "protocol": "TCP"})
MAPPING = mapping_for({"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""})


@pytest.mark.parametrize(("text", "expected"), [
    ("$(VAR_A)", "A"),
    ("___$(VAR_B)___", "___B___"),
    ("$(VAR_A)-$(VAR_A)", "A-A"),
    ("$(VAR_A)-1", "A-1"),
    ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
    ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
    ("$$(VAR_B)_$$(VAR_A)", "$(VAR_B)_$(VAR_A)"),
    ("f000-$$VAR_A", "f000-$VAR_A"),
    ("foo\\$(VAR_C)bar", "foo\\Cbar"),
    ("foo\\\\$(VAR_C)bar", "foo\\\\Cbar"),
    ("$$$$$$$(VAR_A)", "$$$A"),
    ("$(VAR_EMPTY)", ""),
    ("$(VAR_REF)", "$(VAR_A)"),              # no recursion
    ("$(VAR_DNE)", "$(VAR_DNE)"),
    ("$(VAR_A", "$(VAR_A"),
    ("$VAR_A", "$VAR_A"),
    ("$$", "$"),
    ("$", "$"),
    ("$(", "$("),
    ("$()", "$()"),
    ("$(VAR_A)$", "A$"),
    ("no refs", "no refs"),
    ("$(ÿ)é$ü", "$(ÿ)é$ü"),
])
def test_expand(text: str, expected: str) -> None:
    assert expand(text, MAPPING) == expected


def test_from_services_link_variables() -> None:
    s = svc("my-db", "ns", "10.43.1.2", {"name": "sql", "port": 5432}, {"name": "metrics", "port": 9187,
                                                                         "protocol": "UDP"})
    assert from_services([s]) == [
        ("MY_DB_SERVICE_HOST", "10.43.1.2"), ("MY_DB_SERVICE_PORT", "5432"), ("MY_DB_SERVICE_PORT_SQL", "5432"),
        ("MY_DB_SERVICE_PORT_METRICS", "9187"), ("MY_DB_PORT", "tcp://10.43.1.2:5432"),
        ("MY_DB_PORT_5432_TCP", "tcp://10.43.1.2:5432"), ("MY_DB_PORT_5432_TCP_PROTO", "tcp"),
        ("MY_DB_PORT_5432_TCP_PORT", "5432"), ("MY_DB_PORT_5432_TCP_ADDR", "10.43.1.2"),
        ("MY_DB_PORT_9187_UDP", "udp://10.43.1.2:9187"), ("MY_DB_PORT_9187_UDP_PROTO", "udp"),
        ("MY_DB_PORT_9187_UDP_PORT", "9187"), ("MY_DB_PORT_9187_UDP_ADDR", "10.43.1.2")]
    v6 = svc("v6", "ns", "fd00::5", {"port": 80})
    assert ("V6_PORT", "tcp://[fd00::5]:80") in from_services([v6])
    assert from_services([svc("headless", "ns", "None", {"port": 80}), svc("noip", "ns", "", {"port": 1})]) == []


def test_service_env_selection() -> None:
    services = [KUBERNETES, svc("web", "shop", "10.43.0.20", {"port": 80}), svc("web", "other", "10.43.0.30",
                                                                               {"port": 80}),
                svc("kubernetes", "shop", "10.43.0.99", {"port": 8443})]
    on = service_env(services, namespace="shop", enable_service_links=True)
    assert on["WEB_SERVICE_HOST"] == "10.43.0.20"
    assert on["KUBERNETES_SERVICE_HOST"] == "10.43.0.99"         # the namespace's own wins over default's
    off = service_env(services, namespace="shop", enable_service_links=False)
    assert "WEB_SERVICE_HOST" not in off
    assert off["KUBERNETES_SERVICE_HOST"] == "10.43.0.1" and off["KUBERNETES_SERVICE_PORT"] == "443"
    assert off["KUBERNETES_SERVICE_PORT_HTTPS"] == "443" and off["KUBERNETES_PORT"] == "tcp://10.43.0.1:443"
    assert off["KUBERNETES_PORT_443_TCP_ADDR"] == "10.43.0.1"


POD = {"metadata": {"name": "dapi", "namespace": "shop", "uid": "u-1", "labels": {"app": "web", "tier": "fe"},
                    "annotations": {"note": 'say "hi"\n'}},
       "spec": {"nodeName": "node-1", "serviceAccountName": "builder", "containers": [
           {"name": "main", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                          "limits": {"memory": "128Mi"}}},
           {"name": "side", "resources": {"limits": {"cpu": "1500m", "ephemeral-storage": "1Gi"}}}]}}


@pytest.mark.parametrize(("path", "expected"), [
    ("metadata.name", "dapi"),
    ("metadata.namespace", "shop"),
    ("metadata.uid", "u-1"),
    ("metadata.labels['app']", "web"),
    ("metadata.labels['missing']", ""),
    ("metadata.annotations['note']", 'say "hi"\n'),
    ("metadata.labels", 'app="web"\ntier="fe"'),
    ("metadata.annotations", 'note="say \\"hi\\"\\n"'),
    ("spec.nodeName", "node-1"),
    ("spec.serviceAccountName", "builder"),
    ("status.hostIP", "192.0.2.10"),
    ("status.hostIPs", "192.0.2.10,fd00::10"),
    ("status.podIP", "10.42.0.5"),
    ("status.podIPs", "10.42.0.5,fd00:42::5"),
])
def test_field_ref(path: str, expected: str) -> None:
    assert field_ref_value(path, POD, pod_ips=["fd00:42::5", "10.42.0.5"], host_ips=["192.0.2.10", "fd00::10"]) \
        == expected


def test_field_ref_unsupported() -> None:
    with pytest.raises(ConfigError, match=r"unsupported fieldPath: spec\.foo"):
        field_ref_value("spec.foo", POD)


def test_format_map_escapes() -> None:
    assert format_map({"b": "x\ty", "a": "é\x01"}) == 'a="é\\x01"\nb="x\\ty"'


ALLOC = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


@pytest.mark.parametrize(("ref", "container", "expected"), [
    ({"resource": "requests.cpu"}, 0, "1"),                     # 250m rounded up to whole cores
    ({"resource": "requests.cpu", "divisor": "1m"}, 0, "250"),
    ({"resource": "limits.cpu"}, 0, "4"),                       # no limit: node allocatable
    ({"resource": "limits.cpu", "divisor": "1m"}, 1, "1500"),
    ({"resource": "limits.memory"}, 0, str(128 * 2 ** 20)),
    ({"resource": "limits.memory", "divisor": "1Mi"}, 0, "128"),
    ({"resource": "requests.memory", "divisor": "1M"}, 0, "68"),   # 67.1 MB rounds up
    ({"resource": "limits.memory", "divisor": "1Gi"}, 1, "8"),      # allocatable
    ({"resource": "requests.memory"}, 1, "0"),
    ({"resource": "limits.ephemeral-storage", "divisor": "1Mi"}, 1, "1024"),
    ({"resource": "limits.cpu", "divisor": "1m", "containerName": "side"}, 0, "1500"),
    ({"resource": "limits.cpu", "divisor": "0"}, 1, "2"),
])
def test_resource_field_ref(ref: Obj, container: int, expected: str) -> None:
    assert resource_field_value(ref, POD, POD["spec"]["containers"][container], allocatable=ALLOC) == expected


def test_resource_field_ref_errors() -> None:
    with pytest.raises(ConfigError, match=r"unsupported container resource : limits\.gpu"):
        resource_field_value({"resource": "limits.gpu"}, POD, POD["spec"]["containers"][0], allocatable=ALLOC)


def container(**kw: Any) -> Obj:
    return {"name": "main", **kw}


async def test_make_environment_full_order_and_overrides() -> None:
    objects = FakeObjects(
        configmaps={("shop", "cfg"): {"data": {"MODE": "prod", "LEVEL": "3", "bad=key": "x", "1ok": "y"}}},
        secrets={("shop", "creds"): {"data": {"PASSWORD": b64("s3cret")}}},
        services=[KUBERNETES, svc("db", "shop", "10.43.0.7", {"port": 5432})])
    events: list[tuple[str, str, str]] = []
    c = container(envFrom=[{"configMapRef": {"name": "cfg"}}, {"prefix": "SEC_", "secretRef": {"name": "creds"}}],
                  env=[{"name": "LEVEL", "value": "9"},
                       {"name": "URL", "value": "postgres://$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)/$(MODE)?l=$(LEVEL)"},
                       {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                       {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}},
                       {"name": "LATER", "value": "$(NOT_YET)"},
                       {"name": "NOT_YET", "value": "x"},
                       {"name": "EMPTY"}])
    env = await make_environment(POD, c, objects=objects, pod_ips=["10.42.0.5"], event=lambda *e: events.append(e))
    d = dict(env)
    assert [k for k, _ in env[:7]] == ["MODE", "LEVEL", "1ok", "SEC_PASSWORD", "URL", "POD", "PW"]
    assert d["LEVEL"] == "9" and d["MODE"] == "prod" and d["SEC_PASSWORD"] == "s3cret" and d["PW"] == "s3cret"
    assert d["URL"] == "postgres://10.43.0.7:5432/prod?l=9"
    assert d["LATER"] == "$(NOT_YET)" and d["EMPTY"] == ""
    assert d["POD"] == "dapi" and d["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"
    assert "bad=key" not in d
    assert events == [("Warning", "InvalidEnvironmentVariableNames",
                       "Keys [bad=key] from the EnvFrom configMap shop/cfg were skipped since they are considered "
                       "invalid environment variable names.")]
    assert objects.gets.count(("secret", "shop", "creds")) == 1          # read once per container


async def test_enable_service_links_false_keeps_kubernetes() -> None:
    objects = FakeObjects(services=[KUBERNETES, svc("db", "shop", "10.43.0.7", {"port": 5432})])
    pod = {**POD, "spec": {**POD["spec"], "enableServiceLinks": False}}
    d = dict(await make_environment(pod, container(), objects=objects))
    assert "DB_SERVICE_HOST" not in d and d["KUBERNETES_SERVICE_PORT"] == "443"


async def test_explicit_env_overrides_service_variable() -> None:
    objects = FakeObjects(services=[KUBERNETES])
    env = await make_environment(POD, container(env=[{"name": "KUBERNETES_SERVICE_HOST", "value": "mine"}]),
                                 objects=objects)
    assert [v for k, v in env if k == "KUBERNETES_SERVICE_HOST"] == ["mine"]


@pytest.mark.parametrize(("c", "message"), [
    (container(env=[{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]),
     'configmap "nope" not found'),
    (container(env=[{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]),
     "couldn't find key k in ConfigMap shop/cfg"),
    (container(env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]),
     'secret "nope" not found'),
    (container(env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]),
     "couldn't find key k in Secret shop/creds"),
    (container(envFrom=[{"configMapRef": {"name": "nope"}}]), 'configmap "nope" not found'),
    (container(envFrom=[{"secretRef": {"name": "nope"}}]), 'secret "nope" not found'),
])
async def test_missing_sources(c: Obj, message: str) -> None:
    objects = FakeObjects(configmaps={("shop", "cfg"): {"data": {}}}, secrets={("shop", "creds"): {"data": {}}},
                          services=[])
    with pytest.raises(ConfigError) as info:
        await make_environment(POD, c, objects=objects)
    assert str(info.value) == message and info.value.reason == "CreateContainerConfigError"


async def test_optional_sources_are_skipped() -> None:
    objects = FakeObjects(configmaps={("shop", "cfg"): {"data": {}}}, services=[])
    c = container(envFrom=[{"configMapRef": {"name": "nope", "optional": True}},
                           {"secretRef": {"name": "nope", "optional": True}}],
                  env=[{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}}},
                       {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": True}}},
                       {"name": "C", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k", "optional": True}}},
                       {"name": "D", "value": "d"}])
    assert await make_environment(POD, c, objects=objects) == [("D", "d")]


async def test_services_not_read_yet() -> None:
    with pytest.raises(ConfigError, match="services have not yet been read"):
        await make_environment(POD, container(), objects=FakeObjects(services=None))


def test_expand_command() -> None:
    c = container(command=["sh", "-c", "echo $(GREETING) $$(HOME)"], args=["$(MISSING)", "$(NAME)"])
    assert expand_command(c, [("GREETING", "hi"), ("NAME", "x")]) == (
        ["sh", "-c", "echo hi $(HOME)"], ["$(MISSING)", "x"])
