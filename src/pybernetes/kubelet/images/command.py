"""``pybernetes images``: the node's image store from the command line (like ``crictl images`` / ``ctr import``).

    pybernetes images import FILE... [--root DIR] [--name REPOSITORY] [--platform linux/arm64]
    pybernetes images list [--root DIR] [--quiet]
    pybernetes images pull IMAGE [--root DIR] [--registry-config PATH]
    pybernetes images rm IMAGE... [--root DIR]

``--root`` is the agent's store, ``<agent data dir>/images`` (``/var/lib/pybernetes/agent/images`` as root),
so an image imported on an air-gapped node is used by its pods as if it had been pulled. Exit codes: 0 done,
1 failed (the message says why), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import sys


def default_root() -> pathlib.Path:
    from pybernetes.cli import default_data_dir
    return default_data_dir() / "agent" / "images"


def configure_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="images_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=pathlib.Path, default=None,
                        help="image store (default: <data-dir>/agent/images, /var/lib/pybernetes/agent/images "
                             "as root)")
    i = sub.add_parser("import", parents=[common], help="load OCI-layout or docker-save tarballs")
    i.add_argument("files", nargs="+", type=pathlib.Path, metavar="FILE")
    i.add_argument("--name", default="", help="repository for images the archive names only by tag (or not)")
    i.add_argument("--platform", default="", help="platform to take from multi-platform images (default: this "
                                                   "machine's)")
    ls = sub.add_parser("list", parents=[common], help="list stored images")
    ls.add_argument("--quiet", "-q", action="store_true", help="image IDs only")
    pull = sub.add_parser("pull", parents=[common], help="pull an image into the store")
    pull.add_argument("image")
    pull.add_argument("--registry-config", type=pathlib.Path, default=None,
                      help="registries.yaml (default /etc/pybernetes/registries.yaml if present)")
    rm = sub.add_parser("rm", parents=[common], help="remove images (and content no other image uses)")
    rm.add_argument("images", nargs="+", metavar="IMAGE")


def human_size(n: int) -> str:
    """Sizes as crictl prints them (decimal units, 3 significant digits)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{n}B"
        n = n / 1000  # type: ignore[assignment]
    return f"{n}B"


def _split(name: str) -> tuple[str, str]:
    repo, sep, _ = name.partition("@")
    if sep:
        return repo, "<none>"
    slash = repo.rfind("/")
    colon = repo.rfind(":")
    return (repo[:colon], repo[colon + 1:]) if colon > slash else (repo, "<none>")


def run(args: argparse.Namespace) -> int:
    from pybernetes.kubelet.images.store import ImageStore, StoreError
    root: pathlib.Path = args.root or default_root()
    try:
        store = ImageStore(root)
        if args.images_command == "import":
            return _import(store, args)
        if args.images_command == "list":
            return _list(store, quiet=args.quiet)
        if args.images_command == "pull":
            return asyncio.run(_pull(store, args))
        if args.images_command == "rm":
            return _rm(store, args.images)
    except (StoreError, OSError) as e:
        print(f"pybernetes images: {e}", file=sys.stderr)
        return 1
    return 2


def _import(store, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from pybernetes.kubelet.images.importer import ArchiveError, import_archive
    from pybernetes.kubelet.images.manifest import ManifestError
    from pybernetes.kubelet.images.platform import Platform
    from pybernetes.kubelet.images.store import StoreError
    from pybernetes.kubelet.images.unpack import UnpackError
    try:
        platform = Platform.parse(args.platform) if args.platform else None
    except ValueError as e:
        print(f"pybernetes images import: {e}", file=sys.stderr)
        return 2
    failed = 0
    for f in args.files:
        try:
            refs = import_archive(store, f, base_name=args.name, platform=platform)
        except (ArchiveError, ManifestError, StoreError, UnpackError, OSError) as e:
            print(f"pybernetes images import: {e}", file=sys.stderr)
            failed += 1
            continue
        for ref in refs:
            print(f"imported {ref.name} ({ref.id.rpartition('@')[2]})")
    return 1 if failed else 0


def _list(store, *, quiet: bool) -> int:  # type: ignore[no-untyped-def]
    rows = []
    for img in store.images():
        for name in img.names:
            repo, tag = _split(name)
            rows.append((repo, tag, img.id[7:20], human_size(img.size)))
    if quiet:
        for img in store.images():
            print(img.id)
        return 0
    header = ("IMAGE", "TAG", "IMAGE ID", "SIZE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, *sorted(rows)]:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


async def _pull(store, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from pybernetes.kubelet.images import config
    from pybernetes.kubelet.images.puller import ImagePuller
    from pybernetes.kubelet.runtime.interface import ImagePullFailure
    try:
        registries = config.load(args.registry_config)
    except config.ConfigError as e:
        print(f"pybernetes images pull: {e}", file=sys.stderr)
        return 2
    puller = ImagePuller(store, registries=registries)
    try:
        ref = await puller.pull_image(args.image)
    except ImagePullFailure as e:
        print(f"pybernetes images pull: {e}", file=sys.stderr)
        return 1
    finally:
        await puller.close()
    print(f"pulled {ref.name} ({ref.id})")
    return 0


def _rm(store, images: list[str]) -> int:  # type: ignore[no-untyped-def]
    missing = 0
    for name in images:
        if store.remove(name):
            print(f"deleted {name}")
        else:
            print(f"pybernetes images rm: {name}: no such image", file=sys.stderr)
            missing += 1
    store.prune()
    return 1 if missing else 0
