"""ObjectMeta validation on create and update, as upstream ``ValidateObjectMetaAccessor(Update)``.

Facts from kubernetes/apimachinery ``pkg/api/validation/objectmeta.go`` and ``pkg/apis/meta/v1/validation``
(v0.33), plus the extra finalizer rule that built-in kinds add in kubernetes ``pkg/apis/core/validation``
(``standard_finalizers=True``). Error order, paths, values and wording follow upstream, because clients show the
resulting 422 message verbatim. Two upstream oddities are kept on purpose: ownerReference errors carry the
list's path without an index, and a nil pointer's value is shown as the quoted string ``"null"``.

The generic registry runs the kind's own validation first and this generic check after it (upstream
``rest.BeforeCreate``); a kind whose names follow another rule passes its ``name_fn``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from pybernetes.api.field import FieldError, Path, forbidden, invalid, required, too_long
from pybernetes.api.meta import parse_time
from pybernetes.api.validation.names import (
    name_is_dns_subdomain,
    type_invalid,
    validate_annotations,
    validate_finalizer_name,
    validate_labels,
    validate_namespace_name,
)

NameFn = Callable[[str, bool], list[str]]

FIELD_IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"
FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"
FINALIZER_KUBERNETES = "kubernetes"
STANDARD_FINALIZERS = frozenset({FINALIZER_KUBERNETES, FINALIZER_ORPHAN, FINALIZER_FOREGROUND})
FIELD_MANAGER_MAX_LENGTH = 128
MAX_SUBRESOURCE_NAME_LENGTH = 256

# Kinds that may never be owners (upstream BannedOwners): group, version, kind.
BANNED_OWNERS = frozenset({("", "v1", "Event")})

_METADATA = Path("metadata")


def _q(s: str) -> str:
    return orjson.dumps(s).decode()


class GoTime:
    """A timestamp shown the way Go's ``time.Time.String()`` prints it in field errors.

    Upstream's immutable-field errors print the new value with ``%v``: ``1970-01-01 00:16:40 +0000 UTC``.
    Timestamps that do not parse are shown as the raw string.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: str | None) -> None:
        self._raw = raw

    def __str__(self) -> str:
        if not self._raw:
            return "0001-01-01 00:00:00 +0000 UTC"
        try:
            dt = parse_time(self._raw)
        except ValueError:
            return _q(self._raw)
        s = dt.strftime("%Y-%m-%d %H:%M:%S")
        if dt.microsecond:
            s += f".{dt.microsecond:06d}".rstrip("0")
        return s + " +0000 UTC"


def _same_instant(a: Any, b: Any) -> bool:
    """Semantic equality of two timestamp strings (``metav1.Time`` compares instants, not spellings)."""
    if a == b:
        return True
    if not a or not b or not isinstance(a, str) or not isinstance(b, str):
        return False
    try:
        return parse_time(a) == parse_time(b)
    except ValueError:
        return False


def _str_field(meta: Mapping[str, Any], key: str, path: Path, errs: list[FieldError]) -> str:
    v = meta.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        errs.append(type_invalid(path.child(key), v, "string"))
        return ""
    return v


def _int_field(meta: Mapping[str, Any], key: str) -> int:
    v = meta.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


# ---------------------------------------------------------------------------------------------------------------
# Pieces (public: kinds reuse them for nested metadata-like fields)


def validate_nonnegative_field(value: int, path: Path) -> list[FieldError]:
    """ValidateNonnegativeField."""
    return [invalid(path, value, IS_NEGATIVE)] if value < 0 else []


def validate_immutable_field(new: Any, old: Any, path: Path) -> list[FieldError]:
    """ValidateImmutableField: ``Invalid value: <new>: field is immutable`` when the value changed."""
    return [] if new == old else [invalid(path, new, FIELD_IMMUTABLE)]


def _group_version(api_version: str) -> tuple[str, str] | None:
    """schema.ParseGroupVersion: ``v1`` → ("", "v1"), ``apps/v1`` → ("apps", "v1"); more slashes → None."""
    if not api_version:
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", api_version
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def validate_owner_references(refs: Any, path: Path) -> list[FieldError]:
    """ValidateOwnerReferences: required fields, banned owner kinds, at most one controller.

    Upstream reports a reference's field errors on ``<path>.<field>`` (no index); kept for identical messages.
    """
    if not refs:
        return []
    if not isinstance(refs, list):
        return [type_invalid(path, refs, "array")]
    errs: list[FieldError] = []
    first_controller = ""
    for ref in refs:
        if not isinstance(ref, Mapping):
            errs.append(type_invalid(path, ref, "object"))
            continue
        api_version = ref.get("apiVersion") or ""
        kind = ref.get("kind") or ""
        gv = _group_version(api_version)
        group, version = gv if gv is not None else ("", "")
        if not version:
            errs.append(invalid(path.child("apiVersion"), api_version, "version must not be empty"))
        if not kind:
            errs.append(invalid(path.child("kind"), kind, "kind must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(path.child("name"), ref.get("name") or "", "name must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(path.child("uid"), ref.get("uid") or "", "uid must not be empty"))
        if (group, version, kind) in BANNED_OWNERS:
            errs.append(invalid(path, dict(ref), f"{group}/{version}, Kind={kind} is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{ref.get('name') or ''}"
            if first_controller:
                errs.append(invalid(path, refs, "Only one reference can have Controller set to true. Found "
                                                f'"true" in references for {first_controller} and {current}'))
            else:
                first_controller = current
    return errs


def validate_finalizers(finalizers: Any, path: Path) -> list[FieldError]:
    """ValidateFinalizers: qualified names; ``orphan`` and ``foregroundDeletion`` are mutually exclusive."""
    if not finalizers:
        return []
    if not isinstance(finalizers, list):
        return [type_invalid(path, finalizers, "array")]
    errs: list[FieldError] = []
    for f in finalizers:
        if not isinstance(f, str):
            errs.append(type_invalid(path, f, "string"))
            continue
        errs.extend(validate_finalizer_name(f, path))
    if FINALIZER_ORPHAN in finalizers and FINALIZER_FOREGROUND in finalizers:
        errs.append(invalid(path, finalizers,
                            f"finalizer {FINALIZER_ORPHAN} and {FINALIZER_FOREGROUND} cannot be both set"))
    return errs


def validate_standard_finalizers(finalizers: Any, path: Path) -> list[FieldError]:
    """The built-in kinds' extra rule (core ``validateKubeFinalizerName``): an unqualified finalizer (no ``/``)
    must be one of ``kubernetes``, ``orphan``, ``foregroundDeletion``. Errors are indexed, unlike the generic ones.
    """
    if not finalizers or not isinstance(finalizers, list):
        return []
    return [invalid(path.index(i), f, "name is neither a standard finalizer name nor is it fully qualified")
            for i, f in enumerate(finalizers)
            if isinstance(f, str) and "/" not in f and f not in STANDARD_FINALIZERS]


def finalizer_warnings(finalizers: Any, old_finalizers: Any = None,
                       path: Path = Path("metadata", "finalizers")) -> list[str]:
    """Warnings custom resources get for finalizer names (1.33 apiextensions strategy): unqualified names that are
    not standard ones. Finalizers already on the old object are not warned about again.
    """
    if not finalizers or not isinstance(finalizers, list):
        return []
    old = set(old_finalizers) if isinstance(old_finalizers, list) else set()
    warnings: list[str] = []
    for f in finalizers:
        if not isinstance(f, str) or f in old:
            continue
        if "/" not in f and f not in STANDARD_FINALIZERS:
            warnings.append(f"{path}: {_q(f)}: prefer a domain-qualified finalizer name to avoid accidental "
                            "conflicts with other finalizer writers")
    return warnings


def validate_field_manager(manager: Any, path: Path) -> list[FieldError]:
    """ValidateFieldManager: at most 128 bytes of printable characters."""
    if not manager:
        return []
    if not isinstance(manager, str):
        return [type_invalid(path, manager, "string")]
    errs: list[FieldError] = []
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        errs.append(too_long(path, "", FIELD_MANAGER_MAX_LENGTH))
    if not manager.isprintable():
        pos = 0
        for ch in manager:
            if not ch.isprintable() and ch != " ":
                errs.append(invalid(path, manager, f"invalid character U+{ord(ch):04X} (at position {pos})"))
            pos += len(ch.encode())
    return errs


def validate_managed_fields(entries: Any, path: Path) -> list[FieldError]:
    """ValidateManagedFields: operation Apply|Update, fieldsType FieldsV1, manager, subresource length."""
    if not entries:
        return []
    if not isinstance(entries, list):
        return [type_invalid(path, entries, "array")]
    errs: list[FieldError] = []
    for i, e in enumerate(entries):
        p = path.index(i)
        if not isinstance(e, Mapping):
            errs.append(type_invalid(p, e, "object"))
            continue
        op = e.get("operation") or ""
        if op not in ("Apply", "Update"):
            errs.append(invalid(p.child("operation"), op, "must be `Apply` or `Update`"))
        ft = e.get("fieldsType") or ""
        if ft and ft != "FieldsV1":
            errs.append(invalid(p.child("fieldsType"), ft, "must be `FieldsV1`"))
        errs.extend(validate_field_manager(e.get("manager"), p.child("manager")))
        sub = e.get("subresource") or ""
        if isinstance(sub, str) and len(sub.encode()) > MAX_SUBRESOURCE_NAME_LENGTH:
            errs.append(too_long(p.child("subresource"), "", MAX_SUBRESOURCE_NAME_LENGTH))
    return errs


# ---------------------------------------------------------------------------------------------------------------
# ObjectMeta


def validate_object_meta(meta: Mapping[str, Any] | None, *, namespaced: bool,
                         name_fn: NameFn | None = name_is_dns_subdomain, path: Path = _METADATA,
                         standard_finalizers: bool = False) -> list[FieldError]:
    """ValidateObjectMetaAccessor: the metadata checks every create runs.

    ``name_fn`` is the kind's name rule (None means DNS-1123 subdomain); ``standard_finalizers`` adds the
    built-in kinds' finalizer rule (custom resources get :func:`finalizer_warnings` instead).
    """
    meta = meta or {}
    fn = name_fn or name_is_dns_subdomain
    errs: list[FieldError] = []
    generate_name = _str_field(meta, "generateName", path, errs)
    if generate_name:
        p = path.child("generateName")
        errs.extend(invalid(p, generate_name, m) for m in fn(generate_name, True))
    name = _str_field(meta, "name", path, errs)
    if not name:
        errs.append(required(path.child("name"), "name or generateName is required"))
    else:
        p = path.child("name")
        errs.extend(invalid(p, name, m) for m in fn(name, False))
    namespace = _str_field(meta, "namespace", path, errs)
    if namespaced:
        if not namespace:
            errs.append(required(path.child("namespace")))
        else:
            p = path.child("namespace")
            errs.extend(invalid(p, namespace, m) for m in validate_namespace_name(namespace, False))
    elif namespace:
        errs.append(forbidden(path.child("namespace"), "not allowed on this type"))
    errs.extend(validate_nonnegative_field(_int_field(meta, "generation"), path.child("generation")))
    errs.extend(validate_labels(meta.get("labels"), path.child("labels")))
    errs.extend(validate_annotations(meta.get("annotations"), path.child("annotations")))
    errs.extend(validate_owner_references(meta.get("ownerReferences"), path.child("ownerReferences")))
    finalizers = meta.get("finalizers")
    errs.extend(validate_finalizers(finalizers, path.child("finalizers")))
    errs.extend(validate_managed_fields(meta.get("managedFields"), path.child("managedFields")))
    if standard_finalizers:
        errs.extend(validate_standard_finalizers(finalizers, path.child("finalizers")))
    return errs


def _go_string_slice(items: list[str]) -> str:
    return "[]string{" + ", ".join(_q(s) for s in items) + "}"


def validate_no_new_finalizers(new: Any, old: Any, path: Path) -> list[FieldError]:
    """ValidateNoNewFinalizers: an object being deleted may lose finalizers but not gain any."""
    new_set = {f for f in new or () if isinstance(f, str)}
    extra = sorted(new_set - set(old or ()))
    if not extra:
        return []
    return [forbidden(path, "no new finalizers can be added if the object is being deleted, found new finalizers "
                            + _go_string_slice(extra))]


def validate_object_meta_update(new: Mapping[str, Any] | None, old: Mapping[str, Any] | None, *,
                                path: Path = _METADATA, standard_finalizers: bool = False) -> list[FieldError]:
    """ValidateObjectMetaAccessorUpdate: the metadata checks every update runs.

    Immutable: name, namespace, uid, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds (generateName
    is not). resourceVersion must be set; generation may not go down; no finalizer may be added once deletion
    started. Labels, annotations, ownerReferences and managedFields of the new object are re-validated; finalizer
    names are not (as upstream), except the built-in kinds' rule when ``standard_finalizers``.
    """
    new = new or {}
    old = old or {}
    errs: list[FieldError] = []
    if old.get("deletionTimestamp"):
        errs.extend(validate_no_new_finalizers(new.get("finalizers"), old.get("finalizers"),
                                               path.child("finalizers")))
    rv = new.get("resourceVersion")
    if not rv:
        errs.append(invalid(path.child("resourceVersion"), rv or "", "must be specified for an update"))
    new_gen, old_gen = _int_field(new, "generation"), _int_field(old, "generation")
    if new_gen < old_gen:
        errs.append(invalid(path.child("generation"), new_gen, "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        nv, ov = new.get(key) or "", old.get(key) or ""
        if nv != ov:
            errs.append(invalid(path.child(key), nv, FIELD_IMMUTABLE))
    nc, oc = new.get("creationTimestamp"), old.get("creationTimestamp")
    if not _same_instant(nc or None, oc or None):
        errs.append(invalid(path.child("creationTimestamp"), GoTime(nc), FIELD_IMMUTABLE))
    nd, od = new.get("deletionTimestamp"), old.get("deletionTimestamp")
    if not _same_instant(nd or None, od or None):
        errs.append(invalid(path.child("deletionTimestamp"), GoTime(nd) if nd else "null", FIELD_IMMUTABLE))
    ng, og = new.get("deletionGracePeriodSeconds"), old.get("deletionGracePeriodSeconds")
    if ng != og:
        errs.append(invalid(path.child("deletionGracePeriodSeconds"), "null" if ng is None else ng, FIELD_IMMUTABLE))
    errs.extend(validate_labels(new.get("labels"), path.child("labels")))
    errs.extend(validate_annotations(new.get("annotations"), path.child("annotations")))
    errs.extend(validate_owner_references(new.get("ownerReferences"), path.child("ownerReferences")))
    errs.extend(validate_managed_fields(new.get("managedFields"), path.child("managedFields")))
    if standard_finalizers:
        errs.extend(validate_standard_finalizers(new.get("finalizers"), path.child("finalizers")))
    return errs

