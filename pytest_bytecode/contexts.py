"""Per-test contexts: which tests ran each instruction and branch outcome.

A *context* is one phase of one test, named ``NODEID|setup``,
``NODEID|call`` or ``NODEID|teardown`` (pytest's names for the phases);
what runs outside any test phase, such as module bodies imported at
collection, is the empty context ``""``, as in coverage.py.
:class:`Contexts` holds the names once, numbered, and per file and code
object (keyed ``(qualname, firstlineno, n)`` like the counts,
:func:`~pytest_bytecode.data.code_keys`), per context, the bit set of
what that context ran (:func:`~pytest_bytecode.engine.activity.ran_bits`:
instructions in the code object's order, then two bits per conditional
jump).

On disk (the data file's ``contexts`` key, :meth:`Contexts.to_json`) the
contexts of a code object are grouped by bit set, since most tests that run
a function run the same path through it: ``[qualname, firstlineno, n,
[[BITS_HEX, [context numbers]], ...]]``.

:class:`CodeContexts` answers the reports' questions about one code object:
which contexts ran this instruction, this branch outcome, this line.
:func:`only_contexts` is the data as if only the matching contexts had run
(``pytest-bytecode report --context``).

No pytest import here: recording is :mod:`pytest_bytecode.recorder`'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_bytecode.engine.model import BranchCount, BranchOutcome, CodeCounts, InstructionCount
from pytest_bytecode.engine.records import field, record, replace

if TYPE_CHECKING:
    from pytest_bytecode.data import CovData

CodeKey = tuple[str, int, int]

#: The phases of a test that are contexts, in pytest's words and order.
PHASES = ("setup", "call", "teardown")
#: The context of what runs outside any test phase (imports at collection).
OUTSIDE = ""


def context_name(nodeid: str, phase: str) -> str:
    """The context of one phase of one test: ``NODEID|PHASE``."""
    return f"{nodeid}|{phase}"


def nodeid_of(context: str) -> str:
    """The node id of a context's test (its name without ``|PHASE``)."""
    nodeid, sep, phase = context.rpartition("|")
    return nodeid if sep and phase in PHASES else context


@record
class Contexts:
    """Context names, and per file and code object what each context ran.

    Also what test selection (:mod:`pytest_bytecode.affected`) compares
    against: each measured code object's ``fingerprints``, each test's
    record (``tests``: node id -> (outcome, test module)), and each test
    module's digest (``test_files``).
    """

    names: list[str] = field(default_factory=list)
    #: path -> code key -> context number -> bits
    files: dict[str, dict[CodeKey, dict[int, int]]] = field(default_factory=dict)
    #: path -> code key -> fingerprint (affected.code_fingerprint)
    fingerprints: dict[str, dict[CodeKey, str]] = field(default_factory=dict)
    #: node id -> (outcome, test module path)
    tests: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: test module path -> digest (affected.test_file_digest)
    test_files: dict[str, str] = field(default_factory=dict)
    #: The run measured child processes too (their code has no contexts).
    children: bool = False
    _numbers: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._numbers = {name: i for i, name in enumerate(self.names)}

    def number(self, name: str) -> int:
        """The number of context ``name`` (added if new)."""
        found = self._numbers.get(name)
        if found is None:
            found = self._numbers[name] = len(self.names)
            self.names.append(name)
        return found

    def add(self, path: str, key: CodeKey, context: int, bits: int) -> None:
        """Record that ``context`` ran the ``bits`` of a code object (ORed in)."""
        codes = self.files.setdefault(path, {})
        ran = codes.setdefault(key, {})
        ran[context] = ran.get(context, 0) | bits

    def merge(self, other: Contexts) -> None:
        """Add ``other``'s contexts; its fingerprints and test records win
        (they are the later run's, or the same)."""
        renumber = [self.number(name) for name in other.names]
        self.fingerprints.update(other.fingerprints)
        self.tests.update(other.tests)
        self.test_files.update(other.test_files)
        self.children = self.children or other.children
        for path, codes in other.files.items():
            mine = self.files.setdefault(path, {})
            for key, ran in codes.items():
                target = mine.setdefault(key, {})
                for context, bits in ran.items():
                    n = renumber[context]
                    target[n] = target.get(n, 0) | bits

    def copy(self) -> Contexts:
        """A copy that can change without changing this one."""
        result = Contexts(list(self.names))
        result.merge(self)
        return result

    def tested(self) -> set[str]:
        """The node ids of every test with a recorded context."""
        return {nodeid_of(name) for name in self.names if name != OUTSIDE}

    def of_file(self, path: str) -> dict[CodeKey, dict[int, int]]:
        """The code objects of ``path`` that some context ran (empty if none)."""
        return self.files.get(path, {})

    # --- the data file ---------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """As the data file writes it (grouped by bit set, see the module doc)."""
        files: dict[str, list[Any]] = {}
        for path, codes in sorted(self.files.items()):
            rows = []
            for (qualname, firstlineno, n), ran in sorted(codes.items()):
                groups: dict[int, list[int]] = {}
                for context, bits in sorted(ran.items()):
                    groups.setdefault(bits, []).append(context)
                rows.append(
                    [qualname, firstlineno, n, [[f"{b:x}", ids] for b, ids in groups.items()]]
                )
            files[path] = rows
        out: dict[str, Any] = {"names": list(self.names), "files": files}
        if self.fingerprints:
            out["fingerprints"] = {
                path: [[*key, fingerprint] for key, fingerprint in sorted(codes.items())]
                for path, codes in sorted(self.fingerprints.items())
            }
        if self.tests:
            out["tests"] = {nodeid: list(record) for nodeid, record in sorted(self.tests.items())}
        if self.test_files:
            out["test_files"] = dict(sorted(self.test_files.items()))
        if self.children:
            out["children"] = True
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Contexts:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on bad data."""
        names = raw["names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("contexts: names must be a list of strings")
        if len(set(names)) != len(names):
            raise ValueError("contexts: a context is named twice")
        result = cls(list(names))
        if not isinstance(raw["files"], dict):
            raise ValueError("contexts: files must be an object")
        for path, rows in raw["files"].items():
            codes: dict[CodeKey, dict[int, int]] = {}
            for row in _list(rows, "contexts of a file"):
                qualname, firstlineno, n, groups = _list(row, "a code object's contexts")
                key = (_str(qualname), _count(firstlineno), _count(n))
                ran = codes.setdefault(key, {})
                for bits_hex, ids in _list(groups, "contexts of a code object"):
                    bits = _bits(bits_hex)
                    for context in _list(ids, "context numbers"):
                        if _count(context) >= len(names):
                            raise ValueError(f"contexts: no context number {context}")
                        ran[context] = ran.get(context, 0) | bits
            result.files[str(path)] = codes
        for path, rows in _dict(raw.get("fingerprints", {}), "fingerprints").items():
            result.fingerprints[str(path)] = {
                (_str(q), _count(line), _count(n)): _str(fingerprint)
                for q, line, n, fingerprint in _list(rows, "fingerprints of a file")
            }
        for nodeid, row in _dict(raw.get("tests", {}), "tests").items():
            outcome, module = _list(row, "a test record")
            result.tests[str(nodeid)] = (_str(outcome), _str(module))
        for module, digest in _dict(raw.get("test_files", {}), "test_files").items():
            result.test_files[str(module)] = _str(digest)
        result.children = raw.get("children", False) is True
        return result


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"contexts: {what} must be a list, not {type(value).__name__}")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"contexts: {what} must be an object, not {type(value).__name__}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"contexts: {value!r:.40} is not a string")
    return value


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"contexts: {value!r:.40} is not a non-negative integer")
    return value


_HEX = re.compile(r"[0-9a-f]+")


def _bits(value: Any) -> int:
    if not isinstance(value, str) or _HEX.fullmatch(value) is None:
        raise ValueError(f"contexts: {value!r:.40} is not a bit set (lower-case hex)")
    return int(value, 16)


# --- questions of the reports ----------------------------------------------------


class CodeContexts:
    """The contexts that ran one code object's instructions and branch outcomes.

    ``code`` must be the code object the bits were recorded against (the data
    file's, before exclusions and filters); questions name instructions and
    conditional jumps by offset, so they can be asked about a filtered view.
    """

    def __init__(self, code: CodeCounts, ran: dict[int, int], names: Sequence[str]) -> None:
        self.names = names
        self._ran = ran
        n = len(code.instructions)
        self._instruction_bit = {ins.offset: i for i, ins in enumerate(code.instructions)}
        self._branch_bit = {b.offset: n + 2 * j for j, b in enumerate(code.branches)}
        self._line_mask: dict[int | None, int] = {}
        for i, ins in enumerate(code.instructions):
            self._line_mask[ins.line] = self._line_mask.get(ins.line, 0) | 1 << i
        for j, branch in enumerate(code.branches):
            mask = 3 << (n + 2 * j)
            self._line_mask[branch.line] = self._line_mask.get(branch.line, 0) | mask

    def _with(self, mask: int) -> list[int]:
        return sorted(c for c, bits in self._ran.items() if bits & mask)

    def instruction(self, offset: int) -> list[int]:
        """The contexts (numbers, in order) that ran the instruction at ``offset``."""
        bit = self._instruction_bit.get(offset)
        return [] if bit is None else self._with(1 << bit)

    def outcome(self, offset: int, jumped: bool) -> list[int]:
        """The contexts that took one outcome of the conditional jump at ``offset``."""
        bit = self._branch_bit.get(offset)
        return [] if bit is None else self._with(1 << (bit + jumped))

    def line(self, line: int) -> list[int]:
        """The contexts that ran anything of ``line`` in this code object."""
        return self._with(self._line_mask.get(line, 0))


def code_contexts(
    codes: Sequence[CodeCounts], ran: dict[CodeKey, dict[int, int]], names: Sequence[str]
) -> list[CodeContexts | None]:
    """A :class:`CodeContexts` per code object of one file (None where no
    context ran it); ``codes`` as recorded, in the data file's order."""
    from pytest_bytecode.data import code_keys

    return [
        CodeContexts(code, ran[key], names) if key in ran else None
        for code, key in zip(codes, code_keys(codes), strict=True)
    ]


@record(frozen=True)
class FileContexts:
    """One file's contexts, for the reports: :meth:`per_code` on demand."""

    names: Sequence[str]
    #: The file's code objects as recorded (before exclusions and filters).
    codes: Sequence[CodeCounts]
    ran: dict[CodeKey, dict[int, int]]

    def per_code(self) -> list[CodeContexts | None]:
        """A :class:`CodeContexts` per code object, in the file's order."""
        return code_contexts(self.codes, self.ran, self.names)


def matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """Whether a context name matches one of ``patterns`` (regular
    expressions, searched for anywhere in the name, as coverage.py's
    ``--contexts``); ValueError names a pattern that does not compile."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
    return lambda name: any(p.search(name) for p in compiled)


def only_contexts(code: CodeCounts, ran: dict[int, int] | None, keep: Sequence[bool]) -> CodeCounts:
    """``code`` as if only the contexts ``keep`` marks had run: a count of 1
    for what one of them ran, 0 for the rest (contexts record what ran, not
    how often)."""
    bits = 0
    for context, its in (ran or {}).items():
        if keep[context]:
            bits |= its
    n = len(code.instructions)
    instructions = tuple(
        InstructionCount(ins.offset, ins.opname, ins.line, (bits >> i) & 1)
        for i, ins in enumerate(code.instructions)
    )
    branches = tuple(
        BranchCount(
            b.offset,
            b.opname,
            b.line,
            (
                BranchOutcome(b.outcomes[0].target_offset, (bits >> (n + 2 * j)) & 1),
                BranchOutcome(b.outcomes[1].target_offset, (bits >> (n + 2 * j + 1)) & 1),
            ),
        )
        for j, b in enumerate(code.branches)
    )
    return CodeCounts(
        code.qualname,
        code.name,
        code.firstlineno,
        code.path,
        instructions,
        branches,
        code.generated,
    )


def restrict(data: CovData, keep: Callable[[str], bool]) -> CovData:
    """``data`` as if only the contexts whose names ``keep`` accepts had run
    (:func:`only_contexts` for every code object); the contexts kept are the
    matching ones.  ``data`` must have contexts."""
    from pytest_bytecode.data import code_keys

    assert data.contexts is not None
    contexts = data.contexts
    kept = [keep(name) for name in contexts.names]
    files = {}
    for path, fdata in data.files.items():
        ran = contexts.of_file(path)
        codes = [
            only_contexts(code, ran.get(key), kept)
            for code, key in zip(fdata.code_objects, code_keys(fdata.code_objects), strict=True)
        ]
        files[path] = replace(fdata.copy(), code_objects=codes)
    only = contexts.copy()  # numbers as they were
    for codes_of_file in only.files.values():
        for ran_of_code in codes_of_file.values():
            for context in [c for c in ran_of_code if not kept[c]]:
                del ran_of_code[context]
    return replace(data, files=files, contexts=only)
