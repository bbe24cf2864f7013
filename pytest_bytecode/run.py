"""One ``--bytecode-cov`` run: its state and its lifecycle.

:mod:`pytest_bytecode.plugin` imports this module only when coverage is on,
so that a project that merely has the plugin installed pays nothing for the
engine, coverage.py's configuration reader or the reports.

* :func:`start` (from ``pytest_load_initial_conftests``, tryfirst): resolve
  SOURCE, install the import hook before any conftest is imported, instrument
  the functions of modules imported earlier (and warn about them), and
  register :class:`RunHooks`;
* ``pytest_configure``: check data and baseline files early (a bad file is a
  usage error before any test runs) and take the xdist role;
* ``pytest_sessionfinish``: gather the counts (merged over xdist workers),
  write the data file and file reports, decide the verdicts, and set exit
  status 1 when a verdict fails or a file cannot be written; test outcomes
  are untouched.  A ``--collect-only`` run writes nothing and judges nothing;
* ``pytest_terminal_summary``: print the terminal reports and verdicts.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import pytest_bytecode
from pytest_bytecode import data, engine, importhook, pytestcompat, reportconfig, results
from pytest_bytecode.cache import InstrumentationCache
from pytest_bytecode.collector import Collector, unexecuted_file
from pytest_bytecode.contexts import Contexts
from pytest_bytecode.engine.records import field, record
from pytest_bytecode.importhook import Measurement, instrument_loaded
from pytest_bytecode.plugin import BytecodeCovWarning
from pytest_bytecode.report import write_reports
from pytest_bytecode.results import Results
from pytest_bytecode.settings import Settings
from pytest_bytecode.sources import (
    CoverageConfigError,
    SourceError,
    compiled_twin,
    config_sources,
    read_coverage_config,
    report_path,
    resolve,
)
from pytest_bytecode.tracers import TracerWatch

TYPE_CHECKING = False  # what only some runs use loads when they use it
if TYPE_CHECKING:
    from pytest_bytecode.children import ChildRun
    from pytest_bytecode.recorder import ContextRecorder
    from pytest_bytecode.selection import Selection
    from pytest_bytecode.xdist import ControllerRole


@record
class _State:
    """Per-run coverage state, held by the run's :class:`RunHooks`."""

    settings: Settings
    collector: Collector
    measurement: Measurement
    report_config: reportconfig.ReportConfig = field(default_factory=reportconfig.ReportConfig)
    worker: bool = False
    existing: data.CovData | None = None
    baseline: dict[str, Any] | None = None
    controller: ControllerRole | None = None
    results: Results | None = None
    lines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    watch: TracerWatch | None = None
    #: With --bytecode-cov-subprocess: the children folder and environment.
    children: ChildRun | None = None
    #: With --bytecode-cov-context=test: what each test phase ran.
    recorder: ContextRecorder | None = None
    #: With --bytecode-cov-affected: the tests left out, and the data file read.
    selection: Selection | None = None


def _cache_dir(config: pytest.Config) -> Path | None:
    """Where instrumented code is cached: pytest's cache dir, unless it is disabled."""
    if config.pluginmanager.is_blocked("cacheprovider"):
        return None
    raw = os.path.expanduser(os.path.expandvars(str(config.getini("cache_dir"))))
    path = Path(raw)
    if not path.is_absolute():
        path = config.rootpath / path
    return path / "d" / "pytest-bytecode"


def start(config: pytest.Config, run_settings: Settings) -> None:
    """Install the import hook before conftests (and what they import) load."""
    trace = config.trace.root.get("bytecode-cov")
    search = [str(config.rootpath / p) for p in config.getini("pythonpath")] + sys.path
    try:
        cov_config = read_coverage_config(config.rootpath, lambda msg: trace(msg))
        report_config = reportconfig.from_coverage_config(cov_config, config.rootpath)
        selector = resolve(
            run_settings.sources,
            rootdir=config.rootpath,
            invocation_dir=config.invocation_params.dir,
            search_path=search,
            test_patterns=tuple(config.getini("python_files")),
            omit=tuple(cov_config.run_omit or ()),
            exclude_list=tuple(cov_config.exclude_list),
            partial_list=(*cov_config.partial_list, *cov_config.partial_always_list),
            include=tuple(cov_config.run_include or ()),
            configured=config_sources(cov_config, config.rootpath),
            warn=lambda msg: config.issue_config_time_warning(
                BytecodeCovWarning(msg), stacklevel=2
            ),
        )
    except (CoverageConfigError, reportconfig.ReportConfigError, SourceError) as exc:
        raise pytest.UsageError(str(exc)) from None
    collector = Collector(str(config.rootpath))
    # The plugin's version is part of every cache key.
    cache = InstrumentationCache(_cache_dir(config), trace, pytest_bytecode.__version__)

    def warn(message: str) -> None:
        warnings.warn(BytecodeCovWarning(message), stacklevel=2)

    rewrite, rewrite_settings = pytestcompat.rewriter(config, warn)
    measurement = Measurement(selector, collector, cache, trace, warn, rewrite, rewrite_settings)
    children = sys.modules.get("pytest_bytecode.children")
    if children is not None and children.controller_folder() is not None:
        # An xdist worker that booted as a child of its run: one measurement.
        children.adopt_booted(measurement)
    config.add_cleanup(importhook.install(measurement, pytestcompat.rewriting_hook()))
    state = _State(run_settings, collector, measurement, report_config)
    if run_settings.subprocess:
        from pytest_bytecode.children import ChildRun

        state.children = ChildRun.start(
            run_settings.data_path, selector, cache.directory, collector
        )
        config.add_cleanup(state.children.remove)
        config.add_cleanup(state.children.stop)
    state.watch = TracerWatch(collector.state, collector.mark_ran_since)
    state.watch.start()
    config.add_cleanup(state.watch.stop)
    config.pluginmanager.register(RunHooks(state), "bytecode-cov-run")
    if run_settings.context == "test":
        from pytest_bytecode.recorder import ContextRecorder

        state.recorder = ContextRecorder(collector)
        config.pluginmanager.register(state.recorder, "bytecode-cov-contexts")
        config.add_cleanup(state.recorder.close)
    if run_settings.affected:
        from pytest_bytecode.selection import Selection

        state.selection = Selection(
            run_settings.data_path,
            config.rootpath,
            run_settings.origin("bytecode_cov_affected"),
        )
        config.pluginmanager.register(state.selection, "bytecode-cov-affected")
    early = instrument_loaded(measurement, dict(sys.modules))
    if early:
        config.issue_config_time_warning(
            BytecodeCovWarning(
                "bytecode-cov-early-import: imported before pytest-bytecode's import hook, "
                f"module-level code not measured (functions are): {', '.join(early)}"
            ),
            stacklevel=2,
        )


class RunHooks:
    """The hooks of a run with coverage on, registered by :func:`start`."""

    def __init__(self, state: _State) -> None:
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        """Check data and baseline files now, and take the xdist role."""
        state = self.state
        if config.getoption("collectonly", False):
            return
        # An xdist worker has ``workerinput`` by now (the PYTEST_XDIST_WORKER
        # variable would also be seen by a pytest run inside a worker's test).
        state.worker = hasattr(config, "workerinput")
        if state.worker:
            from pytest_bytecode.xdist import WorkerRole

            config.pluginmanager.register(
                WorkerRole(
                    config,
                    state.collector,
                    state.recorder,
                    last=state.measurement.read_for_the_last_time,
                    first=self.close_tracer_watch,
                ),
                "bytecode-cov-worker",
            )
            return
        run_settings = state.settings
        if run_settings.append and run_settings.data_path.is_file():
            append = run_settings.origin("bytecode_cov_append")
            try:
                state.existing = data.load(run_settings.data_path)
            except data.DataError as exc:
                raise pytest.UsageError(f"{append}: {exc}") from None
            if state.existing.python != state.collector.snapshot().python:
                raise pytest.UsageError(
                    f"{append}: {run_settings.data_path} was recorded by Python "
                    f"{state.existing.python}; cannot add counts of another Python version"
                )
        if run_settings.baseline is not None and not run_settings.baseline_update:
            if not run_settings.baseline.exists():
                raise pytest.UsageError(
                    f"{run_settings.origin('bytecode_cov_baseline')}: {run_settings.baseline}: "
                    "no such file; create it with --bytecode-cov-baseline-update"
                )
            # The error class from the module that raises it: pytester's
            # in-process runs drop modules first imported in a run, and the
            # next run imports them afresh (new classes) under this older run.py.
            from pytest_bytecode.baseline import ResultError, load_baseline

            try:
                state.baseline = load_baseline(run_settings.baseline)
            except ResultError as exc:
                raise pytest.UsageError(str(exc)) from None
        if config.getoption("dist", "no") != "no" and config.pluginmanager.hasplugin("xdist"):
            from pytest_bytecode.xdist import ControllerRole

            state.controller = ControllerRole()
            config.pluginmanager.register(state.controller, "bytecode-cov-controller")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        """Tell the tracer watch where one test starts and ends."""
        watch = self.state.watch
        if watch is not None:
            watch.test_started(item.nodeid)
        try:
            return (yield)
        finally:
            if watch is not None:
                watch.test_finished()

    def close_tracer_watch(self) -> None:
        """Close the tracer watch's window and stop watching, before the
        counts are read at the session's end (after the session fixtures'
        teardown, which may run under a tracer too), so that what ran in a
        window still open then (a tracer left in place) is marked in them."""
        if self.state.watch is not None:
            self.state.watch.stop()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write data and file reports, decide the verdicts, fail the run if one fails.

        With the cyclic garbage collector paused: the end of a run makes
        objects by the hundred thousand (a count object per instruction, the
        data file's lists, the reports') that hold no reference cycles, and
        collections that walk them again and again as they are made took
        about a third of the end of a run over a 50,000-line module.
        """
        self.close_tracer_watch()  # (in a worker, WorkerRole's end closes it too)
        with engine.gc_paused():
            self._finish(session, exitstatus)
            # What is left to store: in a run, nothing (each handle's plans
            # were stored at its last read); in an xdist worker, whose own
            # end (WorkerRole's, also last) may come after this one, the
            # plans are worked out here if not yet read.
            self.state.measurement.store_worked_out_plans()

    def _finish(self, session: pytest.Session, exitstatus: int) -> None:
        config = session.config
        state = self.state
        if state.worker:
            return
        run_settings = state.settings
        if config.getoption("collectonly", False):
            return
        counts = _gather(state)
        state.lines.extend(state.collector.notes)
        for name, filename, loader in importhook.unmeasured(state.measurement, dict(sys.modules)):
            state.lines.append(
                f"bytecode coverage: module {name} ({filename}) is under SOURCE but was loaded "
                f"by {loader}, not from its source: not measured (module-not-measured)"
            )
        counts = _save(state, counts)
        measured = results.compute(counts, run_settings.filters)
        keep = state.report_config.keeper()  # [report] include/omit
        figures = measured if keep is None else results.select(measured, keep)
        state.results = figures
        traced = results.traced_note(figures)
        if traced is not None and not any(spec.terminal for spec in run_settings.reports):
            state.lines.append(f"bytecode coverage: {traced}")  # else the terminal report says it
        base = config.invocation_params.dir
        for spec in run_settings.reports:
            if not spec.terminal:
                try:
                    for path in write_reports(
                        [spec], figures, state.lines.append, base, root=config.rootpath
                    ):
                        state.lines.append(f"bytecode coverage report written to {path}")
                except OSError as exc:
                    state.failed.append(f"FAIL bytecode coverage report not written: {exc}")
        if not measured.totals.instructions:
            warnings.warn(BytecodeCovWarning(results.no_data_message()), stacklevel=1)
        if exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
            return
        for verdict in results.fail_under_verdicts(
            figures,
            run_settings.fail_under,
            run_settings.fail_under_branches,
            state.report_config.precision,
        ):
            (state.failed if verdict.failed else state.lines).append(verdict.line)
        if run_settings.baseline is not None:
            verbose = int(config.getoption("verbose", 0) or 0) > 0
            _judge_baseline(state, figures, run_settings.baseline, verbose)
        if state.failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(trylast=True)  # after the other plugins' summaries (pytest-cov's)
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        """Print the terminal reports, notes and verdicts."""
        state = self.state
        if state.worker or state.results is None:
            return
        tr = terminalreporter
        term_specs = [s for s in state.settings.reports if s.terminal]
        write_reports(
            term_specs,
            state.results,
            tr.write_line,
            config.invocation_params.dir,
            root=config.rootpath,
            config=state.report_config,
            opnames=int(config.getoption("verbose", 0) or 0) > 0,
        )
        for line in state.lines:
            tr.write_line(line)
        for line in state.failed:
            tr.write_line(line, red=True, bold=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Let the run's counts go before pytest's last garbage collections:
        a count object per measured instruction, kept alive, made each of
        them walk hundreds of thousands of objects (a second at the end of a
        run over a 50,000-line module)."""
        self.state.results = None


def _judge_baseline(state: _State, figures: Results, path: Path, verbose: bool) -> None:
    """Write the baseline (``--bytecode-cov-baseline-update``), or compare
    the figures with the one loaded at configure time."""
    from pytest_bytecode import baseline

    if state.settings.baseline_update:
        if not figures.totals.instructions:
            state.failed.append(
                f"FAIL bytecode coverage baseline {path} not written: no "
                f"instructions were measured ({results.NO_DATA})"
            )
            return
        try:
            baseline.write_baseline(figures, path)
            state.lines.append(f"bytecode coverage baseline written to {path}")
        except OSError as exc:
            state.failed.append(f"FAIL bytecode coverage baseline not written: {exc}")
    elif state.baseline is not None:
        comparison = baseline.compare_baseline(state.baseline, figures)
        failed, lines = baseline.baseline_report(comparison, path, verbose=verbose)
        state.lines.extend(lines)
        state.failed.extend(failed)


def _gather(state: _State) -> data.CovData:
    """The run's counts, named as coverage.py names files, plus never-imported files.

    Files are keyed by :func:`~pytest_bytecode.sources.report_path` (the
    canonical file, symbolic links resolved, like coverage.py's), as the
    collector keys them; a file under SOURCE that cannot be read or compiled
    adds a warning line.
    """
    if state.controller is not None and state.controller.active:
        counts = state.controller.merged()
        state.lines.extend(state.controller.errors)
    else:
        # The contexts' last look reads the code objects too: before the
        # snapshot, which is their last read (their readers are let go).
        contexts = state.recorder.finish() if state.recorder is not None else None
        counts = state.collector.snapshot(last=state.measurement.read_for_the_last_time)
        if contexts is not None:
            counts.contexts = contexts
    if state.recorder is not None:
        if counts.contexts is None:
            counts.contexts = Contexts()  # recorded, and no worker sent any
        counts.contexts.tests.update(state.recorder.contexts.tests)  # the controller's
    if state.children is not None:
        state.children.stop()
        state.children.collect(
            counts, lambda line: state.lines.append(f"bytecode coverage: {line}")
        )
    rootdir = state.collector.rootdir
    selector = state.measurement.selector
    for filename in selector.all_files():
        key = report_path(filename, rootdir)
        if key not in counts.files:
            unexecuted = unexecuted_file(
                filename,
                selector.excluded_lines,
                engine.instrument,
                on_skip=lambda message: state.lines.append(f"bytecode coverage: {message}"),
                name=key,
                no_branch_of=selector.no_branch_lines_of,
            )
            if unexecuted is not None:
                counts.files[key] = unexecuted
                twin = compiled_twin(filename)
                if twin is not None:
                    state.lines.append(
                        f"bytecode coverage: {key} never runs: Python imports the compiled "
                        f"extension {os.path.basename(twin)} beside it, which cannot be "
                        "measured (module-not-measured)"
                    )
    if counts.contexts is not None and state.children is not None:
        counts.contexts.children = True
    if counts.contexts is not None and state.selection is not None:
        from pytest_bytecode.selection import remember

        remember(
            counts.contexts,
            counts,
            Path(rootdir),
            state.selection.previous,
            state.selection.collected,
        )
    return counts


def _save(state: _State, counts: data.CovData) -> data.CovData:
    """Write (or with append, add to) the data file; returns the counts to report.

    A refused append or a failed write fails the run and leaves the old file
    as it was.
    """
    path = state.settings.data_path
    try:
        if state.settings.append:
            return data.append_to_file(counts, path)
        data.save(counts, path)
    except data.DataError as exc:
        state.failed.append(
            f"FAIL {state.settings.origin('bytecode_cov_append')} refused, the data file was "
            f"left as it was: {exc} (the report shows this run's counts only)"
        )
    except OSError as exc:
        state.failed.append(f"FAIL bytecode coverage data file not written: {exc}")
    return counts
