"""CustomResourceDefinition defaults, validation (names, versions, structural schemas) and strategy."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.apiextensions import CustomResourceDefinitionStrategy

S = CustomResourceDefinitionStrategy()
SCHEMA = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "cronSpec": {"type": "string"}, "replicas": {"type": "integer"}}}}}


def crd(**spec: Any) -> dict[str, Any]:
    base = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {"group": "stable.example.com", "scope": "Namespaced",
                     "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)}}]}}
    base["spec"].update(spec)
    return base


def created(obj: dict[str, Any]) -> dict[str, Any]:
    S.default(obj)
    S.prepare_for_create(obj)
    return obj


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_defaults_and_stored_versions() -> None:
    c = created(crd())
    assert c["spec"]["names"] == {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"],
                                  "singular": "crontab", "listKind": "CronTabList"}
    assert c["spec"]["conversion"] == {"strategy": "None"}
    assert c["status"] == {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": ["v1"]}
    assert c["metadata"]["generation"] == 1
    assert S.validate(c) == []


def _version(name: str, storage: bool, schema: Any = SCHEMA) -> dict[str, Any]:
    v: dict[str, Any] = {"name": name, "served": True, "storage": storage}
    if schema is not None:
        v["schema"] = {"openAPIV3Schema": copy.deepcopy(schema)}
    return v


@pytest.mark.parametrize(("spec", "expected"), [
    ({"group": "example"}, ['metadata.name: Invalid value: "crontabs.stable.example.com": must be '
                            'spec.names.plural+"."+spec.group',
                            'spec.group: Invalid value: "example": should be a domain with at least one dot']),
    ({"scope": "Global"}, ['spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"']),
    ({"versions": [_version("v1", False), _version("v2", False)]},
     ["spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: must have exactly one "
      "version marked as storage version",
      "status.storedVersions: Invalid value: []string(nil): must have at least one stored version"]),
    ({"versions": [_version("v1", True), _version("v1", False)]},
     ["spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: must contain unique "
      "version names"]),
    ({"versions": [_version("v1", True, None)]},
     ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"]),
    ({"versions": [_version("V1", True)]},
     ['spec.versions[0].name: Invalid value: "V1": a DNS-1035 label must consist of lower case alphanumeric '
      "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
      "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]),
    ({"conversion": {"strategy": "Webhook"}},
     ["spec.conversion.webhook: Required value: required when strategy is set to Webhook"]),
    ({"conversion": {"strategy": "None", "webhook": {}}},
     ["spec.conversion.webhook: Forbidden: should be null if strategy is not set to Webhook"]),
])
def test_spec_mistakes(spec: dict[str, Any], expected: list[str]) -> None:
    c = created(crd(**spec))
    assert msgs(S.validate(c)) == expected


@pytest.mark.parametrize(("schema", "expected"), [
    ({"type": "string"}, ['spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object '
                          "at the root"]),
    ({"properties": {"spec": {"type": "object"}}},
     ["spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root"]),
    ({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}},
     ["spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for "
      "specified object fields"]),
    ({"type": "object", "properties": {"list": {"type": "array"}}},
     ["spec.versions[0].schema.openAPIV3Schema.properties[list].items: Required value: must be specified"]),
    ({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}},
     ["spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other "
      "than name and generateName, but metadata is implicitly specified"]),
    ({"type": "object", "properties": {"x": {"$ref": "#/definitions/x"}}},
     ["spec.versions[0].schema.openAPIV3Schema.properties[x].type: Required value: must not be empty for "
      "specified object fields",
      "spec.versions[0].schema.openAPIV3Schema.properties[x].$ref: Forbidden: $ref is not supported"]),
    ({"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": True}},
      "x-kubernetes-preserve-unknown-fields": True}, []),
])
def test_structural_schema_rules(schema: dict[str, Any], expected: list[str]) -> None:
    c = created(crd(versions=[_version("v1", True, schema)]))
    assert msgs(S.validate(c)) == expected


def test_scale_subresource_and_columns() -> None:
    v = _version("v1", True)
    v["subresources"] = {"scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": "status.replicas"}}
    v["additionalPrinterColumns"] = [{"name": "Spec", "type": "text", "jsonPath": ".spec.cronSpec"}]
    c = created(crd(versions=[v]))
    assert msgs(S.validate(c)) == [
        'spec.versions[0].subresources.scale.statusReplicasPath: Invalid value: "status.replicas": must be a simple '
        "json path starting with .",
        'spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "text": must be one of '
        "boolean,date,integer,number,string"]


def test_update_rules() -> None:
    old = created(crd())
    old["status"]["conditions"] = [{"type": "Established", "status": "True"}]
    new = copy.deepcopy(old)
    new["spec"]["scope"] = "Cluster"
    new["spec"]["versions"] = [_version("v1", False), _version("v2", True)]
    S.prepare_for_update(new, old)
    assert new["status"]["storedVersions"] == ["v1", "v2"]
    assert old["status"]["storedVersions"] == ["v1"]
    assert new["metadata"]["generation"] == 2
    assert msgs(S.validate_update(new, old)) == ['spec.scope: Invalid value: "Cluster": field is immutable']


def test_dropping_a_stored_version_needs_status_first() -> None:
    old = created(crd(versions=[_version("v1", False), _version("v2", True)]))
    old["status"]["storedVersions"] = ["v1", "v2"]
    new = copy.deepcopy(old)
    new["spec"]["versions"] = [_version("v2", True)]
    S.prepare_for_update(new, old)
    assert msgs(S.validate_update(new, old)) == [
        'status.storedVersions[0]: Invalid value: "v1": must appear in spec.versions']
