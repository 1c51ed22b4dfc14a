"""apiextensions.k8s.io/v1 CustomResourceDefinition: defaults, validation and strategy.

Upstream: ``apiextensions-apiserver/pkg/apis/apiextensions/v1/defaults.go``, ``…/validation/validation.go`` and
``pkg/registry/customresourcedefinition/strategy.go``. What matters to the server is checked here: the name is
``<plural>.<group>``; names are DNS-1035 labels; exactly one storage version; every version has a structural
schema (typed nodes, an object root, only ``name``/``generateName`` under ``metadata``, no ``$ref``, no
``properties`` beside ``additionalProperties``); subresource paths and printer columns well formed; conversion
``None`` unless a webhook is configured. ``status.storedVersions`` always holds the storage version, added at
create and update as upstream's strategy does, because the storage migrator relies on it. Scope and kind are frozen
once the CRD is Established; group and plural are always frozen (they are the name). CEL rules
(``x-kubernetes-validations``) are not compiled.
"""

from __future__ import annotations

from typing import Any

from pybernetes.api.field import FieldError, Path, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.common import GoRepr
from pybernetes.api.kinds.fieldchecks import immutable
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import dns1035_label, dns1123_subdomain

SCOPES = ("Cluster", "Namespaced")
CONVERSION_STRATEGIES = ("None", "Webhook")
COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
SPEC = Path("spec")
SCHEMA_TYPES = ("array", "boolean", "integer", "number", "object", "string")


def default_crd(obj: Obj) -> None:
    """``SetDefaults_CustomResourceDefinitionSpec`` and the webhook service port."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        if not names.get("singular"):
            names["singular"] = (names.get("kind") or "").lower()
        if not names.get("listKind") and names.get("kind"):
            names["listKind"] = names["kind"] + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    service = (((spec.get("conversion") or {}).get("webhook") or {}).get("clientConfig") or {}).get("service")
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443


def storage_version(obj: Obj) -> str | None:
    for v in (obj.get("spec") or {}).get("versions") or ():
        if isinstance(v, dict) and v.get("storage"):
            return v.get("name")
    return None


def add_stored_version(obj: Obj) -> None:
    """Record the storage version in ``status.storedVersions`` (upstream strategy, create and update)."""
    v = storage_version(obj)
    if v is None:
        return
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    stored = status.get("storedVersions")
    if not isinstance(stored, list):
        stored = status["storedVersions"] = []
    if v not in stored:
        stored.append(v)


def _dns1035(value: str, path: Path, prefix: str = "") -> list[FieldError]:
    msgs = dns1035_label(value)
    return [invalid(path, value, prefix + ",".join(msgs))] if msgs else []


def validate_names(names: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("plural", "singular"):
        if names.get(key):
            errs += _dns1035(names[key], path.child(key))
    mixed = "may have mixed case, but should otherwise match: "
    for key in ("kind", "listKind"):
        value = names.get(key) or ""
        if value:
            msgs = dns1035_label(value.lower())
            if msgs:
                errs.append(invalid(path.child(key), value, mixed + ",".join(msgs)))
    for i, short in enumerate(names.get("shortNames") or []):
        errs += _dns1035(short, path.child("shortNames").index(i))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(invalid(path.child("listKind"), names["listKind"], "kind and listKind may not be the same"))
    for i, cat in enumerate(names.get("categories") or []):
        errs += _dns1035(cat, path.child("categories").index(i))
    return errs


def simple_json_path(s: str, path: Path) -> list[FieldError]:
    if not s:
        return [invalid(path, s, "must not be empty")]
    if s[0] != ".":
        return [invalid(path, s, "must be a simple json path starting with .")]
    return []


def validate_subresources(subs: Obj | None, path: Path) -> list[FieldError]:
    scale = (subs or {}).get("scale")
    if scale is None:
        return []
    errs: list[FieldError] = []
    for key, prefixes, where in (("specReplicasPath", (".spec.",), ".spec"),
                                 ("statusReplicasPath", (".status.",), ".status")):
        value = scale.get(key) or ""
        p = path.child(f"scale.{key}")
        if not value:
            errs.append(required(p))
        elif bad := simple_json_path(value, p):
            errs += bad
        elif not value.startswith(prefixes):
            errs.append(invalid(p, value, f"should be a json path under {where}"))
    selector = scale.get("labelSelectorPath")
    if selector:
        p = path.child("scale.labelSelectorPath")
        if bad := simple_json_path(selector, p):
            errs += bad
        elif not selector.startswith((".spec.", ".status.")):
            errs.append(invalid(p, selector, "should be a json path under either .spec or .status"))
    return errs


def validate_column(col: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    if not col.get("name"):
        errs.append(required(path.child("name")))
    kind = col.get("type") or ""
    types = "must be one of " + ",".join(COLUMN_TYPES)
    if not kind:
        errs.append(required(path.child("type"), types))
    elif kind not in COLUMN_TYPES:
        errs.append(invalid(path.child("type"), kind, types))
    fmt = col.get("format") or ""
    if fmt and fmt not in COLUMN_FORMATS:
        errs.append(invalid(path.child("format"), fmt, "must be one of " + ",".join(COLUMN_FORMATS)))
    jp = col.get("jsonPath") or ""
    if not jp:
        errs.append(required(path.child("JSONPath")))
    else:
        errs += simple_json_path(jp, path.child("JSONPath"))
    return errs


# ---------------------------------------------------------------- structural schemas


def validate_structural(schema: Obj, path: Path) -> list[FieldError]:
    """The structural-schema rules a served version needs (upstream ``pkg/apiserver/schema``), root first."""
    errs: list[FieldError] = []
    typ = schema.get("type") or ""
    if not typ:
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            errs.append(required(path.child("type"), "must not be empty at the root"))
    elif typ != "object":
        errs.append(invalid(path.child("type"), typ, "must be object at the root"))
    meta = (schema.get("properties") or {}).get("metadata")
    if isinstance(meta, dict):
        mpath = path.child("properties").key("metadata")
        if meta.get("type") != "object":
            errs.append(invalid(mpath.child("type"), meta.get("type") or "", "must be object"))
        if set(meta.get("properties") or {}) - {"name", "generateName"}:
            errs.append(forbidden(mpath, "must not specify anything other than name and generateName, "
                                         "but metadata is implicitly specified"))
    errs += _walk(schema, path, root=True)
    return errs


def _walk(s: Obj, path: Path, *, root: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    if "$ref" in s:
        errs.append(forbidden(path.child("$ref"), "$ref is not supported"))
    typ = s.get("type")
    if typ is not None and typ not in SCHEMA_TYPES:
        errs.append(not_supported(path.child("type"), typ, list(SCHEMA_TYPES)))
    if s.get("x-kubernetes-int-or-string") and typ:
        errs.append(invalid(path.child("type"), typ, "must be empty if x-kubernetes-int-or-string is true"))
    props = s.get("properties") or {}
    extra = s.get("additionalProperties")
    if props and extra not in (None, True, False):
        errs.append(forbidden(path.child("additionalProperties"),
                              "additionalProperties and properties are mutual exclusive"))
    if props and typ not in (None, "object") and not root:
        errs.append(invalid(path.child("type"), typ, "must be object if properties are specified"))
    for name, sub in props.items():
        ppath = path.child("properties").key(name)
        if not isinstance(sub, dict):
            continue
        if root and name == "metadata":
            continue
        errs += _node_type(sub, ppath, "must not be empty for specified object fields")
        errs += _walk(sub, ppath)
    if isinstance(extra, dict):
        apath = path.child("additionalProperties")
        errs += _node_type(extra, apath, "must not be empty for specified object fields")
        errs += _walk(extra, apath)
    if typ == "array":
        items = s.get("items")
        if not isinstance(items, dict):
            errs.append(required(path.child("items"), "must be specified"))
        else:
            errs += _node_type(items, path.child("items"), "must not be empty for specified array items")
            errs += _walk(items, path.child("items"))
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(key) or []):
            if isinstance(sub, dict) and "$ref" in sub:
                errs.append(forbidden(path.child(key).index(i).child("$ref"), "$ref is not supported"))
    return errs


def _node_type(s: Obj, path: Path, why: str) -> list[FieldError]:
    if s.get("type") or s.get("x-kubernetes-int-or-string") or s.get("x-kubernetes-preserve-unknown-fields"):
        return []
    return [required(path.child("type"), why)]


# ---------------------------------------------------------------- the whole CRD


def _versions_repr(versions: list[Any]) -> GoRepr:
    return GoRepr("[]apiextensions.CustomResourceDefinitionVersion{...}") if versions else \
        GoRepr("[]apiextensions.CustomResourceDefinitionVersion(nil)")


def validate_versions(spec: Obj, path: Path) -> list[FieldError]:
    versions = spec.get("versions") or []
    vpath = path.child("versions")
    errs: list[FieldError] = []
    if not versions:
        errs.append(required(vpath, "must have exactly one version marked as storage version"))
        return errs
    storage_count = 0
    seen: set[str] = set()
    unique = True
    for i, v in enumerate(versions):
        v = v or {}
        ipath = vpath.index(i)
        name = v.get("name") or ""
        if v.get("storage"):
            storage_count += 1
        if name in seen:
            unique = False
        seen.add(name)
        msgs = dns1035_label(name)
        if msgs:
            errs.append(invalid(ipath.child("name"), name, ",".join(msgs)))
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errs.append(required(ipath.child("schema", "openAPIV3Schema"), "schemas are required"))
        else:
            errs += validate_structural(schema, ipath.child("schema", "openAPIV3Schema"))
        errs += validate_subresources(v.get("subresources"), ipath.child("subresources"))
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            errs += validate_column(col or {}, ipath.child("additionalPrinterColumns").index(j))
    if not unique:
        errs.append(invalid(vpath, _versions_repr(versions), "must contain unique version names"))
    if storage_count != 1:
        errs.append(invalid(vpath, _versions_repr(versions), "must have exactly one version marked as storage version"))
    return errs


def validate_conversion(conv: Obj | None, path: Path) -> list[FieldError]:
    if conv is None:
        return []
    strategy = conv.get("strategy") or ""
    webhook = conv.get("webhook")
    errs: list[FieldError] = []
    if strategy not in CONVERSION_STRATEGIES:
        errs.append(not_supported(path.child("strategy"), strategy, list(CONVERSION_STRATEGIES)))
    if strategy == "Webhook":
        if webhook is None:
            errs.append(required(path.child("webhook"), "required when strategy is set to Webhook"))
        else:
            if not webhook.get("conversionReviewVersions"):
                errs.append(required(path.child("webhook", "conversionReviewVersions"),
                                     "must include at least one of v1, v1beta1"))
            config = webhook.get("clientConfig")
            if config is None:
                errs.append(required(path.child("webhook", "clientConfig"), "required when strategy is set to Webhook"))
            elif (config.get("url") is None) == (config.get("service") is None):
                errs.append(required(path.child("webhook", "clientConfig"),
                                     "exactly one of url or service is required"))
    elif webhook is not None:
        errs.append(forbidden(path.child("webhook"), "should be null if strategy is not set to Webhook"))
    return errs


def validate_crd_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs: list[FieldError] = []
    group = spec.get("group") or ""
    if not group:
        errs.append(required(path.child("group")))
    else:
        errs += [invalid(path.child("group"), group, m) for m in dns1123_subdomain(group)]
        if len(group.split(".")) < 2:
            errs.append(invalid(path.child("group"), group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(required(path.child("scope")))
    elif scope not in SCOPES:
        errs.append(not_supported(path.child("scope"), scope, list(SCOPES)))
    names = spec.get("names") or {}
    npath = path.child("names")
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            errs.append(required(npath.child(key)))
    errs += validate_names(names, npath)
    errs += validate_versions(spec, path)
    errs += validate_conversion(spec.get("conversion"), path.child("conversion"))
    if spec.get("preserveUnknownFields"):
        errs.append(invalid(path.child("preserveUnknownFields"), True, "cannot set to true, set "
                            "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
    return errs


def validate_stored_versions(obj: Obj) -> list[FieldError]:
    path = Path("status", "storedVersions")
    stored = (obj.get("status") or {}).get("storedVersions") or []
    if not stored:
        return [invalid(path, GoRepr("[]string(nil)"), "must have at least one stored version")]
    errs: list[FieldError] = []
    positions = {v: i for i, v in enumerate(stored)}
    for v in (obj.get("spec") or {}).get("versions") or []:
        name = (v or {}).get("name")
        if (v or {}).get("storage") and name not in positions:
            errs.append(invalid(path, name, f"must have the storage version {name}"))
        positions.pop(name, None)
    for v, i in positions.items():
        errs.append(invalid(path.index(i), v, "must appear in spec.versions"))
    return errs


def _name_errors(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    name = (obj.get("metadata") or {}).get("name") or ""
    wanted = f"{(spec.get('names') or {}).get('plural', '')}.{spec.get('group', '')}"
    if name and name != wanted:
        return [invalid(Path("metadata", "name"), name, 'must be spec.names.plural+"."+spec.group')]
    return []


def is_established(obj: Obj) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or () if isinstance(c, dict))


class CustomResourceDefinitionStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {"acceptedNames": {"plural": "", "kind": ""}}

    def default(self, obj: Obj) -> None:
        default_crd(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        add_stored_version(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        if "status" in obj:
            obj["status"] = {**obj["status"], "storedVersions": list(obj["status"].get("storedVersions") or [])}
        add_stored_version(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return _name_errors(obj) + validate_crd_spec(obj.get("spec") or {}) + validate_stored_versions(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(obj)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        if is_established(old):
            errs += immutable(spec.get("scope"), old_spec.get("scope"), SPEC.child("scope"))
            errs += immutable((spec.get("names") or {}).get("kind"), (old_spec.get("names") or {}).get("kind"),
                              SPEC.child("names", "kind"))
        errs += immutable(spec.get("group"), old_spec.get("group"), SPEC.child("group"))
        errs += immutable((spec.get("names") or {}).get("plural"), (old_spec.get("names") or {}).get("plural"),
                          SPEC.child("names", "plural"))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = validate_stored_versions(obj)
        accepted = (obj.get("status") or {}).get("acceptedNames")
        if isinstance(accepted, dict):
            errs += validate_names(accepted, Path("status", "acceptedNames"))
        return errs
