"""Counts from child Python processes: subprocess, multiprocessing, os.fork.

A run with ``--bytecode-cov-subprocess`` makes a *children folder* next to
its data file, writes the run's measurement settings there
(``settings.json``: the resolved SOURCE selection, the rootdir, the
instrumentation cache) and, for as long as the run lasts, sets two
environment variables that every Python process it starts inherits:

* ``PYTEST_BYTECODE_CHILDREN``: the children folder;
* ``PYTHONPATH``, with ``pytest_bytecode/_boot`` put first: its only file,
  ``sitecustomize.py``, which Python's ``site`` imports at start-up.

Nothing is installed into site-packages: a Python process not started by
such a run never sees the folder on its path, and the ``sitecustomize`` does
nothing without the variable (one environment lookup).  With it, the child
takes the ``_boot`` folder off ``sys.path``, runs the ``sitecustomize`` it
hid (if any), and calls :func:`boot`: the import hook measures the same files
as the run does, from the same cache.  When the child ends, its counts go to
a file of its own in the folder (``child-<pid>-<random>.json``, the data file
format): at ``sys.exit`` and normal ends (``atexit``) and at ``os._exit``
(multiprocessing's forked workers end so); a multiprocessing pool worker
also before it sends back each task's result, since ``Pool.terminate()``
(the end of a pool's ``with`` block) kills its workers with SIGTERM, which
runs nothing.  No signal handler is installed: a Python-level one can miss a
signal that arrives while the process blocks, and hang it.

Forked children (``os.fork``, multiprocessing's ``fork`` and ``forkserver``
start methods, ``pytest --forked``) inherit the instrumented code *and* the
counts so far: at the fork (``os.register_at_fork``) the child takes the raw
probe state as its zero, and writes only what it ran after it.

At the end of the run, :func:`ChildRun.collect` reads every child file, and
the run adds their counts to its own (:func:`pytest_bytecode.data.merge_into`,
summed).  A child of another Python version, a file that cannot be read and a
child still running at that point are said in the run's closing lines.

Under pytest-xdist every worker inherits the variables: a worker that booted
a child measurement hands it to its own run (:func:`adopt_booted`), which
measures as a worker does, and the workers' own children write into the
controller's folder.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from pytest_bytecode import engine
from pytest_bytecode.cache import InstrumentationCache
from pytest_bytecode.collector import Collector
from pytest_bytecode.data import CovData, DataError, load, merge_into, to_json
from pytest_bytecode.engine import RawState
from pytest_bytecode.engine.records import field_names
from pytest_bytecode.files import write_atomic
from pytest_bytecode.sources import Selector

#: The children folder of the run that started this process.
ENV = "PYTEST_BYTECODE_CHILDREN"
#: The folder whose ``sitecustomize.py`` boots a child.
BOOT_DIR = str(Path(__file__).resolve().parent / "_boot")
SETTINGS = "settings.json"

_SET_FIELDS = ("files", "top_names")  # frozensets among Selector's fields


def _selector_to_json(selector: Selector) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name in field_names(Selector):
        value = getattr(selector, name)
        raw[name] = sorted(value) if name in _SET_FIELDS else value
    return raw


def _selector_from_json(raw: dict[str, Any]) -> Selector:
    fields: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _SET_FIELDS:
            fields[name] = frozenset(value)
        elif isinstance(value, list):
            fields[name] = tuple(value)
        else:
            fields[name] = value
    return Selector(**fields)


class _Counting:
    """This process's own child measurement: what it counts, since when,
    where it goes.  ``origin`` is None in the run's own process (which never
    writes a child file) and the raw states at the fork in a forked child."""

    def __init__(self, folder: str, collector: Collector, *, own_run: bool) -> None:
        self.folder = folder
        self.collector = collector
        self.own_run = own_run
        self.pid = os.getpid()
        self.origin: list[RawState] = []
        #: This process's file in the folder: each write replaces it.
        self.name = _file_name()

    def forked(self) -> None:
        """In a fork child: count from here, write at the child's end."""
        self.pid = os.getpid()
        self.own_run = False
        self.name = _file_name()
        self.origin = self.collector.state()

    def save(self) -> None:
        """Write this process's counts so far to its own file in the folder,
        replacing what an earlier call wrote (never in the run's own
        process; never raises, whatever happens meanwhile).

        Only the files whose counts moved are written: a fork child of a
        large run writes what it ran, not every file again.
        """
        if self.own_run or self.pid != os.getpid():
            return
        try:
            now = self.collector.state()
            states: list[RawState] = []
            moved: set[int] = set()
            for i, state in enumerate(now):
                if i < len(self.origin):
                    state = engine.state_difference(state, self.origin[i])
                if any(state[0]) or state[1]:
                    moved.add(i)
                states.append(state)
            if not moved:
                return  # nothing ran here: no file
            counts = self.collector.snapshot(states, only=moved)
            # The folder is never made here: gone, the run has ended.
            payload = json.dumps(to_json(counts), separators=(",", ":")).encode()
            write_atomic(Path(self.folder) / self.name, payload, make_parent=False)
        except BaseException:  # a measuring fault must never change how the child ends
            pass


def _file_name() -> str:
    return f"child-{os.getpid()}-{secrets.token_hex(4)}.json"


#: This process's child measurement, if any.
_counting: _Counting | None = None
#: The booted measurement's uninstall function (boot only).
_booted_uninstall: Callable[[], None] | None = None
_real_exit = os._exit
_patched = False


def _exit(status: int) -> NoReturn:
    """``os._exit`` while child measurement is on: write the counts first;
    the process ends whatever happens while they are written."""
    try:
        if _counting is not None:
            _counting.save()
    finally:
        _real_exit(status)


def _at_exit() -> None:
    if _counting is not None:
        _counting.save()


def _after_fork_in_child() -> None:
    if _counting is not None:
        _counting.forked()


def _pool_worker(inqueue: Any, outqueue: Any, *args: Any, **kwargs: Any) -> Any:
    """multiprocessing's pool worker loop, writing the counts before each
    result goes back: ``Pool.terminate()`` (the end of a pool's ``with``
    block) kills its workers with SIGTERM, which runs nothing, and the
    counts of every task whose result the parent saw are on disk by then."""
    real_put = outqueue.put

    def put(obj: Any) -> None:
        if _counting is not None:
            _counting.save()
        real_put(obj)

    outqueue.put = put
    real = _real_pool_worker
    if real is None:  # unpickled in a process that never patched the pool
        from multiprocessing import pool

        real = getattr(pool, _WORKER)
    return real(inqueue, outqueue, *args, **kwargs)


#: The name of multiprocessing.pool's worker loop (not in its type stubs).
_WORKER = "worker"
#: multiprocessing's own worker loop, once :func:`_patch_process` replaced it.
_real_pool_worker: Callable[..., Any] | None = None


def _patch_process() -> None:
    """``os._exit``, ``atexit`` and the fork hook, once per process."""
    global _patched
    if _patched:
        return
    _patched = True
    # What writing the counts needs, imported now: an import at exit in a
    # fork child of a threaded process could wait for a lock held at the fork.
    from pytest_bytecode.engine import generated, model  # noqa: F401

    global _real_pool_worker
    os._exit = _exit
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    try:
        from multiprocessing import pool
    except ImportError:  # a platform without it
        return
    if getattr(pool, _WORKER) is not _pool_worker:
        _real_pool_worker = getattr(pool, _WORKER)
        setattr(pool, _WORKER, _pool_worker)


class ChildRun:
    """The run's side: the folder, the environment, the collection."""

    def __init__(self, folder: Path, owner: bool) -> None:
        self.folder = folder
        #: Whether this run made the folder (and removes it): not an xdist
        #: worker, which writes into its controller's.
        self.owner = owner
        self._saved_env: dict[str, str | None] = {}
        #: The measurement this run's stands in front of (a booted child's,
        #: an outer run's), back in place at :meth:`stop`.
        self._outer: _Counting | None = None
        self._stopped = False

    @classmethod
    def start(
        cls,
        data_path: Path,
        selector: Selector,
        cache_dir: Path | None,
        collector: Collector,
    ) -> ChildRun:
        """Make the folder (or join the inherited one), set the environment,
        and count this process's forks."""
        global _counting
        inherited = controller_folder()
        if inherited is not None:
            run = cls(inherited, owner=False)
        else:
            from pytest_bytecode import __version__

            parent = data_path.resolve().parent
            parent.mkdir(parents=True, exist_ok=True)
            folder = parent / f".bytecode-cov-children-{os.getpid()}-{secrets.token_hex(4)}"
            folder.mkdir(mode=0o700)
            settings = {
                "pid": os.getpid(),
                "python": sys.version,
                "version": __version__,
                "rootdir": collector.rootdir,
                "cache_dir": None if cache_dir is None else str(cache_dir),
                "selector": _selector_to_json(selector),
            }
            (folder / SETTINGS).write_text(json.dumps(settings), encoding="utf-8")
            run = cls(folder, owner=True)
        run._set_env(ENV, str(run.folder))
        path = os.environ.get("PYTHONPATH")
        run._set_env("PYTHONPATH", BOOT_DIR if not path else BOOT_DIR + os.pathsep + path)
        run._outer = _counting
        _counting = _Counting(str(run.folder), collector, own_run=True)
        _patch_process()
        return run

    def _set_env(self, name: str, value: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def stop(self) -> None:
        """Restore the environment; this process's forks count no more
        (once: the end of the run and its cleanup both call it)."""
        global _counting
        if self._stopped:
            return
        self._stopped = True
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        _counting, self._outer = self._outer, None

    def collect(self, into: CovData, note: Callable[[str], None]) -> int:
        """Add every child file's counts to ``into``; returns how many were
        added.  The folder is removed (if this run made it)."""
        added = 0
        for path in sorted(self.folder.glob("child-*.json")):
            try:
                child = load(path)
            except DataError as exc:
                note(f"counts of a child process not read: {exc}")
                continue
            try:
                merge_into(into, child, "sum", name=path.name)
            except DataError as exc:
                note(f"counts of a child process left out: {exc}")
                continue
            added += 1
        self.remove()
        return added

    def remove(self) -> None:
        """Remove the folder, if this run made it (a child that writes later
        finds no folder and writes nothing)."""
        if self.owner:
            shutil.rmtree(self.folder, ignore_errors=True)


def controller_folder() -> Path | None:
    """In an xdist worker of a run with child measurement: the run's folder
    (the worker writes its own children's counts there).  A worker's parent
    is its controller; a pytest started by a test in a worker inherits
    ``PYTEST_XDIST_WORKER`` too, but its parent is the worker."""
    folder = os.environ.get(ENV)
    if not folder or not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    try:
        raw = json.loads((Path(folder) / SETTINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Path(folder) if raw.get("pid") == os.getppid() else None


def boot() -> None:
    """In a child started by a measuring run (``sitecustomize``): measure the
    run's files from now on, write the counts when the process ends."""
    global _counting, _booted_uninstall
    folder = os.environ.get(ENV)
    if not folder or _counting is not None:
        return
    try:
        raw = json.loads((Path(folder) / SETTINGS).read_text(encoding="utf-8"))
        if raw.get("python") != sys.version:
            return  # another interpreter: its counts could not be added
        from pytest_bytecode import importhook

        selector = _selector_from_json(raw["selector"])
        collector = Collector(str(raw["rootdir"]))
        cache_dir = raw.get("cache_dir")
        cache = InstrumentationCache(
            Path(cache_dir) if cache_dir else None, _quiet, str(raw["version"])
        )
        measurement = importhook.Measurement(selector, collector, cache, _quiet, _quiet)
        _booted_uninstall = importhook.install(measurement)
    except Exception:  # never change what the child does
        return
    _counting = _Counting(folder, collector, own_run=False)
    _booted_measurement[:] = [measurement]
    _patch_process()


_booted_measurement: list[Any] = []


def _quiet(message: str) -> None:
    """A child says nothing: its output is the program's."""


def adopt_booted(measurement: Any) -> bool:
    """In an xdist worker that booted as a child of the run: hand what the
    booted measurement measured to the worker's own run's ``measurement``
    (an :class:`~pytest_bytecode.importhook.Measurement`: its collector, its
    measured files, the read plans it is to store) and stop it.  Returns
    whether there was one."""
    global _counting, _booted_uninstall
    if _counting is None or _counting.own_run or not _booted_measurement:
        return False
    booted = _booted_measurement.pop()
    if booted.collector.rootdir != measurement.collector.rootdir:
        _booted_measurement.append(booted)
        return False
    if _booted_uninstall is not None:
        _booted_uninstall()
        _booted_uninstall = None
    measurement.adopt(booted)
    _counting = None
    return True
