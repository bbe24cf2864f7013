"""The instrumentation engine: pure functions over code objects, no pytest.

Public API::

    inst = instrument(code)        # code and every code object nested in it
    exec(inst.code, namespace)     # run the instrumented code instead
    for co in inst.counts():       # one CodeCounts per code object
        ...

    handle = instrument_function(func)   # swaps func.__code__ in place

Counts are exact: the number of times each original instruction began
executing, as an interpreter watching every instruction would see it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

from pytest_bytecode.engine.counts import CodePlan
from pytest_bytecode.engine.instrument import instrument_code
from pytest_bytecode.engine.model import (
    BranchCount,
    BranchOutcome,
    CodeCounts,
    InstructionCount,
)

#: Changes whenever instrumented code or its plan changes shape; part of every
#: cache key.
ENGINE_VERSION = "2"

__all__ = [
    "ENGINE_VERSION",
    "BranchCount",
    "BranchOutcome",
    "CodeCounts",
    "InstructionCount",
    "Instrumented",
    "instrument",
    "instrument_function",
    "iter_code_tree",
    "loads",
    "original_code",
]


#: Instrumented code object -> the original it was made from, for tools that
#: must look at what the user wrote (the bytecode assertions).
_ORIGINALS: weakref.WeakKeyDictionary[CodeType, CodeType] = weakref.WeakKeyDictionary()


def original_code(code: CodeType) -> CodeType:
    """The uninstrumented original of ``code``, or ``code`` itself."""
    return _ORIGINALS.get(code, code)


class Instrumented:
    """An instrumented code tree and the handle to read its counts."""

    def __init__(
        self, code: CodeType, plans: list[tuple[tuple[int, ...], CodePlan]], original: CodeType
    ) -> None:
        self.code = code
        self.original = original
        self._plans = plans
        # Both trees have the same shape: probes only append constants.
        for (_, new), (_, old) in zip(iter_code_tree(code), iter_code_tree(original), strict=True):
            _ORIGINALS[new] = old

    def counts(self) -> list[CodeCounts]:
        """Counts for every code object of the tree, root first, depth-first."""
        result = []
        for path, plan in self._plans:
            instructions, branches = plan.counts()
            result.append(
                CodeCounts(plan.qualname, plan.name, plan.firstlineno, path, instructions, branches)
            )
        return result

    def reset(self) -> None:
        """Zero every counter of the tree."""
        for _, plan in self._plans:
            plan.reset()

    def dumps(self) -> bytes:
        """Serialise code and plans for the instrumentation cache (no pickle)."""
        from pytest_bytecode.engine.persist import dumps

        return dumps(self.code, self._plans, self.original)


def loads(data: bytes) -> Instrumented:
    """Load what :meth:`Instrumented.dumps` wrote, with fresh zero counters.

    Raises ValueError for anything else, including data written by another
    Python version or engine format.
    """
    from pytest_bytecode.engine.persist import loads as _loads

    code, plans, original = _loads(data)
    return Instrumented(code, plans, original)


def _instrument_tree(
    code: CodeType, path: tuple[int, ...], plans: list[tuple[tuple[int, ...], CodePlan]]
) -> CodeType:
    slot = len(plans)
    plans.append((path, None))  # type: ignore[arg-type]  # filled in below, keeps root first
    consts = list(code.co_consts)
    changed = False
    for index, const in enumerate(consts):
        if isinstance(const, CodeType):
            consts[index] = _instrument_tree(const, (*path, index), plans)
            changed = True
    if changed:
        code = code.replace(co_consts=tuple(consts))
    new_code, plan = instrument_code(code)
    plans[slot] = (path, plan)
    return new_code


def instrument(code: CodeType) -> Instrumented:
    """Instrument ``code`` and every code object among its constants."""
    plans: list[tuple[tuple[int, ...], CodePlan]] = []
    new_code = _instrument_tree(code, (), plans)
    return Instrumented(new_code, plans, code)


def instrument_function(func: Callable[..., Any]) -> Instrumented:
    """Replace ``func.__code__`` with instrumented code; return its handle."""
    inst = instrument(func.__code__)
    func.__code__ = inst.code
    return inst


def iter_code_tree(
    code: CodeType, path: tuple[int, ...] = ()
) -> Iterator[tuple[tuple[int, ...], CodeType]]:
    """Every code object in ``code``'s tree with its path, root first."""
    yield path, code
    for index, const in enumerate(code.co_consts):
        if isinstance(const, CodeType):
            yield from iter_code_tree(const, (*path, index))
