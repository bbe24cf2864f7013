"""The xdist controller's merge, in-process and table-driven: no workers started.

What workers send is built here as they build it (``WorkerRole``'s payloads
and per-test progress) and handed to :class:`~pytest_bytecode.xdist.ControllerRole`
through the hooks xdist calls.  Real worker processes, crashes included, run
in ``tests/test_plugin_xdist.py``.
"""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from bc_helpers import code, counts_of, dataset

from pytest_bytecode import data, engine
from pytest_bytecode.collector import Collector
from pytest_bytecode.data import CovData, CrashedWorker
from pytest_bytecode.xdist import KEY, REPORT_ATTR, ControllerRole, WorkerRole


def node(worker: str, payload: dict[str, Any] | str | None) -> Any:
    output = (
        {}
        if payload is None
        else {KEY: payload if isinstance(payload, str) else json.dumps(payload)}
    )
    return types.SimpleNamespace(workeroutput=output, gateway=types.SimpleNamespace(id=worker))


def payload(key: str, setup: CovData, run: CovData) -> dict[str, Any]:
    return {"key": key, "setup": data.to_json(setup), "run": data.to_json(run)}


def two_functions(f: list[int], g: list[int] | None = None, path: str = "m.py") -> CovData:
    codes = [code("f", f)] + ([code("g", g)] if g is not None else [])
    return dataset(*codes, path=path)


#: id -> per worker (setup counts, run counts) -> expected counts per code object.
#: Setup (module bodies, collection) is what every worker repeats: the largest
#: counts win; what the tests ran adds up.
MERGES: dict[str, tuple[list[tuple[CovData, CovData]], dict[str, list[list[int]]]]] = {
    "one worker": (
        [(two_functions([1, 0]), two_functions([2, 1]))],
        {"m.py": [[3, 1]]},
    ),
    "setup is taken once, runs add up": (
        [
            (two_functions([1, 1, 0]), two_functions([2, 0, 0])),
            (two_functions([1, 1, 0]), two_functions([0, 3, 0])),
        ],
        {"m.py": [[3, 4, 0]]},
    ),
    "setup: the largest counts of any worker": (
        [
            (two_functions([1, 0], [0]), two_functions([0, 0], [0])),
            (two_functions([1, 1], [2]), two_functions([0, 0], [1])),
        ],
        {"m.py": [[1, 1], [3]]},
    ),
    "a code object only one worker saw": (
        [
            (two_functions([1]), two_functions([1])),
            (two_functions([1], [5]), two_functions([0], [1])),
        ],
        {"m.py": [[2], [6]]},
    ),
    "a file only one worker imported": (
        [
            (two_functions([1]), two_functions([1])),
            (two_functions([1], path="n.py"), two_functions([4], path="n.py")),
        ],
        {"m.py": [[2]], "n.py": [[5]]},
    ),
}


@pytest.mark.parametrize(("workers", "expected"), MERGES.values(), ids=MERGES.keys())
def test_merged(
    workers: list[tuple[CovData, CovData]], expected: dict[str, list[list[int]]]
) -> None:
    controller = ControllerRole()
    for n, (setup, run) in enumerate(workers):
        controller.pytest_testnodedown(
            node(f"gw{n}", payload(f"gw{n}-{100 + n}", setup, run)), None
        )
    merged = controller.merged()
    assert controller.errors == []
    assert {path: counts_of(f.code_objects) for path, f in merged.files.items()} == expected
    assert merged.crashed_workers == []
    assert controller.active


def test_merged_does_not_depend_on_the_order_workers_finish() -> None:
    workers = MERGES["setup: the largest counts of any worker"][0]
    results = []
    for order in (workers, workers[::-1]):
        controller = ControllerRole()
        for n, (setup, run) in enumerate(order):
            controller.pytest_testnodedown(node(f"gw{n}", payload(f"gw{n}-1", setup, run)), None)
        results.append(data.to_json(controller.merged()))
    assert results[0] == results[1]


def test_a_crashed_worker_without_progress_is_named_and_its_counts_lost() -> None:
    controller = ControllerRole()
    controller.pytest_testnodedown(
        node("gw0", payload("gw0-1", two_functions([1]), two_functions([1]))), None
    )
    controller.pytest_testnodedown(
        node("gw1", None), "Fatal Python error: Segmentation fault\nmore"
    )
    merged = controller.merged()
    assert counts_of(merged.files["m.py"].code_objects) == [[2]]
    assert merged.crashed_workers == [
        CrashedWorker("gw1", "Fatal Python error: Segmentation fault", False, "")
    ]


BAD_OUTPUT = {
    "not JSON": ("{", "worker gw0 sent unreadable counts"),
    "no key": (json.dumps({"setup": {}, "run": {}}), "worker gw0 sent unreadable counts"),
    "not a data set": (
        json.dumps({"key": "gw0-1", "setup": {}, "run": {}}),
        "counts of gw0-1 not merged",
    ),
    "another Python": (
        json.dumps(
            payload("gw0-1", dataset(code(), python="3.99"), dataset(code(), python="3.99"))
        ),
        "counts of gw0-1 not merged: gw0-1: recorded by Python 3.99",
    ),
}


@pytest.mark.parametrize(("output", "error"), BAD_OUTPUT.values(), ids=BAD_OUTPUT.keys())
def test_unusable_output_is_an_error_not_a_crash(output: str, error: str) -> None:
    controller = ControllerRole()
    controller.pytest_testnodedown(node("gw0", output), None)
    controller.merged()
    assert len(controller.errors) == 1 and controller.errors[0].startswith(error)


SOURCE = "def f(x):\n    if x:\n        return 1\n    return 2\n"


def test_a_crashed_worker_is_recovered_through_its_last_completed_test() -> None:
    """What a worker attached to its tests' reports rebuilds its counts as of its
    last completed test, exactly as that worker counted them."""
    collector = Collector("/project")
    handle = engine.instrument(compile(SOURCE, "/project/m.py", "exec"))
    collector.register("/project/m.py", [handle], source=SOURCE.encode())
    namespace: dict[str, Any] = {}
    exec(handle.code, namespace)  # the module body: setup
    worker = WorkerRole(types.SimpleNamespace(workerinput={"workerid": "gw1"}), collector)  # type: ignore[arg-type]
    worker.setup = collector.state()
    controller = ControllerRole()
    for n, arg in enumerate([1, 0, 1]):
        namespace["f"](arg)
        report = types.SimpleNamespace(**{REPORT_ATTR: worker.progress(f"test_m.py::test_{n}")})
        controller.pytest_runtest_logreport(report)  # type: ignore[arg-type]
        assert not hasattr(report, REPORT_ATTR)  # taken off before other plugins see it
    expected = data.to_json(collector.snapshot())["files"]
    namespace["f"](0)  # the test that crashed: not reported, not counted
    controller.pytest_testnodedown(node("gw1", None), "worker 'gw1' crashed while running 'x'")
    merged = controller.merged()
    assert controller.errors == []
    assert merged.crashed_workers == [
        CrashedWorker("gw1", "worker 'gw1' crashed while running 'x'", True, "test_m.py::test_2")
    ]
    assert data.to_json(merged)["files"] == expected
    f = next(c for c in merged.files["m.py"].code_objects if c.qualname == "f")
    assert [b.outcomes[0].count + b.outcomes[1].count for b in f.branches] == [3]


def test_a_worker_s_counts_are_its_handles_last_read() -> None:
    """At its session's end a worker reads each handle for the last time:
    each is handed to ``last`` once, after the read, and the payload is the
    one a worker without ``last`` sends."""
    payloads = []
    for releasing in (False, True):
        collector = Collector("/project")
        handle = engine.instrument(compile(SOURCE, "/project/m.py", "exec"))
        collector.register("/project/m.py", [handle], source=SOURCE.encode())
        namespace: dict[str, Any] = {}
        exec(handle.code, namespace)
        config = types.SimpleNamespace(workerinput={"workerid": "gw1"}, workeroutput={})
        order: list[object] = []

        def last(read: Any, order: list[object] = order) -> None:
            order.append(read)
            read.release()

        worker = WorkerRole(
            config,  # type: ignore[arg-type]
            collector,
            last=last if releasing else None,
            first=lambda order=order: order.append("first"),
        )
        worker.pytest_collection_finish(None)  # type: ignore[arg-type]
        namespace["f"](1)
        worker.pytest_sessionfinish(None)  # type: ignore[arg-type]
        sent = json.loads(config.workeroutput[KEY])
        payloads.append({part: sent[part] for part in ("setup", "run")})
        assert order == (["first", handle] if releasing else ["first"])
        if releasing:
            with pytest.raises(RuntimeError):
                handle.counts()
    assert payloads[0] == payloads[1]
