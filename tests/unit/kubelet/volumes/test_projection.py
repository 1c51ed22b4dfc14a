"""Files of configMap, secret, downwardAPI and projected volumes (upstream MakePayload/CollectData cases)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pybernetes.kubelet.volumes.atomic import FileProjection
from pybernetes.kubelet.volumes.projection import (
    MountError,
    TokenSpec,
    configmap_payload,
    downward_payload,
    projected_payload,
    referenced_names,
    secret_payload,
)

Obj = dict[str, Any]
CM = {"data": {"foo": "foo-v", "bar": "bar-v"}, "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}}
SECRET = {"data": {"user": base64.b64encode(b"admin").decode(), "pass": base64.b64encode(b"pw").decode()}}
POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"a": "1"}},
       "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]}}


def fp(data: bytes | str, mode: int = 0o644) -> FileProjection:
    return FileProjection(data if isinstance(data, bytes) else data.encode(), mode)


@pytest.mark.parametrize(("source", "expected"), [
    ({"name": "cm"}, {"foo": fp("foo-v"), "bar": fp("bar-v"), "bin": fp(b"\x00\x01")}),
    ({"name": "cm", "defaultMode": 0o400}, {"foo": fp("foo-v", 0o400), "bar": fp("bar-v", 0o400),
                                           "bin": fp(b"\x00\x01", 0o400)}),
    ({"name": "cm", "items": [{"key": "foo", "path": "path/to/foo.txt"}, {"key": "bin", "path": "b", "mode": 0o600}]},
     {"path/to/foo.txt": fp("foo-v"), "b": fp(b"\x00\x01", 0o600)}),
    ({"name": "cm", "optional": True, "items": [{"key": "nope", "path": "x"}, {"key": "foo", "path": "f"}]},
     {"f": fp("foo-v")}),
])
def test_configmap_payload(source: Obj, expected: dict) -> None:
    assert configmap_payload(source, CM) == expected


def test_configmap_errors() -> None:
    with pytest.raises(MountError, match='configmap "cm" not found'):
        configmap_payload({"name": "cm"}, None)
    assert configmap_payload({"name": "cm", "optional": True}, None) == {}
    with pytest.raises(MountError, match="configmap references non-existent config key: nope"):
        configmap_payload({"name": "cm", "items": [{"key": "nope", "path": "x"}]}, CM)


def test_secret_payload() -> None:
    assert secret_payload({"secretName": "s", "defaultMode": 0o440}, SECRET) == {
        "user": fp("admin", 0o440), "pass": fp("pw", 0o440)}
    assert secret_payload({"secretName": "s", "items": [{"key": "user", "path": "u"}]}, SECRET) == {"u": fp("admin")}
    with pytest.raises(MountError, match='secret "s" not found'):
        secret_payload({"secretName": "s"}, None)
    with pytest.raises(MountError, match="references non-existent secret key: x"):
        secret_payload({"secretName": "s", "items": [{"key": "x", "path": "x"}]}, SECRET)


def test_downward_payload() -> None:
    items = [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
             {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o600},
             {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory",
                                                  "divisor": "1Mi"}},
             {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}}]
    assert downward_payload(items, POD, default_mode=0o644, allocatable={"cpu": "2"}) == {
        "labels": fp('a="1"'), "name": fp("p", 0o600), "mem": fp("64"), "cpu": fp("2")}
    with pytest.raises(MountError, match=r"unsupported fieldPath: spec\.bogus"):
        downward_payload([{"path": "x", "fieldRef": {"fieldPath": "spec.bogus"}}], POD, default_mode=0o644)


def kube_api_access() -> Obj:
    """The volume ServiceAccount admission adds to every pod."""
    return {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}}]}


def test_projected_service_account_volume() -> None:
    asked: list[TokenSpec] = []

    def token(spec: TokenSpec) -> str:
        asked.append(spec)
        return "jwt"

    payload = projected_payload(kube_api_access(), POD, configmaps={"kube-root-ca.crt": {"data": {"ca.crt": "PEM"}}},
                                secrets={}, token=token)
    assert payload == {"token": fp("jwt"), "ca.crt": fp("PEM"), "namespace": fp("ns")}
    assert asked == [TokenSpec(audience="", expiration_seconds=3607)]


def test_projected_errors_are_aggregated_and_later_sources_win() -> None:
    src = {"sources": [{"configMap": {"name": "a"}}, {"secret": {"name": "b"}}]}
    with pytest.raises(MountError) as info:
        projected_payload(src, POD, configmaps={}, secrets={}, token=None)
    assert str(info.value) == '[configmap "a" not found, secret "b" not found]'
    src = {"defaultMode": 0o400, "sources": [{"configMap": {"name": "a"}}, {"secret": {"name": "b", "items": [
        {"key": "user", "path": "foo"}]}}]}
    assert projected_payload(src, POD, configmaps={"a": CM}, secrets={"b": SECRET}, token=None)["foo"] == fp(
        "admin", 0o400)


def test_referenced_names() -> None:
    assert referenced_names({"projected": kube_api_access()}) == ({"kube-root-ca.crt"}, set())
    assert referenced_names({"secret": {"secretName": "s"}}) == (set(), {"s"})
