from __future__ import annotations

import base64
import copy

import pytest

from pybernetes.api.kinds.config import ConfigMapStrategy, SecretStrategy

from .helpers import create, errors, update

CM, SEC = ConfigMapStrategy(), SecretStrategy()


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


@pytest.mark.parametrize(("obj", "expected"), [
    ({"data": {"app.conf": "x=1", "key_2": "y"}}, []),
    ({"data": {"bad/key": "x"}}, ['data[bad/key]: Invalid value: "bad/key": a valid config key must consist of '
                                 "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                                 "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]),
    ({"data": {"a": "x"}, "binaryData": {"a": b64("y")}},
     ['data[a]: Invalid value: "a": duplicate of key present in binaryData',
      'binaryData[a]: Invalid value: "a": duplicate of key present in data']),
    ({"data": {"big": "x" * (1024 * 1024 + 1)}}, ["[]: Too long: may not be more than 1048576 bytes"]),
])
def test_config_map(obj: dict, expected: list[str]) -> None:
    _, errs = create(CM, {"metadata": {"name": "c"}, **obj})
    assert errors(errs) == expected


def test_immutable_config_map() -> None:
    old, _ = create(CM, {"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True})
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    _, errs = update(CM, new, old)
    assert errors(errs) == ["data: Forbidden: field is immutable when `immutable` is set"]
    new = copy.deepcopy(old)
    new["immutable"] = False
    _, errs = update(CM, new, old)
    assert errors(errs) == ["immutable: Forbidden: field is immutable when `immutable` is set"]


def test_secret_defaults_and_string_data() -> None:
    out, errs = create(SEC, {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}})
    assert errs == []
    assert out["type"] == "Opaque"
    assert out["data"] == {"password": b64("hunter2")}
    assert "stringData" not in out


@pytest.mark.parametrize(("secret", "expected"), [
    ({"type": "kubernetes.io/service-account-token"},
     ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
    ({"type": "kubernetes.io/service-account-token",
      "metadata": {"name": "s", "annotations": {"kubernetes.io/service-account.name": "default"}}}, []),
    ({"type": "kubernetes.io/dockerconfigjson"}, ["data[.dockerconfigjson]: Required value"]),
    ({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64('{"auths":{}}')}}, []),
    ({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64("")}},
     ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input']),
    ({"type": "kubernetes.io/basic-auth"}, ["data[username]: Required value", "data[password]: Required value"]),
    ({"type": "kubernetes.io/basic-auth", "data": {"username": b64("u")}}, []),
    ({"type": "kubernetes.io/ssh-auth"}, ["data[ssh-privatekey]: Required value"]),
    ({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}}, ["data[tls.key]: Required value"]),
    ({"type": "example.com/custom"}, []),
])
def test_secret_types(secret: dict, expected: list[str]) -> None:
    obj = {"metadata": {"name": "s"}, **secret}
    _, errs = create(SEC, obj)
    assert errors(errs) == expected


def test_secret_type_immutable() -> None:
    old, _ = create(SEC, {"metadata": {"name": "s"}, "data": {"a": b64("1")}})
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/basic-auth"
    new["data"]["username"] = b64("u")
    _, errs = update(SEC, new, old)
    assert errors(errs) == ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable']
