"""Kubeconfig files for the admin and for components, with credentials embedded (as k3s writes them)."""

from __future__ import annotations

import base64
import os
import pathlib

import yaml


def render(*, server: str, ca_pem: bytes, cert_pem: bytes | None = None, key_pem: bytes | None = None,
           token: str | None = None, name: str = "default") -> str:
    user: dict[str, str] = {}
    if cert_pem is not None and key_pem is not None:
        user["client-certificate-data"] = base64.b64encode(cert_pem).decode()
        user["client-key-data"] = base64.b64encode(key_pem).decode()
    if token:
        user["token"] = token
    doc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server,
                                                 "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write(path: pathlib.Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.replace(tmp, path)
