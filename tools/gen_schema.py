#!/usr/bin/env python3
"""Regenerate ``src/pybernetes/api/generated/schema.json`` from the shared upstream API facts.

The input is ``../shared/k8s-api/schema.json`` (see its README: kubernetes/api 10b39a39, apimachinery eed236ce,
apiextensions-apiserver 1aa2717a, metrics 4edfa3b8 — upstream master, July 2026). We keep every message of the
GA and beta packages (alpha-only packages are skipped, as DESIGN.md asks) and write compact JSON so the package
loads it in a few milliseconds.

    python3 tools/gen_schema.py [--source PATH]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "k8s-api" / "schema.json"
OUT = ROOT / "src" / "pybernetes" / "api" / "generated" / "schema.json"
ALPHA = re.compile(r"\.v\d+alpha\d+$")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", type=pathlib.Path, default=DEFAULT_SOURCE)
    args = ap.parse_args()
    src = json.loads(args.source.read_text())
    keep_pkgs = {name for name in src["packages"] if not ALPHA.search(name)}
    messages = {name: msg for name, msg in src["messages"].items() if msg["package"] in keep_pkgs}
    kinds = {gvk: msg for gvk, msg in src["kinds"].items() if msg in messages}
    out = {
        "format": src["format"],
        "sources": src["sources"],
        "packages": {name: src["packages"][name] for name in sorted(keep_pkgs)},
        "specialJSON": {k: v for k, v in src["specialJSON"].items() if k in messages},
        "kinds": kinds,
        "kindsInEveryGroupVersion": src["kindsInEveryGroupVersion"],
        "messages": messages,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(messages)} messages, {len(kinds)} kinds, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
