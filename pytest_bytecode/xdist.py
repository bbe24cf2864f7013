"""pytest-xdist support: workers send counts, the controller merges them.

Each worker splits its counts in two: *setup* (everything counted up to the
end of collection: module-level code run by imports, which every worker
repeats) and *run* (what its tests added).  The controller takes the largest
setup counts over all workers and adds up the run counts, so totals and
per-instruction counts equal those of ``-n 0`` (where imports happen once).

Counts travel back as a JSON string in ``workeroutput`` (plain data over
xdist's channel, so remote ``--tx`` workers work too).  For crash safety every
local worker also rewrites a flush file after each test, within a budget:
a flush is skipped while less than :data:`FLUSH_GAP_FACTOR` times the last
flush's own duration has passed since it ended, so flushing costs at most
about 1/FLUSH_GAP_FACTOR of the run (measured: 86 ms per flush for the
13,600 instructions of more-itertools, which flushed after each of its 765
tests would have doubled that suite's time).  When a worker dies (signal,
``os._exit``) the controller reads its flush file instead, and the report
names the crashed worker and the last test whose counts were saved.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecode.collector import Collector
from pytest_bytecode.data import (
    CovData,
    CrashedWorker,
    DataError,
    from_json,
    merge_into,
    subtract,
    to_json,
    write_json_atomic,
)

#: Key in ``workerinput`` / ``workeroutput``.
KEY = "bytecode_cov"

#: A worker flushes after a test only when at least this many times the last
#: flush's duration has passed since that flush: flushing costs at most ~10%.
FLUSH_GAP_FACTOR = 10.0


def _payload(key: str, setup: CovData, now: CovData, last: str = "") -> dict[str, Any]:
    return {
        "key": key,
        "setup": to_json(setup),
        "run": to_json(subtract(now, setup)),
        "saved_through": last,
    }


class WorkerRole:
    """Plugin object registered in an xdist worker process."""

    def __init__(self, config: pytest.Config, collector: Collector) -> None:
        self.config = config
        self.collector = collector
        workerinput: dict[str, Any] = getattr(config, "workerinput", {})
        self.worker_id = str(workerinput.get("workerid", "gw?"))
        self.key = f"{self.worker_id}-{os.getpid()}"
        settings = workerinput.get(KEY) or {}
        flush_dir = settings.get("flush_dir")
        self.flush_path: Path | None = None
        if isinstance(flush_dir, str) and os.path.isdir(flush_dir):
            self.flush_path = Path(flush_dir) / f"{self.key}.json"
        self.setup: CovData | None = None
        self.flush_cost = 0.0
        self.flushed_at = 0.0

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Everything counted so far is import-time (setup) counting."""
        self.setup = self.collector.snapshot()
        self.flush()

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        """Persist the counts after a test, unless the flush budget says wait."""
        if time.perf_counter() - self.flushed_at >= FLUSH_GAP_FACTOR * self.flush_cost:
            self.flush(nodeid)

    def flush(self, last: str = "") -> None:
        """Rewrite this worker's flush file (local workers only; errors ignored)."""
        if self.flush_path is None or self.setup is None:
            return
        start = time.perf_counter()
        try:
            payload = _payload(self.key, self.setup, self.collector.snapshot(), last)
            write_json_atomic(self.flush_path, payload)
        except OSError:
            self.flush_path = None
        self.flushed_at = time.perf_counter()
        self.flush_cost = self.flushed_at - start

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Send the counts to the controller in ``workeroutput``."""
        now = self.collector.snapshot()
        setup = self.setup if self.setup is not None else CovData()
        workeroutput: dict[str, Any] = getattr(self.config, "workeroutput", {})
        workeroutput[KEY] = json.dumps(_payload(self.key, setup, now))


class ControllerRole:
    """Plugin object registered in the xdist controller (``-n N``, ``--tx``)."""

    def __init__(self) -> None:
        self.flush_dir = tempfile.mkdtemp(prefix="pytest-bytecode-xdist-")
        self.payloads: dict[str, dict[str, Any]] = {}
        self.crashed: dict[str, str] = {}
        self.errors: list[str] = []
        self.nodes_seen = 0

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Tell each worker where to flush its counts."""
        node.workerinput[KEY] = {"flush_dir": self.flush_dir}

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
        for entry in sorted(Path(self.flush_dir).glob("*.json")):
            key = entry.stem
            if key in self.payloads:
                continue
            try:
                payload = json.loads(entry.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.errors.append(f"flush file {entry.name} unreadable: {exc}")
                continue
            self.payloads[key] = payload
            recovered[key.rpartition("-")[0]] = str(payload.get("saved_through", ""))
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

    def cleanup(self) -> None:
        """Remove the flush directory."""
        shutil.rmtree(self.flush_dir, ignore_errors=True)
