"""Helpers the test modules import (``from bc_helpers import make_project``).

``tests/`` is on ``sys.path`` while the suite runs (its modules are
rootdir-relative, no package), so this module imports like a top-level one.
The ``subprocess`` marker lives in ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecode import versions
from pytest_bytecode.data import CovData, FileData
from pytest_bytecode.engine.model import BranchCount, BranchOutcome, CodeCounts, InstructionCount

#: A small src-layout project: a package with a branch, an excluded function,
#: a comprehension and a second module, and one test.
PKG = {
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": """
        def f(x):
            if x > 0:
                return "pos"
            return "neg"

        def unused():  # pragma: no cover
            return 1

        def g():
            return [i for i in range(3)]
    """,
    "src/pkg/other.py": """
        VALUE = 1

        def h():
            return VALUE
    """,
    "tests/test_mod.py": """
        from pkg.mod import f

        def test_f():
            assert f(1) == "pos"
    """,
}


def make_project(pytester: pytest.Pytester, files: dict[str, str] | None = None) -> None:
    """A src-layout project (:data:`PKG` by default); ``pythonpath = src`` puts
    the package on sys.path."""
    for name, text in (files or PKG).items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if not (pytester.path / "tox.ini").exists():
        pytester.makeini("[pytest]\npythonpath = src\n")


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


#: The project's root folder (``tools/``, ``docs/``, ``README.md``).
ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str) -> types.ModuleType:
    """``tools/NAME.py`` imported as the module ``NAME``, entered in
    ``sys.modules`` (dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


#: A branch row for :func:`code`: offset, opname, line, (targets), (counts).
BranchRow = tuple[int, str, "int | None", tuple[int, int], tuple[int, int]]


def code(
    qualname: str = "f",
    counts: Sequence[int] = (1, 1, 1),
    *,
    firstlineno: int = 1,
    offsets: Sequence[int] | None = None,
    opnames: Sequence[str] | None = None,
    lines: Sequence[int | None] | None = None,
    branches: Sequence[BranchRow] = (),
) -> CodeCounts:
    """One code object's counts, one instruction per count: at offsets
    0, 2, 4, ... (or ``offsets``), ``NOP`` (or ``opnames``), on line
    ``firstlineno`` (or ``lines``)."""
    n = len(counts)
    instructions = tuple(
        map(
            InstructionCount,
            offsets if offsets is not None else range(0, 2 * n, 2),
            opnames if opnames is not None else ["NOP"] * n,
            lines if lines is not None else [firstlineno] * n,
            counts,
        )
    )
    assert len(instructions) == n
    return CodeCounts(
        qualname,
        qualname.rpartition(".")[2],
        firstlineno,
        None,
        instructions,
        tuple(
            BranchCount(
                off,
                op,
                line,
                (BranchOutcome(targets[0], taken[0]), BranchOutcome(targets[1], taken[1])),
            )
            for off, op, line, targets, taken in branches
        ),
    )


def counts_of(codes: Sequence[CodeCounts]) -> list[list[int]]:
    """Each code object's instruction counts."""
    return [[i.count for i in c.instructions] for c in codes]


def dataset(
    *codes: CodeCounts,
    path: str = "m.py",
    sha: str = "s",
    python: str = versions.PY_TAG,
    excluded_lines: Sequence[int] = (),
    partial: bool = False,
) -> CovData:
    """A data set of one file holding ``codes``."""
    fdata = FileData(sha, list(codes), list(excluded_lines), partial)
    return CovData(python=python, files={path: fdata})


def trace_events(code: types.CodeType, filename: str) -> list[tuple[Any, ...]]:
    """(event, function, line, exception type) of every ``sys.settrace``
    event of ``filename``'s frames while its ``main()`` runs."""
    ns: dict[str, Any] = {}
    seen: list[tuple[Any, ...]] = []

    def trace(frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != filename:
            return None
        kind = arg[0].__name__ if event == "exception" else None
        seen.append((event, frame.f_code.co_name, frame.f_lineno, kind))
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        exec(code, ns)
        ns["main"]()
    finally:
        sys.settrace(previous)
    return seen
