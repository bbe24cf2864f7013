"""Recording per-test contexts (``--bytecode-cov-context=test``).

:class:`ContextRecorder` switches contexts as each phase of each test
begins (setup, call, teardown: outermost, so that every plugin's and
fixture's code in the phase is inside), and at each switch asks the
engine's :class:`~pytest_bytecode.engine.activity.Activity` what ran since
the last one, filed under the context that was current:
``NODEID|PHASE`` from a phase's start to the next switch (pytest's report
hooks for a phase, and what runs between two tests, are in the context of
the phase before them, as with pytest-cov), the empty context ``""`` before
the first test's setup (module bodies imported at collection, conftests).
Three looks per test.  A look that finds nothing new costs one pass over the
counters; only code objects that ran have their counts worked out.  It also
keeps each test's outcome and test module, for test selection
(:mod:`pytest_bytecode.affected`).

Contexts live in :class:`~pytest_bytecode.contexts.Contexts`, keyed like the
counts (file, code object); :mod:`pytest_bytecode.run` puts them in the data
file, and an xdist worker sends them with its counts
(:mod:`pytest_bytecode.xdist`), those of each test with its report.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, cast

import pytest

from pytest_bytecode.affected import FAILED, PASSED
from pytest_bytecode.collector import Collector
from pytest_bytecode.contexts import OUTSIDE, Contexts, context_name
from pytest_bytecode.data import CodeKey
from pytest_bytecode.engine.activity import Activity, Ran, Watchable


class ContextRecorder:
    """Plugin object: records which test phase ran what (see the module doc)."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.contexts = Contexts()
        #: What was recorded since :meth:`take_new` last asked (xdist
        #: progress; None until :meth:`send_progress`: kept only where sent).
        self._new: Contexts | None = None
        self._activity = Activity()
        self._keys: list[tuple[str, list[CodeKey]] | None] = []
        #: The context what runs now belongs to.
        self._current = OUTSIDE

    def _look(self, everything: bool = False) -> list[Ran]:
        for handle in self.collector.handles(len(self._activity)):
            self._activity.watch(cast(Watchable, handle))
        return self._activity.look(everything=everything)

    def _record(self, name: str, ran: list[Ran]) -> None:
        if not ran:
            return
        targets = [(self.contexts, self.contexts.number(name))]
        if self._new is not None:
            targets.append((self._new, self._new.number(name)))
        for handle, code, bits in ran:
            while len(self._keys) <= handle:
                self._keys.append(self.collector.code_keys_of(len(self._keys)))
            keyed = self._keys[handle]
            if keyed is None:
                continue  # a file loaded again with other contents: counts dropped too
            path, keys = keyed
            for contexts, context in targets:
                contexts.add(path, keys[code], context, bits)

    def _switch(self, name: str, *, last: bool = False) -> None:
        """File what ran since the last switch under the context that was
        current, and make ``name`` current (``last``: the run's last switch,
        which reads every code object)."""
        self._record(self._current, self._look(last))
        self._current = name

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        """What the test's setup runs (from here to its call) is its ``|setup``."""
        self._switch(context_name(item.nodeid, "setup"))
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        """What the test itself runs (from here to its teardown) is its ``|call``."""
        self._switch(context_name(item.nodeid, "call"))
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, Any]:
        """What the test's teardown runs (until the next test's setup, or
        the end of the run) is its ``|teardown``."""
        self._switch(context_name(item.nodeid, "teardown"))
        return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep each test's outcome (failed if any phase failed) and module."""
        before = self.contexts.tests.get(report.nodeid)
        outcome = FAILED if report.failed or (before and before[0] == FAILED) else PASSED
        module = report.nodeid.split("::")[0]  # not location: a base class's file
        self.contexts.tests[report.nodeid] = (outcome, module)

    def finish(self) -> Contexts:
        """File what ran since the last switch, stop listening; the contexts."""
        self._switch(OUTSIDE, last=True)
        self.close()
        return self.contexts

    def close(self) -> None:
        """Stop the engine's start hints (``sys.monitoring``), if on."""
        self._activity.close()

    def send_progress(self) -> None:
        """Keep what :meth:`take_new` returns from now on (an xdist worker,
        before its first test)."""
        if self._new is None:
            self._new = Contexts()

    def take_new(self) -> Contexts:
        """What was recorded since the last call, up to now (an xdist
        worker's progress, sent with a test's teardown report: what its
        teardown ran so far is in it, so that a crash loses none of it)."""
        self.send_progress()
        self._switch(self._current)
        new, self._new = self._new, Contexts()
        assert new is not None
        return new
