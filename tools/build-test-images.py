#!/usr/bin/env python3
"""Build the project's test images and serve them from a local registry that mirrors ``docker.io``.

    .venv/bin/python tools/build-test-images.py                 # build, start the registry (port 5000), push,
                                                                # write /etc/pybernetes/registries.yaml (root)
    .venv/bin/python tools/build-test-images.py --layout DIR    # also write an OCI layout (for images import)
    .venv/bin/python tools/build-test-images.py --stop          # stop the registry this tool started

The registry is Debian's ``docker-registry`` on 127.0.0.1, storing under ``<data-dir>/test-registry`` and
running in the background until ``--stop``; running the tool again reuses it. The images are
``busybox:{1.36,latest}`` and ``nginx:{1.19.1,1.20,1.21,1.25,latest}`` (see ``pybernetes.testing.images``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import sys

from pybernetes.cli import default_data_dir
from pybernetes.testing import images as ti


def _running(state: pathlib.Path) -> ti.LocalRegistry | None:
    """The registry a previous run left (its pid file), if it still answers."""
    pid_file = state / "registry.pid"
    try:
        pid, port = (int(x) for x in pid_file.read_text().split())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    reg = ti.LocalRegistry(pid=pid, port=port, data_dir=state)
    return reg if ti._answers(f"{reg.url}/v2/") else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=pathlib.Path, default=None,
                    help="where the registry keeps its data (default <pybernetes data dir>/test-registry)")
    ap.add_argument("--port", type=int, default=5000, help="registry port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--registries-yaml", type=pathlib.Path, default=None,
                    help="write a registries.yaml mirroring docker.io here (default /etc/pybernetes/registries.yaml "
                         "as root, else <data-dir>/registries.yaml)")
    ap.add_argument("--allow-upstream", action="store_true",
                    help="let the agent fall back to the real docker.io when the mirror lacks an image")
    ap.add_argument("--layout", type=pathlib.Path, default=None, help="also write the images as an OCI layout")
    ap.add_argument("--stop", action="store_true", help="stop the registry and exit")
    args = ap.parse_args(argv)

    state = (args.data_dir or default_data_dir() / "test-registry").resolve()
    running = _running(state)
    if args.stop:
        if running is None:
            print("no test registry is running")
            return 0
        ti.stop_registry(running)
        (state / "registry.pid").unlink(missing_ok=True)
        print(f"stopped the test registry (pid {running.pid})")
        return 0

    try:
        images = ti.build_test_images()
        registry = running or ti.start_registry(state, port=args.port)
        asyncio.run(ti.push_images(registry, images))
    except ti.BuildError as e:
        print(f"build-test-images: {e}", file=sys.stderr)
        return 1
    yaml = args.registries_yaml or (pathlib.Path("/etc/pybernetes/registries.yaml") if os.geteuid() == 0
                                    else state / "registries.yaml")
    ti.write_registries_yaml(yaml, registry, disable_default_endpoint=not args.allow_upstream)
    if args.layout:
        ti.write_oci_layout(args.layout, images)
        print(f"OCI layout: {args.layout}")
    print(f"registry: {registry.url} (pid {registry.pid}, data {state})")
    print(f"registries.yaml: {yaml}")
    for img in images:
        print(f"  {img.name}  {img.target.digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
