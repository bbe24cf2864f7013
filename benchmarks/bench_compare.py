"""pytest-bytecode against coverage.py and SlipCover on real projects' test suites.

For each chosen project of ``tools/projects_diff.py`` (pinned from PyPI, its
sdist's tests, its left-out tests and flags: that tool's own set-up, reused
here) the project's test suite runs, each time in a fresh process, in every
one of these modes:

* ``plain``: ``python -m pytest`` (pytest-bytecode installed, not enabled);
* ``cov line``: ``python -m coverage run --source=DIRS -m pytest``,
  ``COVERAGE_CORE=ctrace`` (coverage.py's default core before 3.14);
* ``cov branch``: the same with ``--branch``;
* ``sysmon line`` and ``sysmon branch`` (3.12+ only): the two above with
  ``COVERAGE_CORE=sysmon``.  Before 3.14 coverage.py cannot measure branches
  with sys.monitoring and falls back to its default core, saying so
  (``no-sysmon``); the warm-up run detects that and the mode is then left
  out of the timed rounds (it would time ``cov branch`` again);
* ``slipcover branch``: ``python -m slipcover --branch --json --out FILE
  --source=DIRS -m pytest``;
* ``bytecode cold``: ``--bytecode-cov=PKG --bytecode-cov-report=`` with an
  empty pytest cache dir every run (``-o cache_dir=<fresh dir>``), so every
  module is instrumented anew;
* ``bytecode warm``: the same over a cache dir that the warm-up filled;
* ``bytecode warm, contexts`` (only with ``--modes``, see below): warm, with
  ``--bytecode-cov-context=test`` (per-test contexts), over a cache dir of
  its own that its warm-up filled.  Its run must also write contexts in the
  data file; the script prints its ratio to the warm run without contexts
  and both data files' sizes.

coverage.py runs with an empty ``--rcfile``, so that no project's own
coverage settings (attrs turns on branch coverage and parallel data files,
toolz omits its tests) change what is measured: every tool measures the same
package directories, less the test modules shipped inside them (toolz's),
which pytest imports with its assertion rewriting and pytest-bytecode does
not measure.

``coverage run`` rather than pytest-cov: coverage.py and SlipCover then wrap
the pytest process the same way (both start before pytest does, and both
measure the same directories), no coverage plugin sits in pytest's hooks, and
what is timed is coverage.py's own measurement and data file, not pytest-cov's
bookkeeping around them.  Every run also loads ``pdiff_recorder`` (the
projects tool's outcome recorder, which makes attrs' Hypothesis tests
deterministic) and writes its data file (``.coverage``, SlipCover's JSON,
``.bytecode-cov``) into a scratch directory; no report is printed.

Every run must record the plain run's number of tests and exit status and
write its data file.  A mode whose warm-up run does not (SlipCover 1.1.0 on
attrs: its import hook breaks the test package's relative imports) is left
out, its reason shown in the table; a timed run that does not stops the
script.

The modes run interleaved: one untimed warm-up of each mode (in order), then
N rounds of every mode.  Prints, per project, a Markdown table of the median
wall time, its ratio to plain, the spread (min-max) and the peak RSS of the
pytest process (``ru_maxrss`` from ``os.wait4``: coverage.py and SlipCover
run pytest in their own process), then the geometric mean of each mode's
ratios over the projects.

``--instructions`` also runs every mode once more under valgrind's callgrind,
after the timed rounds (so the caches are as warm as theirs; ``bc-cold``
still starts from an empty one), and prints the instructions each run
executed (``Ir``) and their ratio to plain's: the same for the same work
whatever else the machine does, where wall times on a shared machine swing
by tens of percent.  They leave out what a run waits for (disk, the
kernel's work on its behalf), so they complement the times rather than
replace them.  ``--runs 0 --instructions`` counts instructions only.

Usage::

    python benchmarks/bench_compare.py [--runs 5] [--projects a,b,c]
        [--modes default|all|a,b,c] [--work DIR] [--python PYTHON]
        [--timeout SECONDS] [--ref REV] [--instructions]

``--modes`` names the modes to run (keys of :data:`MODES`: ``plain``,
``cov-line``, ``cov-branch``, ``sysmon-line``, ``sysmon-branch``,
``slipcover``, ``bc-cold``, ``bc-warm``, ``bc-ctx``; ``plain`` is always
run, as the base of the ratios).  ``default`` is every mode but ``bc-ctx``;
``all`` adds it.  For the cost of contexts alone:
``--modes bc-warm,bc-ctx``.

pytest-bytecode is installed from a wheel of the working tree, built as the
script starts; ``--ref REV`` builds it from that commit instead (``git
archive``).

``--python`` runs the whole benchmark under that interpreter (the projects'
venvs are made from it).  The work directory has the layout of
``tools/projects_diff.py``'s (``<work>/cpXY/<project>/venv``, ``sdist``,
``run``); its default is a directory of its own, because coverage.py and
SlipCover are installed over the projects' pins here (``TOOL_PINS``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import projects_diff as pd  # noqa: E402

#: Installed into every project's venv over tools/projects/common.txt's pins.
TOOL_PINS = ("coverage==7.18.0", "slipcover==1.1.0")
#: The four whose suites run in a few seconds plain.  more-itertools (18-40 s
#: plain) and pyparsing (12-17 s plain, about 100 s under coverage.py's line
#: tracing) run too, with --projects, at several times the cost.
DEFAULT_PROJECTS = ("attrs", "typeguard", "toolz", "asyncstdlib")

#: key, label: in the order they run.
MODES = (
    ("plain", "plain pytest"),
    ("cov-line", "coverage.py line (ctrace)"),
    ("cov-branch", "coverage.py branch (ctrace)"),
    ("sysmon-line", "coverage.py line (sysmon)"),
    ("sysmon-branch", "coverage.py branch (sysmon)"),
    ("slipcover", "SlipCover --branch"),
    ("bc-cold", "pytest-bytecode, cold cache"),
    ("bc-warm", "pytest-bytecode, warm cache"),
    ("bc-ctx", "pytest-bytecode, warm cache, contexts"),
)
#: What runs without --modes: every mode but per-test contexts (the tables of
#: docs/benchmarks.md were measured without it).
DEFAULT_MODES = tuple(m for m, _ in MODES if m != "bc-ctx")
SYSMON_MODES = ("sysmon-line", "sysmon-branch")


def log(msg: str) -> None:
    print(msg, flush=True)


class Setup:
    """One project, set up: where things are."""

    def __init__(self, project: pd.Project, pdir: Path, venv: Path, rundir: Path, site: Path):
        self.project = project
        self.pdir = pdir
        self.python = pd.venv_python(venv)
        self.rundir = rundir
        self.site = site
        self.scratch = pdir / "bench"
        self.dirs = [str(self.source_dir(m)) for m in project.measure]
        # Test modules inside a measured package (toolz ships its tests) are
        # imported by pytest's assertion rewriter, which pytest-bytecode leaves
        # them to; coverage.py and SlipCover would measure them too.
        self.omit = ",".join(f"{d}/**/test_*.py" for d in self.dirs)

    def source_dir(self, dotted: str) -> Path:
        path = self.site / dotted.replace(".", "/")
        if path.is_dir():
            return path
        raise SystemExit(
            f"{self.project.name}: {path} is not a package directory (SlipCover measures "
            "directories: single-module projects such as six are not supported)"
        )


def prepare(project: pd.Project, work: Path, wheel: Path) -> Setup:
    pdir = work / project.name
    pdir.mkdir(parents=True, exist_ok=True)
    venv, rundir, site = pd.prepare_project(project, pdir, wheel)
    pd.check(
        pd.pip(pd.venv_python(venv), "install", "-q", *TOOL_PINS),
        "pip install " + " ".join(TOOL_PINS),
    )
    return Setup(project, pdir, venv, rundir, site)


def command(s: Setup, mode: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one run of ``mode``."""
    p = s.project
    caches = s.scratch / "caches"
    cache = caches / mode
    if mode == "bc-cold":
        shutil.rmtree(cache, ignore_errors=True)
    data = s.scratch / "data" / mode
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    pytest = ["-m", "pytest", "-q", "-p", "pdiff_recorder", "-o", f"cache_dir={cache}"]
    pytest += pd.selection_options(p)
    env = pd.run_env(p)
    env.pop("COVERAGE_CORE", None)
    env.pop("COVERAGE_PROCESS_START", None)
    env["PDIFF_OUT"] = str(data / "record.json")
    py = str(s.python)
    if mode == "plain":
        cmd = [py, *pytest]
    elif mode.startswith(("cov-", "sysmon-")):
        env["COVERAGE_CORE"] = "sysmon" if mode.startswith("sysmon") else "ctrace"
        # An empty rcfile: the project's own [tool.coverage] settings (attrs:
        # branch, parallel, patch=subprocess; toolz: tests omitted) would
        # make the modes measure different things.
        rcfile = s.scratch / "empty.coveragerc"
        rcfile.write_text("[run]\n")
        cov = [py, "-m", "coverage", "run", f"--rcfile={rcfile}"]
        cov.append(f"--data-file={data / '.coverage'}")
        cov += ["--source=" + ",".join(s.dirs), f"--omit={s.omit}"]
        if mode.endswith("branch"):
            cov.append("--branch")
        cmd = [*cov, *pytest]
    elif mode == "slipcover":
        out = data / "slipcover.json"
        # SlipCover's wrapping of pytest's assertion rewriting stays on: pytest
        # imports typeguard through its rewriting hook (a pytest11 plugin's
        # package), so without it SlipCover measures nothing there.
        sc = [py, "-m", "slipcover", "--branch", "--json", "--out", str(out)]
        # SlipCover's pytest11 plugin (for xdist workers) is imported before
        # pytest can rewrite it: pytest warns, an error under the projects'
        # filterwarnings=error (toolz), so that one warning is ignored here.
        quiet = ["-W", "ignore:Module already imported:pytest.PytestAssertRewriteWarning"]
        cmd = [*sc, "--source", ",".join(s.dirs), "--omit", s.omit, *pytest, *quiet]
    else:  # bytecode
        cmd = [py, *pytest, *(f"--bytecode-cov={m}" for m in p.measure)]
        cmd += ["--bytecode-cov-report=", f"--bytecode-cov-data={data / '.bytecode-cov'}"]
        if mode == "bc-ctx":
            cmd.append("--bytecode-cov-context=test")
    cmd += list(p.tests)
    return cmd, env


def run_once(s: Setup, mode: str, timeout: float, callgrind: bool = False) -> dict[str, Any]:
    """One timed run: seconds, peak RSS (MB), exit status, recorded outcome.
    ``callgrind``: run it under valgrind's callgrind instead, and count the
    instructions it executes (``Ir``; seconds and RSS are then valgrind's)."""
    cmd, env = command(s, mode)
    counts = s.scratch / f"callgrind.{mode}.out"
    if callgrind:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={counts}", *cmd]
    logfile = s.scratch / f"{mode}.log"
    with open(logfile, "w") as f:
        f.write("+ " + " ".join(cmd) + "\n")
        f.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=s.rundir, env=env, stdout=f, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    record = pd._load(s.scratch / "data" / mode / "record.json")
    text = logfile.read_text(errors="replace")
    data_file = s.scratch / "data" / mode / ".bytecode-cov"
    data_bytes = contexts = 0
    if mode.startswith("bc-") and data_file.exists():
        data_bytes = data_file.stat().st_size
        raw = pd._load(data_file) or {}
        contexts = len(raw.get("contexts", {}).get("names", []))
    instructions = 0
    if callgrind and counts.exists():
        totals = re.search(r"^(?:summary|totals): (\d+)", counts.read_text(), re.MULTILINE)
        counts.unlink()
        instructions = int(totals[1]) if totals else 0
    return {
        "instructions": instructions,
        "seconds": seconds,
        "rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "exit": proc.returncode,
        "record": record,
        "fallback": "no-sysmon" in text,
        "log": logfile,
        "data": sorted(p.name for p in (s.scratch / "data" / mode).iterdir()),
        "data_bytes": data_bytes,
        "contexts": contexts,
    }


class RunFailed(Exception):
    """A run that did not do what plain did: its mode is left out, the reason shown."""


def check_run(s: Setup, mode: str, res: dict[str, Any], base: dict[str, Any] | None) -> None:
    """Raise RunFailed for a run that did not do what plain did (a broken figure is
    no figure); SystemExit if plain itself failed."""
    label = f"{s.project.name} {mode}"
    rec = res["record"]
    if rec is None:
        tail = "\n".join(res["log"].read_text(errors="replace").splitlines()[-15:])
        raise RunFailed(
            f"{label}: no outcome recorded (exit {res['exit']}); log {res['log']}:\n{tail}"
        )
    if base is None:
        if rec["exitstatus"] != 0:
            raise SystemExit(f"{label}: the plain run did not pass; log {res['log']}")
        return
    if rec["exitstatus"] != base["exitstatus"] or len(rec["tests"]) != len(base["tests"]):
        raise RunFailed(
            f"{label}: exit {rec['exitstatus']} with {len(rec['tests'])} tests, against plain's "
            f"{base['exitstatus']} with {len(base['tests'])}; log {res['log']}"
        )
    if mode == "slipcover":
        out = pd._load(s.scratch / "data" / mode / "slipcover.json") or {}
        if not out.get("summary", {}).get("covered_lines"):
            raise RunFailed(f"{label}: SlipCover measured no line; log {res['log']}")
    wanted = {
        "cov": ".coverage",
        "sys": ".coverage",
        "sli": "slipcover.json",
        "bc-": ".bytecode-cov",
    }
    name = wanted.get(mode[:3])
    if name and name not in res["data"]:
        raise RunFailed(f"{label}: no data file {name} written; log {res['log']}")
    if mode == "bc-ctx" and not res["contexts"]:
        raise RunFailed(f"{label}: no context in the data file; log {res['log']}")


def bench_project(
    s: Setup, modes: list[str], runs: int, timeout: float, instructions: bool = False
) -> dict[str, Any]:
    s.scratch.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(s.scratch / "caches", ignore_errors=True)
    base = None
    fallback: list[str] = []
    ntests = 0
    failed: dict[str, str] = {}
    for mode in modes:  # warm-up: .pyc files, page cache, bytecode-warm's cache
        res = run_once(s, mode, timeout)
        try:
            check_run(s, mode, res, base)
        except RunFailed as exc:
            if mode == "plain":
                raise SystemExit(str(exc)) from None
            log(f"  warm-up {mode:<14} FAILED, left out: {exc}")
            failed[mode] = str(exc).splitlines()[0].split("; log ")[0]
            continue
        if mode == "plain":
            base = res["record"]
            ntests = len(base["tests"])
        log(f"  warm-up {mode:<14} {res['seconds']:7.2f} s {res['rss_mb']:6.0f} MB")
        if res["fallback"] and mode in SYSMON_MODES:
            fallback.append(mode)
    timed = [m for m in modes if m not in fallback and m not in failed]
    # bc-warm's cache must be filled by a bytecode run over the same cache dir:
    # the warm-up of bc-warm did that (cold-to-warm), so its timed runs are warm.
    samples: dict[str, list[tuple[float, float]]] = {m: [] for m in timed}
    #: pytest-bytecode's data files of the last round: bytes, contexts.
    files: dict[str, dict[str, int]] = {}
    for i in range(runs):
        for mode in timed:
            res = run_once(s, mode, timeout)
            try:
                check_run(s, mode, res, base)
            except RunFailed as exc:
                raise SystemExit(str(exc)) from None
            samples[mode].append((res["seconds"], res["rss_mb"]))
            if mode.startswith("bc-"):
                files[mode] = {"bytes": res["data_bytes"], "contexts": res["contexts"]}
        log(f"  round {i + 1}/{runs}: " + ", ".join(f"{m} {samples[m][-1][0]:.2f}" for m in timed))
    counted: dict[str, int] = {}
    if instructions:  # once per mode, after the timed rounds: caches as warm as theirs
        for mode in timed:
            res = run_once(s, mode, timeout * CALLGRIND_SLOWER, callgrind=True)
            try:
                check_run(s, mode, res, base)
            except RunFailed as exc:
                raise SystemExit(f"under callgrind: {exc}") from None
            if not res["instructions"]:
                raise SystemExit(f"{s.project.name} {mode}: no instruction total from callgrind")
            counted[mode] = res["instructions"]
            log(f"  callgrind {mode:<12} {counted[mode]:,} instructions")
    return {
        "instructions": counted,
        "tests": ntests,
        "samples": samples,
        "fallback": fallback,
        "failed": failed,
        "files": files,
    }


#: How much longer a run takes under callgrind than on its own, at most.
CALLGRIND_SLOWER = 100


def summarise(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    rows = {}
    plain = statistics.median(t for t, _ in result["samples"]["plain"])
    for mode, values in result["samples"].items():
        times = [t for t, _ in values]
        med = statistics.median(times)
        rows[mode] = {
            "median": med,
            "ratio": med / plain,
            "min": min(times),
            "max": max(times),
            "rss": max(r for _, r in values),
        }
    return rows


def print_instructions(results: dict[str, dict[str, Any]]) -> None:
    """Per project, each mode's instructions and their ratio to plain's;
    then the geometric mean of each mode's ratios."""
    labels = dict(MODES)
    ratios: dict[str, list[float]] = {}
    for name, result in results.items():
        counted = result["instructions"]
        log(f"\n{name} ({result['tests']} tests), instructions (callgrind Ir), one run each\n")
        log("| mode | instructions | ratio |\n| --- | --- | --- |")
        for mode, ir in counted.items():
            ratio = ir / counted["plain"]
            ratios.setdefault(mode, []).append(ratio)
            log(f"| {labels[mode]} | {ir:,} | ×{ratio:.3f} |")
    log(f"\ngeometric mean of the instruction ratios over {len(results)} projects:")
    for mode, values in ratios.items():
        log(f"  {labels[mode]:<30} ×{geomean(values):.3f}  ({len(values)} projects)")


def print_tables(results: dict[str, dict[str, Any]], runs: int) -> None:
    labels = dict(MODES)
    ratios: dict[str, list[float]] = {}
    for name, result in results.items():
        p = next(p for p in pd.PROJECTS if p.name == name)
        rows = summarise(result)
        log("")
        log(f"{p.name} {p.version} ({result['tests']} tests), median of {runs}")
        log("")
        log("| mode | median | ratio | min-max | peak RSS |")
        log("| --- | --- | --- | --- | --- |")
        for mode, row in rows.items():
            log(
                f"| {labels[mode]} | {row['median']:.2f} s | ×{row['ratio']:.2f} "
                f"| {row['min']:.2f}-{row['max']:.2f} | {row['rss']:.0f} MB |"
            )
            ratios.setdefault(mode, []).append(row["ratio"])
        for mode, why in result["failed"].items():
            log(f"| {labels[mode]} | failed: {why} | | | |")
        for mode in result["fallback"]:
            log(f"| {labels[mode]} | = coverage.py branch (ctrace): no-sysmon fallback | | | |")
        if "bc-ctx" in rows and "bc-warm" in rows:
            ctx, warm = rows["bc-ctx"]["median"], rows["bc-warm"]["median"]
            ratios.setdefault("ctx/warm", []).append(ctx / warm)
            files = result.get("files", {})
            sizes = ", ".join(
                f"{mode} {files[mode]['bytes']:,} bytes"
                for mode in ("bc-warm", "bc-ctx")
                if mode in files
            )
            log("")
            log(
                f"contexts / warm without: ×{ctx / warm:.3f} ({ctx - warm:+.2f} s); data file: "
                f"{sizes}; {files.get('bc-ctx', {}).get('contexts', 0):,} contexts"
            )
    log("")
    labels["ctx/warm"] = "contexts / warm without"
    width = max(30, *(len(labels[mode]) for mode in ratios))
    log(f"geometric mean of the ratios over {len(results)} projects:")
    for mode, values in ratios.items():
        log(f"  {labels[mode]:<{width}} ×{geomean(values):.2f}  ({len(values)} projects)")
    ratios.pop("ctx/warm", None)
    common = [n for n, r in results.items() if set(r["samples"]) == set(ratios)]
    if 0 < len(common) < len(results):
        log(f"over the {len(common)} projects every mode ran ({', '.join(common)}):")
        for mode in ratios:
            values = [summarise(results[n])[mode]["ratio"] for n in common]
            log(f"  {labels[mode]:<{width}} ×{geomean(values):.2f}")


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--runs",
        type=int,
        default=5,
        help="timed runs per mode; 0: set up only (default: %(default)s)",
    )
    ap.add_argument(
        "--projects",
        default=",".join(DEFAULT_PROJECTS),
        help="comma-separated names from tools/projects_diff.py (default: %(default)s)",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=ROOT / ".cache" / "bench-compare",
        help="work directory, laid out as tools/projects_diff.py's (default: %(default)s)",
    )
    ap.add_argument(
        "--modes",
        default="default",
        help="default (every mode but bc-ctx), all, or comma-separated keys of MODES; "
        "plain always runs (default: %(default)s)",
    )
    ap.add_argument("--python", default=sys.executable, help="interpreter (default: this one)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per pytest run")
    ap.add_argument("--ref", help="install this commit of pytest-bytecode (default: working tree)")
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="also run every mode once under valgrind's callgrind and print the instructions "
        "each executed (load-independent; with --runs 0: only those)",
    )
    args = ap.parse_args(argv)
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")

    if os.path.abspath(args.python) != os.path.abspath(sys.executable):
        if os.environ.get("BENCH_COMPARE_REEXEC"):
            raise SystemExit(f"--python {args.python}: re-executed as {sys.executable}")
        os.environ["BENCH_COMPARE_REEXEC"] = "1"
        argv_now = sys.argv[1:] if argv is None else argv
        os.execv(args.python, [args.python, __file__, *argv_now])

    known = {p.name: p for p in pd.PROJECTS}
    names = [n.strip() for n in args.projects.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown project(s): {', '.join(unknown)} (known: {', '.join(known)})")
    if args.modes == "default":
        chosen = set(DEFAULT_MODES)
    elif args.modes == "all":
        chosen = {m for m, _ in MODES}
    else:
        chosen = {m.strip() for m in args.modes.split(",") if m.strip()} | {"plain"}
        wrong = chosen - {m for m, _ in MODES}
        if wrong:
            ap.error(f"unknown mode(s): {', '.join(sorted(wrong))}")
    modes = [
        m
        for m, _ in MODES
        if m in chosen and (sys.version_info >= (3, 12) or m not in SYSMON_MODES)
    ]

    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    work = args.work.resolve() / tag
    work.mkdir(parents=True, exist_ok=True)
    log(
        f"Python {sys.version.split()[0]} ({platform.platform()}, "
        f"{os.cpu_count()} CPUs), work dir {work}"
    )
    source = ROOT
    if args.ref is not None:
        source = work / "source"
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.ref], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    head = pd.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.ref or "HEAD"]).stdout
    changed = pd.run(["git", "-C", str(ROOT), "status", "--porcelain", "pytest_bytecode"]).stdout
    log(
        f"pytest-bytecode from {head.strip()}"
        + (f" + {len(changed.splitlines())} changed files" if args.ref is None and changed else "")
    )
    wheel = pd.build_wheel(source, work)
    setups = []
    for name in names:
        t0 = time.perf_counter()
        setups.append(prepare(known[name], work, wheel))
        log(f"{name} setup: {time.perf_counter() - t0:.1f} s")
    versions = pd.run([str(setups[0].python), "-m", "pip", "list", "--format=json"]).stdout
    pins = {d["name"].lower(): d["version"] for d in json.loads(versions)}
    tools = ", ".join(
        f"{n} {pins.get(n, '?')}" for n in ("pytest", "coverage", "slipcover", "pytest-bytecode")
    )
    log(tools)
    if args.runs == 0 and not args.instructions:
        return 0
    results: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    for s in setups:
        log(f"{s.project.name}: {len(modes)} modes, 1 warm-up + {args.runs} runs each")
        results[s.project.name] = bench_project(
            s, modes, args.runs, args.timeout, args.instructions
        )
    log(f"\nPython {sys.version.split()[0]}; {tools}; {time.perf_counter() - start:.0f} s")
    if args.runs:
        print_tables(results, args.runs)
    if args.instructions:
        print_instructions(results)
    out = work / "bench-compare.json"
    out.write_text(
        json.dumps({"python": sys.version, "tools": tools, "results": results}, indent=1)
    )
    log(f"\nraw samples: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
