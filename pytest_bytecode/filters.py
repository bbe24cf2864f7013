"""Filters for compiler-made instructions: which are on, and what they do to counts.

The engine names the instructions CPython made up for no statement of the
user's (:mod:`pytest_bytecode.engine.generated`); the reports' figures leave
them out, or fold an exception-path copy into the code it copies, so that
what is missed is something the user wrote.  Filters change what the
reports count, never what was measured: the data file keeps every
instruction's count.

``--bytecode-cov-filters`` (ini ``bytecode_cov_filters``, and
``pytest-bytecode report --filters``) takes ``default`` (all of them),
``none``, or a comma-separated list of filter names; names prefixed with
``-`` switch a filter off from the default set (``-no-line``).
"""

from __future__ import annotations

from pytest_bytecode.engine.generated import COPY, FILTERS
from pytest_bytecode.engine.model import BranchCount, BranchOutcome, CodeCounts, InstructionCount

#: Every filter, on by default.
DEFAULT: frozenset[str] = frozenset(FILTERS)

#: Filters whose instructions a jump's outcome can lead into only when the
#: outcome itself is made up (the "no ``except`` clause matched" way): such a
#: jump is left out.  A helper (3.14's ``NOT_TAKEN`` on the fall-through), a
#: copy or an instruction without a line is where real outcomes land too.
_DEAD_ENDS = frozenset(
    {
        "with-exit",
        "throw-cleanup",
        "implicit-await",
        "exception-cleanup",
        "annotations",
        "unreachable",
    }
)


class FilterError(ValueError):
    """A filter list that names no known filter or mixes the two forms."""


def parse(value: str, where: str = "--bytecode-cov-filters=") -> frozenset[str]:
    """The filters ``value`` switches on; raises :class:`FilterError` with a
    one-line message naming ``where``, the value and the rule."""
    text = value.strip()
    if text in ("", "default"):
        return DEFAULT
    if text == "none":
        return frozenset()
    names = [n.strip() for n in text.split(",") if n.strip()]
    removed = [n[1:] for n in names if n.startswith("-")]
    added = [n for n in names if not n.startswith("-")]
    unknown = [n for n in removed + added if n not in FILTERS]
    if unknown:
        raise FilterError(
            f"{where}{value}: unknown filter {unknown[0]!r} "
            f"(known: default, none, {', '.join(FILTERS)}; '-NAME' switches one off)"
        )
    if removed and added:
        raise FilterError(
            f"{where}{value}: either name the filters to use or switch some off with "
            "'-NAME', not both"
        )
    return DEFAULT - set(removed) if removed else frozenset(added)


def apply(code: CodeCounts, enabled: frozenset[str]) -> CodeCounts:
    """``code`` as the reports count it with the ``enabled`` filters:
    made-up instructions and conditional jumps left out, exception-path
    copies folded into their twins (counts added up).  ``code`` itself when
    nothing changes."""
    tags = {offset: (name, twin) for offset, name, twin in code.generated if name in enabled}
    if not tags:
        return code
    instructions = code.instructions
    # What each copy adds to its twin (a twin that is an instruction and is
    # kept); copies that never ran add nothing, and most never do.
    added: dict[int, int] = {}
    copies = [(offset, twin) for offset, (name, twin) in tags.items() if name == COPY]
    if copies:
        count_at = {ins.offset: ins.count for ins in instructions}
        for offset, twin in copies:
            n = count_at.get(offset)
            if n and twin in count_at and twin not in tags:
                added[twin] = added.get(twin, 0) + n
    kept = tuple(
        ins
        if ins.offset not in added
        else InstructionCount(ins.offset, ins.opname, ins.line, ins.count + added[ins.offset])
        for ins in instructions
        if ins.offset not in tags
    )
    return CodeCounts(
        code.qualname,
        code.name,
        code.firstlineno,
        code.path,
        kept,
        _branches(code, tags),
        code.generated,
    )


def _branches(code: CodeCounts, tags: dict[int, tuple[str, int]]) -> tuple[BranchCount, ...]:
    """The conditional jumps that stay, with the outcomes of their folded copies."""
    by_offset = {b.offset: b for b in code.branches}
    folded: dict[int, list[BranchCount]] = {}
    for branch in code.branches:
        tag = tags.get(branch.offset)
        if tag is not None and tag[0] == COPY and tag[1] in by_offset:
            folded.setdefault(tag[1], []).append(branch)
    out = []
    for branch in code.branches:
        if branch.offset in tags:
            continue
        fall, jump = branch.outcomes
        if _dead_end(tags, fall.target_offset) or _dead_end(tags, jump.target_offset):
            continue
        for copy in folded.get(branch.offset, []):
            fall, jump = branch.outcomes
            branch = BranchCount(
                branch.offset,
                branch.opname,
                branch.line,
                (
                    BranchOutcome(fall.target_offset, fall.count + copy.outcomes[0].count),
                    BranchOutcome(jump.target_offset, jump.count + copy.outcomes[1].count),
                ),
            )
        out.append(branch)
    return tuple(out)


def _dead_end(tags: dict[int, tuple[str, int]], target: int) -> bool:
    """Whether a jump outcome leads into dead-end made-up code.  ``target`` is
    where the instruction's EXTENDED_ARG prefixes begin (up to three), the
    tags are at its opcode."""
    for offset in range(target, target + 8, 2):
        tag = tags.get(offset)
        if tag is not None:
            return tag[0] in _DEAD_ENDS
    return False


def describe(enabled: frozenset[str]) -> str:
    """The filter setting as the reports name it."""
    if enabled == DEFAULT:
        return "default"
    if not enabled:
        return "none"
    return ",".join(name for name in FILTERS if name in enabled)
