"""ConfigMap, Secret and ServiceAccount (upstream ``ValidateConfigMap*``, ``ValidateSecret*``, ``SetDefaults_Secret``).

JSON carries Secret ``data`` and ConfigMap ``binaryData`` as base64; sizes are of the decoded bytes, as upstream
counts them. Secret ``stringData`` is merged into ``data`` when the object is defaulted (upstream's v1 conversion),
so it is never stored.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from pybernetes.api.field import FieldError, Path, forbidden, invalid, required, too_long
from pybernetes.api.kinds.common import b64_decode, b64_decoded_len, immutable
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import config_map_key

MAX_SIZE = 1024 * 1024
IMMUTABLE_SET = "field is immutable when `immutable` is set"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
REDACTED = "<secret contents redacted>"

# Secret type -> data keys it requires (all of them, unless noted in validate_secret).
DOCKERCFG_KEY = ".dockercfg"
DOCKERCONFIGJSON_KEY = ".dockerconfigjson"


def _data_keys(data: Any, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in data or ():
        errs.extend(invalid(path.key(key), key, m) for m in config_map_key(key))
    return errs


def validate_config_map(cm: Obj) -> list[FieldError]:
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    errs: list[FieldError] = []
    total = 0
    dp, bp = Path("data"), Path("binaryData")
    for key, value in data.items():
        errs.extend(invalid(dp.key(key), key, m) for m in config_map_key(key))
        if key in binary:
            errs.append(invalid(dp.key(key), key, "duplicate of key present in binaryData"))
        if isinstance(value, str):
            total += len(value) if value.isascii() else len(value.encode())
    for key, value in binary.items():
        errs.extend(invalid(bp.key(key), key, m) for m in config_map_key(key))
        if key in data:
            errs.append(invalid(bp.key(key), key, "duplicate of key present in data"))
        if isinstance(value, str):
            total += b64_decoded_len(value)
    if total > MAX_SIZE:
        # Upstream reports the whole object as field.NewPath(""), which prints as "[]".
        errs.append(too_long(Path().key(""), "", MAX_SIZE))
    return errs


def _immutable_contents(new: Obj, old: Obj, keys: tuple[str, ...]) -> list[FieldError]:
    if not old.get("immutable"):
        return []
    errs: list[FieldError] = []
    if not new.get("immutable"):
        errs.append(forbidden(Path("immutable"), IMMUTABLE_SET))
    for key in keys:
        if (new.get(key) or {}) != (old.get(key) or {}):
            errs.append(forbidden(Path(key), IMMUTABLE_SET))
    return errs


class ConfigMapStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_config_map(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return _immutable_contents(obj, old, ("data", "binaryData")) + validate_config_map(obj)


def _json_error(raw: bytes) -> str | None:
    """None when ``raw`` is a JSON object; else an error worded like Go's encoding/json."""
    if not raw.strip():
        return "unexpected end of JSON input"
    try:
        v = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return f"invalid character looking for beginning of value ({e.msg})"
    if not isinstance(v, dict):
        kind = {list: "array", str: "string", bool: "bool", type(None): "null"}.get(type(v), "number")
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return None


def validate_secret(secret: Obj) -> list[FieldError]:
    data = secret.get("data") or {}
    dp = Path("data")
    errs = _data_keys(data, dp)
    total = sum(b64_decoded_len(v) for v in data.values() if isinstance(v, str))
    if total > MAX_SIZE:
        errs.append(too_long(dp, "", MAX_SIZE))
    t = secret.get("type", "")
    if t == "kubernetes.io/service-account-token":
        if not ((secret.get("metadata") or {}).get("annotations") or {}).get(SA_NAME_ANNOTATION):
            errs.append(required(Path("metadata", "annotations").key(SA_NAME_ANNOTATION), ""))
    elif t in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = DOCKERCFG_KEY if t == "kubernetes.io/dockercfg" else DOCKERCONFIGJSON_KEY
        if key not in data:
            errs.append(required(dp.key(key), ""))
        else:
            raw = b64_decode(data[key])
            msg = _json_error(raw) if raw is not None else "illegal base64 data"
            if msg:
                errs.append(invalid(dp.key(key), REDACTED, msg))
    elif t == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(required(dp.key("username"), ""))
            errs.append(required(dp.key("password"), ""))
    elif t == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(required(dp.key("ssh-privatekey"), ""))
    elif t == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.append(required(dp.key(key), ""))
    return errs


def default_secret(secret: Obj) -> None:
    """``SetDefaults_Secret`` (type Opaque) and the v1 conversion of ``stringData`` into ``data``."""
    if not secret.get("type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None)
    if string_data:
        data = secret.get("data")
        if data is None:
            data = secret["data"] = {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(v.encode()).decode() if isinstance(v, str) else v


class SecretStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        default_secret(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_secret(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = immutable(obj.get("type", ""), old.get("type", ""), Path("type"))
        errs.extend(_immutable_contents(obj, old, ("data",)))
        errs.extend(validate_secret(obj))
        return errs


class ServiceAccountStrategy(Strategy):
    """Upstream validates only ObjectMeta (done by the registry for every kind)."""
