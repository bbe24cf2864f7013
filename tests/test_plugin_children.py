"""Counts from child processes (``--bytecode-cov-subprocess``).

Each test runs a project's test through ``pytest --bytecode-cov`` in a fresh
process; the test starts child processes in one way (``python -m``, a
script, a console-script-like executable, multiprocessing with each start
method, ``os.fork``, ``pytest --forked``) that call ``work(5)`` and
``work(7)``.  The counts of ``work`` in the run's data file must equal those
of a run that calls the two in the test process itself: the child's counts
are collected whole, once, and nothing the child inherited from its parent
is counted again.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from bc_helpers import load_json, make_project

from pytest_bytecode import children
from pytest_bytecode.collector import Collector
from pytest_bytecode.sources import Selector

pytestmark = pytest.mark.subprocess

WORK = """
    def work(n):
        total = 0
        for i in range(n):
            if i % 3 == 0:
                total += i
            else:
                total -= 1
        return total
"""

MAIN = """
    import sys

    from pkg.work import work

    for arg in sys.argv[1:]:
        print(work(int(arg)))
"""

TESTS = """
    import multiprocessing
    import os
    import subprocess
    import sys
    from pathlib import Path

    SRC = str(Path(__file__).resolve().parents[1] / "src")


    def test_in_process():
        from pkg.work import work

        assert (work(5), work(7)) == (0, 5)


    def test_dash_m():
        for n in ("5", "7"):
            out = subprocess.run(
                [sys.executable, "-m", "pkg", n], cwd=SRC, capture_output=True, text=True
            )
            assert out.returncode == 0, out.stderr
        assert out.stdout == "5\\n"


    def test_script(tmp_path):
        script = tmp_path / "run_work.py"
        script.write_text(
            f"import sys\\nsys.path.insert(0, {SRC!r})\\n"
            "from pkg.work import work\\nprint(work(5), work(7))\\n"
        )
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        assert out.stdout == "0 5\\n", out.stderr


    def test_console_script(tmp_path):
        # What pip writes for a console entry point: the interpreter in the
        # shebang, an import and a call.
        script = tmp_path / "work-cli"
        script.write_text(
            f"#!{sys.executable}\\nimport sys\\nsys.path.insert(0, {SRC!r})\\n"
            "from pkg.__main__ import work\\nsys.exit(0 if work(5) + work(7) == 5 else 1)\\n"
        )
        script.chmod(0o755)
        assert subprocess.run([str(script)]).returncode == 0


    def _pool(method):
        from pkg.work import work

        with multiprocessing.get_context(method).Pool(2) as pool:
            assert sorted(pool.map(work, [5, 7])) == [0, 5]


    def _process(method):
        from pkg.work import work

        ctx = multiprocessing.get_context(method)
        procs = [ctx.Process(target=work, args=(n,)) for n in (5, 7)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            assert p.exitcode == 0


    def test_pool_fork():
        _pool("fork")


    def test_pool_spawn():
        _pool("spawn")


    def test_pool_forkserver():
        _pool("forkserver")


    def test_process_fork():
        _process("fork")


    def test_process_spawn():
        _process("spawn")


    def test_process_forkserver():
        _process("forkserver")


    def test_os_fork():
        from pkg.work import work

        for n in (5, 7):
            pid = os.fork()
            if pid == 0:
                work(n)
                os._exit(0)
            assert os.waitpid(pid, 0)[1] == 0


    def test_os_fork_sys_exit():
        from pkg.work import work

        pid = os.fork()
        if pid == 0:
            try:
                work(5)
                work(7)
            finally:
                os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0


    def test_forked_in_process():
        # Under pytest --forked the test itself runs in a forked child.
        from pkg.work import work

        assert (work(5), work(7)) == (0, 5)
"""

PROJECT = {
    "src/pkg/__init__.py": "",
    "src/pkg/work.py": WORK,
    "src/pkg/__main__.py": MAIN,
    "tests/test_children.py": TESTS,
}

FLAGS = ["--bytecode-cov=pkg", "--bytecode-cov-report=", "-p", "no:randomly"]
#: Seconds a run may take: a child that never ends fails the test, not the suite.
TIMEOUT = 120


def _work_counts(pytester: pytest.Pytester) -> dict[str, Any]:
    """The counts of ``work`` in the run's data file (instructions, branches)."""
    raw = load_json(pytester.path / ".bytecode-cov")
    (code,) = [
        c for c in raw["files"]["src/pkg/work.py"]["code_objects"] if c["qualname"] == "work"
    ]
    return {"counts": code["counts"], "branches": code["branches"]}


def _run(pytester: pytest.Pytester, test: str, *extra: str) -> dict[str, Any]:
    result = pytester.runpytest_subprocess(
        *FLAGS, *extra, f"tests/test_children.py::{test}", timeout=TIMEOUT
    )
    result.assert_outcomes(passed=1)
    return _work_counts(pytester)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    make_project(pytester, PROJECT)
    return pytester


@pytest.fixture
def reference(project: pytest.Pytester) -> dict[str, Any]:
    """``work(5)`` and ``work(7)`` run in the test process."""
    counts = _run(project, "test_in_process")
    assert max(counts["counts"]) > 1  # it ran
    return counts


WAYS = [
    "test_dash_m",
    "test_script",
    "test_console_script",
    "test_os_fork",
    "test_os_fork_sys_exit",
    *(
        f"test_{kind}_{method}"
        for kind in ("pool", "process")
        for method in ("fork", "spawn", "forkserver")
    ),
]


def _can(way: str) -> bool:
    methods = multiprocessing.get_all_start_methods()
    return not any(way.endswith(m) and m not in methods for m in ("fork", "spawn", "forkserver"))


@pytest.mark.parametrize("way", WAYS)
def test_child_counts_equal_in_process_counts(
    project: pytest.Pytester, reference: dict[str, Any], way: str
) -> None:
    if not _can(way) or (way.startswith("test_os_fork") and not hasattr(os, "fork")):
        pytest.skip(f"{way}: no such start method here (POSIX)")
    assert _run(project, way, "--bytecode-cov-subprocess") == reference


def test_pytest_forked(project: pytest.Pytester, reference: dict[str, Any]) -> None:
    if not hasattr(os, "fork"):
        pytest.skip("pytest --forked needs os.fork (POSIX)")
    probe = project.runpytest_subprocess(
        "-p", "no:bytecode", "--forked", "tests/test_children.py::test_in_process", timeout=TIMEOUT
    )
    if probe.parseoutcomes().get("passed") != 1:
        # pytest 9.2's reports hold a NodeId, which pytest-forked cannot marshal.
        pytest.skip(f"pytest-forked cannot run a test on pytest {pytest.__version__}")
    counts = _run(project, "test_forked_in_process", "--forked", "--bytecode-cov-subprocess")
    assert counts == reference
    # Without child measurement, the forked test's counts are lost.
    lost = _run(project, "test_forked_in_process", "--forked")
    assert max(lost["counts"]) == 0


def test_children_not_measured_by_default(project: pytest.Pytester) -> None:
    counts = _run(project, "test_dash_m")
    assert max(counts["counts"]) == 0
    assert not list(project.path.glob(".bytecode-cov-children-*"))


def test_folder_removed_and_environment_restored(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
        import os

        def pytest_unconfigure(config):
            with open("env-after.txt", "w") as f:
                f.write(repr((os.environ.get("PYTEST_BYTECODE_CHILDREN"),
                              os.environ.get("PYTHONPATH"))))
        """
    )
    _run(project, "test_dash_m", "--bytecode-cov-subprocess")
    assert not list(project.path.glob(".bytecode-cov-children-*"))
    children, path = eval((project.path / "env-after.txt").read_text())
    assert children is None
    assert path is None or "_boot" not in path


def test_under_xdist(project: pytest.Pytester, reference: dict[str, Any]) -> None:
    """Workers inherit the environment: each worker's own measurement
    stays one, and the children of tests run in workers are collected by
    the controller."""
    if importlib.util.find_spec("xdist") is None:
        pytest.skip("pytest-xdist: not installed on this platform")
    result = project.runpytest_subprocess(
        *FLAGS,
        "-n",
        "2",
        "--bytecode-cov-subprocess",
        "tests/test_children.py::test_dash_m",
        "tests/test_children.py::test_pool_spawn",
        timeout=TIMEOUT,
    )
    result.assert_outcomes(passed=2)
    counts = _work_counts(project)
    doubled = [2 * c for c in reference["counts"]]
    assert counts["counts"] == doubled


def test_existing_sitecustomize_still_runs(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The boot ``sitecustomize`` stands in front of the child's own one,
    which still runs."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.my_site_ran = 'ran'\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    project.makepyfile(
        test_site="""
        import subprocess, sys

        def test_site():
            out = subprocess.run(
                [sys.executable, "-c", "import sys; print(getattr(sys, 'my_site_ran', None))"],
                capture_output=True, text=True,
            )
            assert out.stdout == "ran\\n", out.stderr
        """
    )
    result = project.runpytest_subprocess(
        *FLAGS, "--bytecode-cov-subprocess", "test_site.py", timeout=TIMEOUT
    )
    result.assert_outcomes(passed=1)


def test_collect_only_leaves_no_folder(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        *FLAGS, "--bytecode-cov-subprocess", "--collect-only", "tests", timeout=TIMEOUT
    )
    assert result.ret == 0
    assert not list(project.path.glob(".bytecode-cov-children-*"))


@pytest.mark.usefixtures("_isolated_children_state")
def test_stop_twice_puts_the_outer_measurement_back(tmp_path: Path) -> None:
    """The end of the run and its cleanup both stop it: the measurement it
    stood in front of (an outer run's, a booted child's) comes back once."""
    outer = object()
    children._counting = outer  # type: ignore[assignment]
    run = children.ChildRun.start(
        tmp_path / ".bytecode-cov", Selector(str(tmp_path)), None, Collector(str(tmp_path))
    )
    assert os.environ[children.ENV] == str(run.folder)
    assert run.folder.is_dir()
    run.stop()
    run.stop()
    assert children._counting is outer
    assert children.ENV not in os.environ
    run.remove()
    assert not run.folder.exists()


@pytest.mark.usefixtures("_isolated_children_state")
def test_os_exit_ends_the_process_whatever_the_save_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[int] = []

    class Exploding:
        def save(self) -> None:
            raise KeyboardInterrupt

    def fake_exit(status: int) -> None:
        exits.append(status)

    monkeypatch.setattr(children, "_real_exit", fake_exit)
    children._counting = Exploding()  # type: ignore[assignment]
    with contextlib.suppress(KeyboardInterrupt):
        children._exit(3)
    assert exits == [3]


@pytest.mark.usefixtures("_isolated_children_state")
def test_only_the_controllers_own_workers_join_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pytest started by a test inside an xdist worker inherits
    ``PYTEST_XDIST_WORKER``; it is not its controller's worker."""
    (tmp_path / children.SETTINGS).write_text(json.dumps({"pid": os.getppid()}))
    monkeypatch.setenv(children.ENV, str(tmp_path))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert children.controller_folder() == tmp_path
    (tmp_path / children.SETTINGS).write_text(json.dumps({"pid": os.getpid()}))
    assert children.controller_folder() is None
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert children.controller_folder() is None


@pytest.fixture
def _isolated_children_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's process-wide state, put back after the test (the
    process's os._exit and fork hooks stay, doing nothing without it)."""
    monkeypatch.setattr(children, "_counting", None)
    for name in (children.ENV, "PYTHONPATH"):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
