"""Test selection (``--bytecode-cov-affected``): which tests a change can affect.

The data file of a run with contexts remembers, besides which test phases
ran each code object, and which ran outside any test (the empty context,
:mod:`pytest_bytecode.contexts`):

* each measured code object's *fingerprint*: a hash of what it compiles to
  with positions left out (:func:`code_fingerprint`: its instructions,
  constants, names, flags and exception table; no line numbers, columns or
  file name, no ``NOP`` kept for a line event, jump targets as positions in
  the instruction stream, and a nested code object stands for itself by
  name only), so that an edit to a comment, a blank line, the line breaks
  of a statement or another function leaves it alone;
* each test's outcome and test module, and a digest of every test module
  together with the ``conftest.py`` files above it (:func:`test_file_digest`).

:func:`choose` compares that with the sources now.  A test runs when it
ran a code object whose fingerprint changed or that is gone; when it ran
anything of a file in which a changed code object had run outside the
tests (a module or class body, or what it calls at import: it shapes what
every function of the file sees), or of a file that is gone; when its test module or a
conftest above it changed; when it is new; or when it failed last time.
Code objects are matched across the edit by qualified name and order
(``firstlineno`` moves with every line added above).

After a run that left tests out, the data file keeps what it knew of them
(:func:`carry_over`): their outcomes, and what they ran of code objects
whose fingerprint did not change, keyed to where those code objects now
stand, so the next selection still knows them.  Counts are this run's only.

No pytest import here.
"""

from __future__ import annotations

import dis
import hashlib
import inspect
import os
import types
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from pytest_bytecode import versions
from pytest_bytecode.contexts import OUTSIDE, CodeKey, Contexts, nodeid_of
from pytest_bytecode.engine.records import field, record

#: What a test's last outcome is recorded as; ``STALE``: left out of a run
#: after a change that affects it, to run next time.
FAILED = "failed"
PASSED = "passed"
STALE = "stale"

#: The instructions whose argument is a constant's index.
HAS_CONST = frozenset(dis.hasconst)

#: Names a class body stores its own position in (3.13+: ``__firstlineno__``,
#: from a constant; 3.14+ with ``LOAD_SMALL_INT``): left out of fingerprints.
LINE_NAMES = frozenset({"__firstlineno__"})

#: Marks the fingerprint of a body that runs at import (a module's, a
#: class's): a change to it selects every test.
BODY = "body:"  # not a hex digit


def _const(value: object) -> str:
    """A constant as text that is the same in every process (a frozenset's
    order follows string hashing, which changes from run to run)."""
    if isinstance(value, types.CodeType):
        return "code:" + getattr(value, "co_qualname", value.co_name)
    if isinstance(value, tuple):
        return "(" + ",".join(map(_const, value)) + ")"
    if isinstance(value, frozenset):
        return "{" + ",".join(sorted(map(_const, value))) + "}"
    return f"{type(value).__name__}:{value!r}"


def _instructions(code: types.CodeType) -> tuple[str, set[int | None]]:
    """The instruction stream without ``NOP`` (the compiler leaves one where
    a statement spans lines, to keep a line event: a formatting change),
    superinstructions as the two they join (made only within one line),
    3.14's ``LOAD_FAST_BORROW`` as the ``LOAD_FAST`` it stands for,
    jump targets and exception-table ranges as positions in that stream,
    constants by value (and the indexes of those loaded), and the value a
    class body stores in ``__firstlineno__`` (3.13+) left out."""
    every = list(dis.get_instructions(code))
    instrs = [i for i in every if i.opname != "NOP"]
    index_at: dict[int, int] = {}
    position = 0
    for ins in every:
        index_at[ins.offset] = position
        if ins.opname != "NOP":
            position += 2 if ins.opname in versions.SUPERINSTRUCTIONS else 1

    def at(offset: int) -> int:
        found = index_at.get(offset)
        return found if found is not None else max(index_at.values(), default=0) + 1

    parts = []
    used: set[int | None] = set()
    for i, ins in enumerate(instrs):
        after = instrs[i + 1] if i + 1 < len(instrs) else None
        if after is not None and after.opname == "STORE_NAME" and after.argval in LINE_NAMES:
            parts.append("LOAD:" + str(after.argval))  # 3.13+: a class body's own line
            if ins.opcode in HAS_CONST:
                used.add(ins.arg)
            continue
        split = versions.SUPERINSTRUCTIONS.get(ins.opname)
        if ins.opcode in versions.JUMP_OPCODES and isinstance(ins.argval, int):
            parts.append(f"{ins.opname}>{at(ins.argval)}")
        elif ins.opcode in HAS_CONST:  # by value: indexes move as constants merge
            used.add(ins.arg)
            parts.append(f"{ins.opname}={_const(ins.argval)}")
        elif split is not None and ins.arg is not None:
            # Joined only on one line: as the two instructions it stands for.
            parts.append(f"{split[0]}:{ins.arg >> 4} {split[1]}:{ins.arg & 15}")
        else:
            parts.append(f"{versions.SAME_EFFECT.get(ins.opname, ins.opname)}:{ins.arg}")
    for entry in getattr(dis.Bytecode(code), "exception_entries", ()):
        parts.append(f"x{at(entry.start)}-{at(entry.end)}>{at(entry.target)}:{entry.depth}")
    return " ".join(parts), used


def code_fingerprint(code: types.CodeType) -> str:
    """What ``code`` compiles to, positions and nested bodies left out (hex)."""
    instructions, used = _instructions(code)
    unused = tuple(c for k, c in enumerate(code.co_consts) if k not in used)  # docstrings
    parts = (
        instructions,
        _const(unused),
        repr(code.co_names),
        repr(code.co_varnames),
        repr(code.co_freevars),
        repr(code.co_cellvars),
        repr((code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount)),
        repr(code.co_flags),
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _tree(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _tree(const)


def file_fingerprints(source: bytes, filename: str) -> dict[CodeKey, str] | None:
    """Every code object of ``source``, compiled as a module is, by its
    ``(qualname, firstlineno, n)`` key; None when it does not compile."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the import's to give, if anyone's
            root = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    seen: dict[tuple[str, int], int] = {}
    out: dict[CodeKey, str] = {}
    for code in _tree(root):
        name = (getattr(code, "co_qualname", code.co_name), code.co_firstlineno)
        n = seen.get(name, 0)
        seen[name] = n + 1
        body = not code.co_flags & inspect.CO_OPTIMIZED  # a module's or a class's
        out[(name[0], name[1], n)] = (BODY if body else "") + code_fingerprint(code)
    return out


def _by_order(fingerprints: Mapping[CodeKey, str]) -> dict[tuple[str, int], CodeKey]:
    """``(qualname, i)`` (the ``i``-th code object of that name, in line
    order) -> its key: how code objects are matched across an edit."""
    seen: dict[str, int] = {}
    out: dict[tuple[str, int], CodeKey] = {}
    for key in sorted(fingerprints, key=lambda k: (k[1], k[2])):
        i = seen.get(key[0], 0)
        seen[key[0]] = i + 1
        out[(key[0], i)] = key
    return out


def moved_keys(
    old: Mapping[CodeKey, str], new: Mapping[CodeKey, str]
) -> tuple[dict[CodeKey, CodeKey], set[CodeKey]]:
    """Across an edit: the old key -> new key of every code object whose
    fingerprint is unchanged, and the old keys of those changed or gone."""
    new_order = _by_order(new)
    same: dict[CodeKey, CodeKey] = {}
    changed: set[CodeKey] = set()
    for slot, key in _by_order(old).items():
        now = new_order.get(slot)
        if now is not None and new[now] == old[key]:
            same[key] = now
        else:
            changed.add(key)
    return same, changed


def test_file_digest(module: Path, rootdir: Path) -> str:
    """A digest of a test module and the ``conftest.py`` files in its folder
    and every folder above it up to ``rootdir`` ("" if it cannot be read)."""
    digest = hashlib.sha256()
    try:
        digest.update(module.read_bytes())
    except (OSError, ValueError):
        return ""
    folder = module.parent
    root = rootdir.resolve()
    while True:
        conftest = folder / "conftest.py"
        if conftest.is_file():
            where = os.path.relpath(conftest.resolve(), root)  # the same in any checkout
            digest.update(os.fsencode(where) + b"\0")
            try:
                digest.update(conftest.read_bytes())
            except (OSError, ValueError):
                return ""
        if folder.resolve() == root or folder.parent == folder:
            break
        folder = folder.parent
    return digest.hexdigest()[:16]


@record
class Choice:
    """Which tests to run, and why (counts for the summary line)."""

    run: set[str] = field(default_factory=set)
    #: reason -> how many tests it selected (a test counts under its first reason)
    reasons: dict[str, int] = field(default_factory=dict)
    #: Changed code, as "path: qualname" (for the summary line and -v).
    changed: list[str] = field(default_factory=list)
    #: The previous data cannot be used: every test runs, and why.
    unusable: str = ""

    def add(self, nodeid: str, reason: str) -> None:
        if nodeid not in self.run:
            self.run.add(nodeid)
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


def changed_code(
    previous: Contexts, sha256: Mapping[str, str], base: Path
) -> tuple[dict[str, set[CodeKey]], set[str], dict[str, dict[CodeKey, CodeKey]]]:
    """Against the sources under ``base`` now, for the files some context
    ran: per file the old keys of code objects that changed or are gone;
    the files everything that ran them is affected by (gone, not compiling,
    no fingerprints while changed, or a changed code object that ran
    outside the tests: a module or class body, or code they call at import,
    which shapes what every function of the file sees); and per file how
    the unchanged code objects moved (old key -> new key)."""
    changed: dict[str, set[CodeKey]] = {}
    whole: set[str] = set()
    moved: dict[str, dict[CodeKey, CodeKey]] = {}
    outside = previous.names.index(OUTSIDE) if OUTSIDE in previous.names else -1
    for path in previous.files.keys() | previous.fingerprints.keys():
        file = Path(path) if Path(path).is_absolute() else base / path
        old = previous.fingerprints.get(path)
        try:
            source = file.read_bytes()
        except (OSError, ValueError):  # gone, or a name no system takes
            whole.add(path)
            continue
        if hashlib.sha256(source).hexdigest() == sha256.get(path):
            moved[path] = {key: key for key in (old or previous.files.get(path, {}))}
            continue
        new = file_fingerprints(source, str(file))
        if new is None or old is None:
            whole.add(path)
            continue
        same, gone = moved_keys(old, new)
        moved[path] = same
        if gone:
            changed[path] = gone
            ran = previous.of_file(path)
            if any(outside in ran.get(key, {}) for key in gone):
                whole.add(path)
    return changed, whole, moved


def _everything(previous: Contexts, changed: Mapping[str, set[CodeKey]]) -> str:
    """Why every test is affected, or "": a changed code object that runs
    at import (a module's or a class's body: what it defines every test may
    read, imported anywhere), or one that ran outside the tests or in a
    test's setup or teardown (a fixture's setup runs once for all the tests
    of its scope, in the first one's)."""
    shared = [
        i for i, name in enumerate(previous.names) if name == OUTSIDE or _phase(name) != "call"
    ]
    for path, keys in sorted(changed.items()):
        fingerprints = previous.fingerprints.get(path, {})
        ran = previous.of_file(path)
        for key in sorted(keys):
            if fingerprints.get(key, "").startswith(BODY):
                return f"{path}: {key[0]} (runs at import)"
            by_context = ran.get(key, {})
            if any(i in by_context for i in shared):
                return f"{path}: {key[0]} (ran outside a test's call)"
    return ""


def _phase(context: str) -> str:
    return context.rpartition("|")[2]


def choose(
    previous: Contexts,
    sha256: Mapping[str, str],
    base: Path,
    tests: Mapping[str, str],
    digests: Mapping[str, str],
) -> Choice:
    """Which of ``tests`` (node id -> test module path, as the data file
    names it) to run, against the sources under ``base``; ``digests``: the
    :func:`test_file_digest` of each test module now."""
    choice = Choice()
    if previous.children:
        choice.unusable = "its run measured child processes, whose code has no contexts"
    changed, whole, _ = changed_code(previous, sha256, base)
    everything = _everything(previous, changed)
    if everything:
        choice.changed.append(everything)
    ran: dict[str, set[str]] = {}  # node id -> reasons from the code it ran
    for path, codes in previous.files.items():
        gone = changed.get(path, set())
        for key, by_context in codes.items():
            if path in whole or key in gone:
                for context in by_context:
                    if previous.names[context] != OUTSIDE:
                        ran.setdefault(nodeid_of(previous.names[context]), set()).add(path)
    for path in sorted(changed):
        for key in sorted(changed[path]):
            named = f"{path}: {key[0]}"
            if not everything.startswith(named + " ("):  # named once, with its reason
                choice.changed.append(named)
    choice.changed.extend(f"{path}: (module)" for path in sorted(whole - set(changed)))
    for nodeid, module in tests.items():
        record = previous.tests.get(nodeid)
        if choice.unusable:
            choice.add(nodeid, "every test")
        elif record is None:
            choice.add(nodeid, "new")
        elif record[0] == FAILED:
            choice.add(nodeid, "failed last time")
        elif record[0] == STALE:
            choice.add(nodeid, "left out after a change")
        elif everything:
            choice.add(nodeid, "shared code changed")
        elif nodeid in ran:
            choice.add(nodeid, "ran changed code")
        elif previous.test_files.get(module) != digests.get(module):
            choice.add(nodeid, "test file changed")
    return choice


def carry_over(
    previous: Contexts,
    sha256: Mapping[str, str],
    base: Path,
    left_out: set[str],
    into: Contexts,
    same_shape: Callable[[str, CodeKey, CodeKey], bool],
) -> set[str]:
    """Keep in ``into`` (this run's contexts) what ``previous`` knew of the
    tests ``left_out`` of this run: their records, their test files'
    digests, and what they ran of code objects that did not change, under
    those code objects' keys now.  Returns the tests whose bits could not
    move: the code object kept its fingerprint but not its instructions
    (``same_shape`` says no: a line-event ``NOP`` or a superinstruction
    less), so bit ``i`` would name another instruction."""
    _, whole, moved = changed_code(previous, sha256, base)
    renumber: dict[int, int] = {}
    for context, name in enumerate(previous.names):
        if nodeid_of(name) in left_out:
            renumber[context] = into.number(name)
    unmoved: set[str] = set()
    for path, codes in previous.files.items():
        if path in whole:
            continue
        keys = moved.get(path, {})
        for key, by_context in codes.items():
            now = keys.get(key)
            if now is None:
                continue
            shaped = same_shape(path, key, now)
            for context, bits in by_context.items():
                if context not in renumber:
                    continue
                if shaped:
                    into.add(path, now, renumber[context], bits)
                else:
                    unmoved.add(nodeid_of(previous.names[context]))
    for nodeid in left_out:
        record = previous.tests.get(nodeid)
        if record is not None and nodeid not in into.tests:
            into.tests[nodeid] = record
            module = record[1]
            if module in previous.test_files and module not in into.test_files:
                into.test_files[module] = previous.test_files[module]
    return unmoved
