"""``make bench``: every benchmark, then docs/BENCHMARKS.md.

    python -m bench.run --out docs/BENCHMARKS.md [--quick] [--seconds S] [--repeat R] [--dir DIR]
                        [--skip-floor] [--skip-etcd] [--skip-api] [--skip-control-plane] [--skip-proxy]
                        [--skip-pod-startup] [--skip-others]

Order: the store floors first (nothing else of ours running), then the API server benchmark, the end-to-end
control-plane benchmark (bench/control_plane.py, issue 3), the service proxy benchmark (bench/proxy.py, issue 5),
pod start-up on a real node (bench/pod_startup.py, issue 4) and the other components' benchmarks (scheduler
algorithm, container start). Servers and etcd are
stopped by PID and temporary directories removed even when a step fails; a failed step is reported in the
document instead of the figures, and the exit status is non-zero. A skipped step's section is kept from the
document being replaced (marked with the date it was measured), so a partial run loses no figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import os
import pathlib
import platform
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback

from bench import etcd_floor, floors
from bench.api import APIBench, Options
from bench.report import Machine, Report, Section, carry_over, render

REPO = pathlib.Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"`{head}`" + (" with uncommitted changes" if dirty else "") if head else "unknown"


def machine(load_before: tuple[float, float, float]) -> Machine:
    return Machine(cpus=os.cpu_count() or 0, cpu_model=cpu_model(), kernel=platform.release(),
                   python=platform.python_version(), sqlite=sqlite3.sqlite_version, load_before=load_before,
                   load_after=os.getloadavg())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=REPO / "docs" / "BENCHMARKS.md")
    ap.add_argument("--quick", action="store_true", help="short runs and small sizes: a smoke test, not figures")
    ap.add_argument("--seconds", type=float, default=None, help="length of each closed-loop run (default 3)")
    ap.add_argument("--repeat", type=int, default=None, help="runs of each goal figure, median kept (default 3)")
    ap.add_argument("--dir", type=pathlib.Path, default=None, help="where temporary data goes (a real disk)")
    ap.add_argument("--skip-floor", action="store_true")
    ap.add_argument("--skip-etcd", action="store_true")
    ap.add_argument("--skip-api", action="store_true")
    ap.add_argument("--skip-control-plane", action="store_true",
                    help="skip the end-to-end scheduler, Deployment and heartbeat benchmark (issue 3)")
    ap.add_argument("--skip-proxy", action="store_true", help="skip the service proxy benchmark (issue 5)")
    ap.add_argument("--skip-pod-startup", action="store_true", help="skip the pod start-up benchmark (issue 4)")
    ap.add_argument("--skip-others", action="store_true",
                    help="skip the scheduler algorithm and container-start benchmarks")
    return ap.parse_args(argv)


# Steps whose sections a skipped run keeps from the previous document: flag → the "## " titles they write.
KEPT_TITLES = {
    "skip_floor": ("Floor: SQLite",),
    "skip_etcd": ("Floor: etcd",),
    "skip_api": ("Goals (issue 2)", "API matrix"),
    "skip_control_plane": ("Control plane end to end",),
    "skip_proxy": ("Service proxy",),
    "skip_pod_startup": ("Pod start-up",),
    "skip_others": ("Other components",),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Own:
    """A benchmark that prints its own Markdown section on stdout (progress on stderr, passed through)."""

    title: str
    module: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    timeout: float
    needs_root: bool


def own_benchmarks(args: argparse.Namespace) -> list[Own]:
    """The Markdown-section benchmarks this run makes, in order; one whose module is not in the tree is left out
    (bench/proxy.py and bench/pod_startup.py are other engineers': called once they exist)."""
    repeat = str(args.repeat or 3)
    out = []
    if not args.skip_control_plane:
        out.append(Own("Control plane end to end: scheduler, Deployment, heartbeats (issue 3)",
                       "bench.control_plane", ("--repeat", repeat), ("--quick", "--repeat", "1"), 2400, False))
    if not args.skip_proxy:
        out.append(Own("Service proxy (issue 5)", "bench.proxy", (), ("--services", "100", "--samples", "20",
                                                                     "--rounds", "3"), 1200, True))
    if not args.skip_pod_startup:
        out.append(Own("Pod start-up on a real node (issue 4)", "bench.pod_startup", (), ("--quick",), 900, True))
    return [o for o in out if importlib.util.find_spec(o.module) is not None]


def run_own(own: Own, *, quick: bool) -> tuple[Section, bool]:
    """Run one of :func:`own_benchmarks`: (its section, whether it succeeded). A benchmark that fails after
    printing figures keeps them in the section (its own errors are listed there)."""
    cmd = [own.module, *(own.quick_args if quick else own.args)]
    line = "python -m " + shlex.join(cmd)
    if own.needs_root and os.geteuid() != 0:
        return Section(own.title, line, "Skipped: needs root."), True
    with subprocess.Popen([sys.executable, "-m", *cmd], cwd=REPO, stdout=subprocess.PIPE, text=True) as p:
        try:
            stdout, _ = p.communicate(timeout=own.timeout)
        except BaseException as e:                 # timeout, or this run stopped: let it stop its cluster
            stop_child(p)
            if not isinstance(e, subprocess.TimeoutExpired):
                raise
            return Section(own.title, line, f"Did not finish within {own.timeout:g} s."), False
    text = stdout.strip() or "No output."
    if p.returncode:
        text += f"\n\nExit status {p.returncode}: see the errors above and the run's standard error."
    return Section(own.title, line, text), p.returncode == 0


def stop_child(p: subprocess.Popen[str], *, grace: float = 90) -> None:
    """SIGTERM one benchmark process and give it ``grace`` seconds to stop the servers and agents it started
    (bench/control_plane.py stops its clusters by PID on SIGTERM); SIGKILL only after that."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# Other components' benchmarks, run as they are meant to be run, their output quoted in the report:
# (title, module and arguments, quick-mode arguments, timeout in s, needs root and an OCI runtime).
OTHERS = (
    ("Scheduler throughput (bench/scheduler_throughput.py)",
     ["bench.scheduler_throughput", "--uvloop", "--runs", "1"],
     ["bench.scheduler_throughput", "--uvloop", "--runs", "1", "--nodes", "500", "--pods", "1000"], 300, False),
    ("Container start (bench/oci_start.py)", ["bench.oci_start", "--n", "20"], ["bench.oci_start", "--n", "5"],
     300, True),
)


def run_other(cmd: list[str], *, timeout: float, needs_root: bool) -> tuple[str, str]:
    """(command line, its output or why it did not run) for one of :data:`OTHERS`."""
    line = "python -m " + shlex.join(cmd)
    if needs_root and (os.geteuid() != 0 or not (shutil.which("crun") or shutil.which("runc"))):
        return line, "skipped: needs root and crun or runc"
    try:
        p = subprocess.run([sys.executable, "-m", *cmd], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return line, f"did not finish within {timeout:g} s"
    out = (p.stdout + (p.stderr if p.returncode else "")).strip()
    tail = "\n".join(out.splitlines()[-40:])
    return line, tail if p.returncode == 0 else f"exit status {p.returncode}:\n{tail}"


def keep_skipped(text: str, args: argparse.Namespace) -> str:
    """The new document with the sections of skipped steps carried over from the one it replaces."""
    skipped = [k for k in KEPT_TITLES if getattr(args, k)]
    if not skipped or args.quick or not args.out.exists():     # a smoke test's document is not the record
        return text
    titles = [t for k in skipped for t in KEPT_TITLES[k]]
    flags = ", ".join("--" + k.replace("_", "-") for k in skipped)
    return carry_over(text, args.out.read_text(), titles=titles, why=f"skipped with {flags}")


def options(args: argparse.Namespace) -> Options:
    if args.quick:
        return Options(seconds=args.seconds or 1.0, paced_seconds=2.0, repeat=args.repeat or 1, big_list=1000,
                       watchers=100, data_dir=args.dir)
    return Options(seconds=args.seconds or 3.0, repeat=args.repeat or 3, data_dir=args.dir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)     # a stopped run stops its benchmarks' clusters too
    opts = options(args)
    t0 = time.monotonic()
    load_before = os.getloadavg()
    failed: list[str] = []
    command = "python -m bench.run " + shlex.join(sys.argv[1:] if argv is None else argv)
    report = Report(date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    command=command.strip(), commit=git_commit(), machine=machine(load_before), seconds=0.0,
                    options=", ".join(f"{f.name}={getattr(opts, f.name)}" for f in dataclasses.fields(opts)
                                      if f.name != "data_dir"))
    floor_seconds = 0.5 if args.quick else 2.0

    def step(name: str, fn: object) -> object:
        print(f"== {name}", flush=True)
        try:
            return fn()  # type: ignore[operator]
        except Exception:
            failed.append(f"{name}: {traceback.format_exc(limit=3)}")
            traceback.print_exc()
            return None

    if not args.skip_floor:
        report.sqlite_floor = step("SQLite floor", lambda: floors.measure(seconds=floor_seconds,
                                                                          base_dir=args.dir)) or {}
        for name, s in report.sqlite_floor.items():
            print(f"  {name:36} {s.rate:10,.0f}/s  p50 {s.p50 * 1e3:8.3f} ms  p99 {s.p99 * 1e3:8.3f} ms")
    if not args.skip_etcd:
        report.etcd_floor = step("etcd floor", lambda: etcd_floor.measure(seconds=floor_seconds,  # type: ignore
                                                                           base_dir=args.dir))
        for name, s in (report.etcd_floor or {}).items():
            print(f"  {name:36} {s.rate:10,.0f}/s  p50 {s.p50 * 1e3:8.3f} ms  p99 {s.p99 * 1e3:8.3f} ms")
    if not args.skip_api:
        report.api = step("API server", lambda: APIBench(opts).run_all())  # type: ignore[assignment]
    for own in own_benchmarks(args):
        got = step(own.title, lambda o=own: run_own(o, quick=args.quick))  # type: ignore[misc]
        if got is not None:
            section, ok = got  # type: ignore[misc]
            report.sections.append(section)
            print(section.markdown, flush=True)
            if not ok:
                failed.append(f"{own.title}: failed (its section says why)")
    if not args.skip_others:
        for title, cmd, quick_cmd, timeout, root in OTHERS:
            got = step(title, lambda c=quick_cmd if args.quick else cmd, t=timeout, r=root:  # type: ignore[misc]
                       run_other(c, timeout=t, needs_root=r))
            if got is not None:
                report.others.append((title, *got))  # type: ignore[misc]
                print(got[1], flush=True)  # type: ignore[index]
    report.seconds = time.monotonic() - t0
    report.machine = machine(load_before)
    report.skipped = frozenset(k.removeprefix("skip_") for k in KEPT_TITLES if getattr(args, k))
    text = render(report)
    if failed:
        text += "\n## Steps that failed\n\n" + "\n".join(f"```\n{f}\n```" for f in failed) + "\n"
    text = keep_skipped(text, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} in {report.seconds / 60:.1f} min")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
