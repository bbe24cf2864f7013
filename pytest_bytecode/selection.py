"""``--bytecode-cov-affected``: run only the tests a change can affect.

The plugin side of :mod:`pytest_bytecode.affected`: reads the data file
before any test is collected (a bad file is a usage error, as for
``--bytecode-cov-append``), deselects at the end of collection the tests
:func:`~pytest_bytecode.affected.choose` leaves out (in every xdist worker
alike: they all read the same file), and says in the terminal summary how
many ran and why.  At the end of the run :func:`remember` puts into this
run's contexts the fingerprints of the code that ran, the digests of the
test files, and what the data file knew of the tests that did not run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pytest_bytecode import affected, data
from pytest_bytecode.contexts import CodeKey, Contexts
from pytest_bytecode.engine.model import CodeCounts


class Selection:
    """Plugin object of a run with ``--bytecode-cov-affected``."""

    def __init__(self, data_path: Path, rootdir: Path, origin: str) -> None:
        self.data_path = data_path
        self.rootdir = rootdir
        self.origin = origin
        self.previous: data.CovData | None = None
        #: Why every test runs, when the data file cannot choose.
        self.unusable = ""
        self.lines: list[str] = []
        #: The node ids collected in this process (None: none were, as in
        #: an xdist controller).
        self.collected: set[str] | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        """Read the data file (a bad one is a usage error)."""
        if not self.data_path.is_file():
            self.unusable = f"no data file {self.data_path} yet"
            return
        try:
            previous = data.load(self.data_path)
        except data.DataError as exc:
            raise pytest.UsageError(f"{self.origin}: {exc}") from None
        if previous.contexts is None or not previous.contexts.tests:
            self.unusable = f"{self.data_path} holds no per-test contexts"
        elif previous.python != data.CovData().python:
            self.unusable = f"{self.data_path} was recorded by Python {previous.python}"
        else:
            self.previous = previous

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Deselect the tests that no change can affect."""
        if self.previous is None or self.previous.contexts is None:
            self.lines.append(
                f"bytecode coverage: --bytecode-cov-affected: every test runs ({self.unusable})"
            )
            return
        modules = {item.nodeid: _module(item) for item in items}
        self.collected = set(modules)
        digests = {
            module: affected.test_file_digest(self.rootdir / module, self.rootdir)
            for module in set(modules.values())
        }
        sha256 = {path: fdata.sha256 for path, fdata in self.previous.files.items()}
        choice = affected.choose(self.previous.contexts, sha256, self.rootdir, modules, digests)
        keep = [item for item in items if item.nodeid in choice.run]
        dropped = [item for item in items if item.nodeid not in choice.run]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(choice.reasons.items()))
        if choice.unusable:
            why = f"every test: {self.data_path} {choice.unusable}"
        elif not why:
            why = "no test ran changed code" if choice.changed else "nothing changed"
        changed = f"; changed: {', '.join(choice.changed[:5])}" if choice.changed else ""
        more = f" and {len(choice.changed) - 5} more" if len(choice.changed) > 5 else ""
        total = len(keep) + len(dropped)
        self.lines.append(
            f"bytecode coverage: --bytecode-cov-affected: {len(keep)} of {total} tests run "
            f"({why}){changed}{more}"
        )

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Say how many tests ran and why."""
        for line in self.lines:
            terminalreporter.write_line(line)


def _module(item: pytest.Item) -> str:
    """A test's module as the data file names it: its node id's file (not
    ``location``, which names the file of a base class's method)."""
    return item.nodeid.split("::")[0]


def remember(
    contexts: Contexts,
    counts: data.CovData,
    rootdir: Path,
    previous: data.CovData | None,
    collected: set[str] | None = None,
) -> None:
    """What the next ``--bytecode-cov-affected`` compares against: the
    fingerprints of the files some context ran (when the file on disk is the
    one measured; a file measured as before keeps ``previous``'s), the
    digests of this run's test files, and, from ``previous``, what was known
    of tests that did not run this time.  Called for runs with
    ``--bytecode-cov-affected`` only: a run that only records contexts
    leaves fingerprints out (a later selection then takes any change to a
    file it measured as a change to all of the file)."""
    for module in {module for _, module in contexts.tests.values()}:
        contexts.test_files[module] = affected.test_file_digest(rootdir / module, rootdir)
    if previous is not None and previous.contexts is not None:
        _carry_over(contexts, counts, rootdir, previous, previous.contexts, collected)
    for path in contexts.files:
        fdata = counts.files.get(path)
        if fdata is None:
            continue
        before = previous.files.get(path) if previous is not None else None
        if (
            before is not None
            and previous is not None
            and previous.contexts is not None
            and before.sha256 == fdata.sha256
            and path in previous.contexts.fingerprints
        ):
            contexts.fingerprints[path] = previous.contexts.fingerprints[path]
            continue  # the same source: the same fingerprints
        file = Path(path) if Path(path).is_absolute() else rootdir / path
        try:
            source = file.read_bytes()
        except (OSError, ValueError):
            continue
        if hashlib.sha256(source).hexdigest() != fdata.sha256:
            continue
        found = affected.file_fingerprints(source, str(file))
        if found is not None:
            contexts.fingerprints[path] = found


def _carry_over(
    contexts: Contexts,
    counts: data.CovData,
    rootdir: Path,
    previous: data.CovData,
    known: Contexts,
    collected: set[str] | None,
) -> None:
    """Keep what ``previous`` knew of the tests that did not run: those
    still there (their module is, and if it was collected, so were they).
    One that a change affects is kept as ``stale`` (it runs next time);
    so is one whose bits cannot move to code of another shape."""
    modules = {nodeid.split("::")[0] for nodeid in collected or ()}
    left_out = set()
    for nodeid, (_, module) in known.tests.items():
        if nodeid in contexts.tests:
            continue
        try:
            there = (rootdir / module).is_file()
        except (OSError, ValueError):
            there = False
        if there and not (collected is not None and module in modules and nodeid not in collected):
            left_out.add(nodeid)
    if not left_out:
        return
    sha256 = {path: fdata.sha256 for path, fdata in previous.files.items()}
    digests = {
        module: affected.test_file_digest(rootdir / module, rootdir)
        for module in {known.tests[nodeid][1] for nodeid in left_out}
    }
    choice = affected.choose(
        known, sha256, rootdir, {t: known.tests[t][1] for t in left_out}, digests
    )
    keyed: dict[tuple[str, bool], dict[CodeKey, CodeCounts]] = {}

    def same_shape(path: str, old: CodeKey, new: CodeKey) -> bool:
        for side, source in ((False, previous), (True, counts)):
            if (path, side) not in keyed:
                fdata = source.files.get(path)
                keyed[(path, side)] = fdata.keyed() if fdata is not None else {}
        before, now = keyed[(path, False)].get(old), keyed[(path, True)].get(new)
        return before is not None and now is not None and data.same_shape(before, now)

    unmoved = affected.carry_over(
        known, sha256, rootdir, left_out - choice.run, contexts, same_shape
    )
    for nodeid in choice.run | unmoved:
        if nodeid in left_out:
            contexts.tests[nodeid] = (affected.STALE, known.tests[nodeid][1])
