"""pytest-xdist support: workers send counts, the controller merges them.

**Setup and run.**  Each worker splits its counting in two: *setup* (what the
bodies of measured modules, and everything up to the end of collection,
counted; every worker repeats it) and *run* (what its tests added).  The
controller takes the largest setup counts over all workers and adds up the
run counts, so totals and per-instruction counts equal those of ``-n 0``,
where each module is imported once.  A module first imported by a test
counts as setup too: its body's counting (between
:meth:`WorkerRole.import_started` and :meth:`WorkerRole.import_finished`) is
moved from run to setup, so two workers importing it do not count it twice.

**Contexts.**  With ``--bytecode-cov-context=test`` a worker records its
tests' contexts (:mod:`pytest_bytecode.recorder`) and sends them with its
run counts, and each test's with its teardown report, so that a crash loses
none of a completed test's contexts either.

**Normal end.**  At session finish the worker turns both into plain data and
sends them as a JSON string in ``workeroutput``.

**Crash safety, per test.**  After every test the worker attaches its
progress to the test's teardown report, which xdist sends to the
controller over its channel (so remote ``--tx`` workers are covered too):
the raw probe states (:meth:`pytest_bytecode.engine.Instrumented.state`) of
the handles that changed since the last report, and, once per handle, its
serialised instrumented code.  The controller strips that from the report
before any other plugin sees it.  When a worker dies (signal, ``os._exit``),
the controller rebuilds its handles and computes the counts of every test it
completed; the report names the crashed worker and its last completed test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from pytest_bytecode import engine
from pytest_bytecode.collector import Collector
from pytest_bytecode.contexts import Contexts
from pytest_bytecode.data import (
    CovData,
    CrashedWorker,
    DataError,
    from_json,
    merge_into,
    to_json,
)
from pytest_bytecode.engine import RawState
from pytest_bytecode.engine.records import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytest_bytecode.recorder import ContextRecorder

#: Key in ``workeroutput``; attribute of a teardown report that carries progress.
KEY = "bytecode_cov"
REPORT_ATTR = "_bytecode_cov_progress"


def _payload(key: str, setup: CovData, run: CovData) -> dict[str, Any]:
    return {"key": key, "setup": to_json(setup), "run": to_json(run)}


def _split(
    collector: Collector,
    setup: list[RawState],
    now: list[RawState],
    last: Callable[[Any], None] | None = None,
) -> tuple[CovData, CovData]:
    """Setup and run counts from the setup states and the states now
    (``last``: the run counts are the handles' last read, see
    :meth:`Collector.snapshot`)."""
    run = [
        engine.state_difference(state, setup[i]) if i < len(setup) else state
        for i, state in enumerate(now)
    ]
    return collector.snapshot(setup), collector.snapshot(run, last=last)


class WorkerRole:
    """Plugin object registered in an xdist worker process."""

    def __init__(
        self,
        config: pytest.Config,
        collector: Collector,
        recorder: ContextRecorder | None = None,
        last: Callable[[Any], None] | None = None,
        first: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.collector = collector
        self.recorder = recorder
        #: given each handle after its last read, at the session's end
        self.last = last
        #: called first at the session's end, before the counts are read
        self.first = first
        if recorder is not None:
            recorder.send_progress()
        workerinput: dict[str, Any] = getattr(config, "workerinput", {})
        self.key = f"{workerinput.get('workerid', 'gw?')}-{os.getpid()}"
        self.setup: list[RawState] | None = None
        self._before: list[RawState] = []
        # What the controller already has: handle records, states, setup states.
        self._sent_records = 0
        self._sent: list[RawState] = []
        self._sent_setup: list[RawState] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Everything counted so far is setup; later imports add to it."""
        self.setup = self.collector.state()
        self.collector.import_observer = self

    def import_started(self) -> None:
        """A measured module's body begins to run during the tests."""
        self._before = self.collector.state()

    def import_finished(self) -> None:
        """Move what the module's import counted from run to setup."""
        assert self.setup is not None
        after = self.collector.state()
        for index, state in enumerate(after):
            moved = (
                engine.state_difference(state, self._before[index])
                if index < len(self._before)
                else state
            )
            if index < len(self.setup):
                self.setup[index] = engine.state_sum(self.setup[index], moved)
            else:
                self.setup.append(moved)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """Attach this worker's progress to each test's teardown report."""
        report = yield
        if call.when == "teardown" and self.setup is not None:
            setattr(report, REPORT_ATTR, self.progress(item.nodeid))
        return report

    def progress(self, nodeid: str) -> dict[str, Any]:
        """What changed since the last report, as plain data."""
        assert self.setup is not None
        now = self.collector.state()
        records = self.collector.records(self._sent_records)
        self._sent_records += len(records)
        payload = {
            "key": self.key,
            "through": nodeid,
            "records": records,
            "state": _changes(now, self._sent),
            "setup": _changes(self.setup, self._sent_setup),
        }
        if self.recorder is not None:
            payload["contexts"] = self.recorder.take_new().to_json()
        self._sent = now
        self._sent_setup = list(self.setup)
        return payload

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Send the counts to the controller in ``workeroutput`` (last: after
        the session fixtures' teardown, counted as in a run without xdist;
        xdist sends ``workeroutput`` after every implementation)."""
        if self.first is not None:
            self.first()
        self.collector.import_observer = None
        now = self.collector.state()
        # The contexts' last look reads the code objects too: before the
        # counts, which are their last read.
        contexts = self.recorder.finish() if self.recorder is not None else None
        setup, run = _split(
            self.collector, self.setup if self.setup is not None else [], now, self.last
        )
        if contexts is not None:
            run.contexts = contexts
        workeroutput: dict[str, Any] = getattr(self.config, "workeroutput", {})
        workeroutput[KEY] = json.dumps(_payload(self.key, setup, run))


def _changes(now: list[RawState], sent: list[RawState]) -> dict[int, RawState]:
    return {i: s for i, s in enumerate(now) if i >= len(sent) or s != sent[i]}


@record
class _Progress:
    """What the controller heard from one worker's test reports so far."""

    records: list[dict[str, Any]] = field(default_factory=list)
    state: dict[int, RawState] = field(default_factory=dict)
    setup: dict[int, RawState] = field(default_factory=dict)
    through: str = ""
    #: The contexts of its completed tests (with --bytecode-cov-context=test).
    contexts: Contexts | None = None

    def payload(self, key: str) -> dict[str, Any]:
        """The worker's counts through its last completed test."""
        collector = Collector.from_records(self.records)
        n = len(self.records)
        try:
            now = [_checked_state(self.state[i]) for i in range(n)]
            setup = [_checked_state(self.setup[i]) for i in range(len(self.setup))]
        except KeyError as exc:
            raise DataError(f"no state for handle {exc}") from None
        setup_data, run_data = _split(collector, setup, now)
        run_data.contexts = self.contexts
        return _payload(key, setup_data, run_data)


def _checked_state(state: Any) -> RawState:
    """A raw state as it arrives over xdist's channel (lists), checked."""
    values, tables = state
    return [int(v) for v in values], {
        int(i): {int(site): int(n) for site, n in table.items()} for i, table in tables.items()
    }


class ControllerRole:
    """Plugin object registered in the xdist controller (``-n N``, ``--tx``)."""

    def __init__(self) -> None:
        self.payloads: dict[str, dict[str, Any]] = {}
        self.progress: dict[str, _Progress] = {}
        self.crashed: dict[str, str] = {}
        self.errors: list[str] = []
        self.nodes_seen = 0

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Take a worker's progress off its report before anyone else sees it."""
        sent = report.__dict__.pop(REPORT_ATTR, None)
        if not isinstance(sent, dict):
            return
        try:
            progress = self.progress.setdefault(str(sent["key"]), _Progress())
            progress.records.extend(sent["records"])
            progress.state.update(sent["state"])
            progress.setup.update(sent["setup"])
            progress.through = str(sent["through"])
            if "contexts" in sent:
                if progress.contexts is None:
                    progress.contexts = Contexts()
                progress.contexts.merge(Contexts.from_json(sent["contexts"]))
        except (KeyError, TypeError, ValueError) as exc:
            self.errors.append(f"unreadable progress from a worker: {exc}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """Take a finished worker's counts; remember a crashed one."""
        self.nodes_seen += 1
        output = getattr(node, "workeroutput", None) or {}
        raw = output.get(KEY)
        worker_id = str(getattr(getattr(node, "gateway", None), "id", "gw?"))
        if isinstance(raw, str):
            try:
                payload = json.loads(raw)
                self.payloads[str(payload["key"])] = payload
            except (ValueError, KeyError, TypeError) as exc:
                self.errors.append(f"worker {worker_id} sent unreadable counts: {exc}")
        elif error is not None:
            self.crashed[worker_id] = str(error).strip().splitlines()[0] if str(error) else "died"

    @property
    def active(self) -> bool:
        """True once any worker reported (the controller's own counts then mean nothing)."""
        return self.nodes_seen > 0

    def merged(self) -> CovData:
        """Setup counts (largest over workers) plus every worker's run counts."""
        recovered: dict[str, str] = {}
        for key, progress in sorted(self.progress.items()):
            if key in self.payloads:
                continue  # the worker finished and sent everything
            try:
                self.payloads[key] = progress.payload(key)
            except (DataError, TypeError, ValueError) as exc:
                self.errors.append(f"counts of crashed worker {key} not recovered: {exc}")
                continue
            recovered[key.rpartition("-")[0]] = progress.through
        setup = CovData()
        run = CovData()
        for key, payload in sorted(self.payloads.items()):
            try:
                merge_into(setup, from_json(payload["setup"], key), "max", name=key)
                merge_into(run, from_json(payload["run"], key), "sum", name=key)
            except (DataError, KeyError, TypeError) as exc:
                self.errors.append(f"counts of {key} not merged: {exc}")
        merge_into(setup, run, "sum")
        setup.crashed_workers = [
            CrashedWorker(worker, error, worker in recovered, recovered.get(worker, ""))
            for worker, error in sorted(self.crashed.items())
        ]
        return setup
