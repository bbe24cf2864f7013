"""Measured code survives the ``bytecode`` library, as plain code does.

Tools that rewrite functions take their code apart and put it together again
(``bytecode.Bytecode.from_code(code).to_code()``: the library behind many
such tools).  Putting it together computes the stack depth along every path
of the code, taken or not, so every path into an instruction must arrive
with the same stack.  The 3.10-3.11 handler stubs' never-exhausted
``FOR_ITER`` once jumped into the middle of the stub, where the stack was
two items shallower: the library refused every measured function on 3.11
and every one with an ``except`` on 3.10 ("Failed to compute stacksize").

Here every program of the engine's corpus is instrumented, every code
object of it reassembled by the library (inner ones first, so that the
reassembled module makes reassembled functions), and the reassembled
program must run as the plain one does: same result, same output, same
traceback.
"""

from __future__ import annotations

import types

import pytest
from test_engine_oracle import Program, corpus, execute

from pytest_bytecode import versions
from pytest_bytecode.engine import instrument

if versions.IS_PYODIDE:
    pytest.skip("Pyodide: the bytecode library is not installed there", allow_module_level=True)

from bytecode import Bytecode  # after the Pyodide skip


def _reassembled(code: types.CodeType) -> types.CodeType:
    """``code`` taken apart and put together by the library, its inner code
    objects first."""
    consts = tuple(
        _reassembled(const) if isinstance(const, types.CodeType) else const
        for const in code.co_consts
    )
    return Bytecode.from_code(code.replace(co_consts=consts)).to_code()


@pytest.mark.parametrize("prog", corpus(), ids=lambda p: p.name)
def test_reassembled_measured_programs_run_as_plain_ones(prog: Program) -> None:
    reason = prog.skip_reason()
    if reason:
        pytest.skip(reason)
    plain = execute(prog, prog.compile(), trace_lines=False)
    _reassembled(prog.compile())  # the library takes the plain program
    measured = _reassembled(instrument(prog.compile()).code)
    again = execute(prog, measured, trace_lines=False)
    assert (again.outcome, again.stdout, again.tb) == (plain.outcome, plain.stdout, plain.tb)
