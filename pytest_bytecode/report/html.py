"""The HTML report (``html[:DIR]``, default ``bytecode-htmlcov/``).

One folder, self-contained: ``index.html`` (every file's figures, sortable,
with a filter box and totals), a page per measured file, and the two static
assets of :mod:`pytest_bytecode.report.htmlfiles` (``style.css``,
``report.js``) copied beside them.  Nothing is fetched from elsewhere; the
pages work from ``file://``.  Every shown value (file names, source text,
opnames, qualnames) goes through :func:`html.escape`; the counts a page's
script reads are embedded as JSON with ``<``, ``>`` and ``&`` escaped.

A file page shows the source with line numbers, each line marked (a class
and a marker character, readable without colour):

* ``>`` covered: every counted instruction of the line ran and every outcome
  of its conditional jumps was taken;
* ``~`` partly covered: some ran, and an instruction or a jump outcome did not;
* ``!`` missed: none of its instructions ran;
* ``-`` excluded by coverage.py's exclusion rules.

Within a line, the column spans of the instructions that never ran are
highlighted (:func:`missed_spans`), and each conditional jump's span carries
its outcomes as a tooltip.  The counts model has lines, not columns: the
columns come from the source, compiled again as it was measured
(``compile(source, path, "exec", dont_inherit=True)``) and its code objects
matched to the counted ones by ``(qualname, firstlineno, n)`` as
:mod:`pytest_bytecode.data` keys them; each instruction's span is
``co_positions()`` at its offset.  No span is shown for a code object whose
recompiled instructions differ from the counted ones (compiled through
pytest's assertion rewriting, or another optimisation level), for a file
whose source changed since it was measured (its SHA-256 differs), for data of
another Python minor version, or on Python 3.10, which records no columns:
there whole lines are marked, and the page says why.

The markup is small, for a 20,000-line file's page parses in well under a
second: a line is ``<p id="L12" class="par h4">`` (its class, its heat
bucket) holding ``<b>`` (the marker), ``<code>`` (the text, missed spans as
``<mark>``, jump spans of class ``b``) and, for a line with jumps, ``<i>``
(outcomes taken of all, the jumps in its title); line numbers are a CSS
counter.  The counts the script shows on hover and in the disassembly panel
are one JSON object per page, parsed on first use.

**Contexts.**  When per-test contexts were recorded
(``--bytecode-cov-context=test``; :attr:`Results.context_names` is not
None), the index says how many, and a file page shows which tests ran what
(:func:`page_contexts`): a line some test ran carries ``data-t`` (the number
of tests, shown by the stylesheet: no more markup), its hover panel lists the
contexts, a click lists them all in the disassembly panel, and the
disassembly has a column of tests per instruction (a click lists the
instruction's contexts, and a conditional jump's per outcome).  The page's
JSON holds the names of the contexts it shows once (``cx``, and ``ct`` the
number of each one's test, -1 for :data:`OUTSIDE`), the distinct sets of
them once (``cs``, lists of indexes into ``cx``), and refers to a set by its
index: ``L`` per line, and per code object ``x`` per instruction and ``y``
per conditional jump (fell through, jumped).  Without contexts nothing of
this is written.
"""

from __future__ import annotations

import dis
import hashlib
import html
import itertools
import json
import math
import re
import types
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_bytecode import __version__
from pytest_bytecode.contexts import OUTSIDE, FileContexts, nodeid_of
from pytest_bytecode.engine.model import CodeCounts
from pytest_bytecode.engine.records import field, record
from pytest_bytecode.files import write_atomic
from pytest_bytecode.report.positions import (
    Position,
    Source,
    file_positions,
    missed_spans,
    position_spans,
    read_source,
)
from pytest_bytecode.results import FileResult, Results, Summary, traced_note
from pytest_bytecode.vocabulary import const_text

#: The static files copied into the report folder, from ``htmlfiles/``.
ASSETS = ("style.css", "report.js")

#: Line classes and the marker character shown for each.
MARKERS = {"run": ">", "par": "~", "mis": "!", "exc": "-", "": " "}

#: What each line class means, for the legend.
LEGEND = {
    "run": "covered",
    "par": "partly covered",
    "mis": "missed",
    "exc": "excluded",
}

#: Heat-view buckets: a line's largest count on a log scale, 1..HEAT_LEVELS.
HEAT_LEVELS = 9


def esc(text: object) -> str:
    """``text`` escaped for HTML text and quoted attribute values."""
    return html.escape(str(text), quote=True)


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside ``<script type="application/json">``:
    no ``</script>``, no ``<!--`` can end or change the element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page_name(path: str) -> str:
    """The file name of ``path``'s page: readable, unique, safe in a URL."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path).strip("_")[-80:] or "file"
    digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{stem}_{digest}.html"


# --- columns ------------------------------------------------------------------


#: An instruction's argument in the disassembly panel is cut to this many
#: characters (a docstring's constant, say).
ARGUMENT_WIDTH = 40


def code_arguments(
    matched: Sequence[types.CodeType | None], codes: Sequence[CodeCounts]
) -> list[list[str]]:
    """For each counted code object, its instructions' arguments as ``dis``
    shows them (``argrepr``; constants that ``dis`` shows unstably, code
    objects and frozensets, as the bytecode assertions do), from its match;
    empty where there is none."""
    out: list[list[str]] = []
    for match, counted in zip(matched, codes, strict=True):
        shown: dict[int, str] = {}
        if match is not None:
            for ins in dis.get_instructions(match):
                text = ins.argrepr
                if isinstance(ins.argval, (types.CodeType, frozenset)):
                    # dis shows a code object with its address, a frozenset in
                    # hash order: stable text instead, as the assertions use.
                    text = const_text(ins.argval)
                if len(text) > ARGUMENT_WIDTH:
                    text = text[: ARGUMENT_WIDTH - 1] + "\N{HORIZONTAL ELLIPSIS}"
                shown[ins.offset] = text
        out.append([shown.get(ins.offset, "") for ins in counted.instructions])
    return out


# --- one file's lines ---------------------------------------------------------


def branch_text(opname: str, offset: int, fell: int, jumped: int) -> str:
    """A conditional jump's outcomes in words."""
    ran = fell + jumped
    if not ran:
        return f"{opname} @{offset}: never ran"
    times = "time" if ran == 1 else "times"
    return f"{opname} @{offset}: jumped {jumped} of {ran} {times}, fell through {fell}"


@record
class LineInfo:
    """What one source line shows."""

    ran: int = 0
    missed: int = 0
    top: int = 0
    outcomes: int = 0
    outcomes_taken: int = 0
    jumps: list[str] = field(default_factory=list)

    def state(self, excluded: bool) -> str:
        """The line's class: ``run``, ``par``, ``mis``, ``exc`` or ``""``."""
        if excluded:
            return "exc"
        if not self.ran and not self.missed:
            return ""
        if not self.ran:
            return "mis"
        if self.missed or self.outcomes_taken < self.outcomes:
            return "par"
        return "run"


def line_infos(fres: FileResult) -> dict[int, LineInfo]:
    """Per line: instructions run and missed, largest count, jump outcomes."""
    infos: dict[int, LineInfo] = {}
    for code in fres.code_objects:
        for ins in code.instructions:
            if ins.line is None:
                continue
            info = infos.setdefault(ins.line, LineInfo())
            if ins.count:
                info.ran += 1
                info.top = max(info.top, ins.count)
            else:
                info.missed += 1
        for br in code.branches:
            if br.line is None:
                continue
            info = infos.setdefault(br.line, LineInfo())
            fell, jumped = br.outcomes[0].count, br.outcomes[1].count
            info.outcomes += 2
            info.outcomes_taken += (fell > 0) + (jumped > 0)
            info.jumps.append(branch_text(br.opname, br.offset, fell, jumped))
    return infos


def render_text(
    text: str, missed: Sequence[tuple[int, int]], jumps: Sequence[tuple[int, int, str, bool]]
) -> str:
    """One line's text as HTML: the ``missed`` spans as ``<mark>`` (the first
    piece of each also of class ``nav``, a target of ``j``/``k``) and each
    jump's span (start, end, its outcomes, whether an outcome was never
    taken) of class ``b`` (and ``bp``) with its outcomes as title.  Where spans
    overlap, the text is cut into pieces, each with the classes and titles of
    every span over it."""
    if not missed and not jumps:
        return esc(text)
    cuts = {0, len(text)}
    for start, end in missed:
        cuts.update((start, end))
    for start, end, _, _ in jumps:
        cuts.update((start, end))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    out: list[str] = []
    was_missed = False
    for a, b in itertools.pairwise(points):
        piece = esc(text[a:b])
        is_missed = any(s <= a and b <= e for s, e in missed)
        over = [(t, partial) for s, e, t, partial in jumps if s <= a and b <= e]
        classes = []
        if is_missed and not was_missed:
            classes.append("nav")
        was_missed = is_missed
        if over:
            classes.append("b")
            if any(partial for _, partial in over):
                classes.append("bp")
        tag = "mark" if is_missed else "span"
        if not classes and not is_missed:
            out.append(piece)
            continue
        attrs = f' class="{" ".join(classes)}"' if classes else ""
        if over:
            attrs += f' title="{esc(chr(10).join(t for t, _ in over))}"'
        out.append(f"<{tag}{attrs}>{piece}</{tag}>")
    return "".join(out)


def jump_spans(
    lines: Sequence[str],
    codes: Sequence[CodeCounts],
    positions: Sequence[dict[int, Position] | None],
) -> dict[int, list[tuple[int, int, str, bool]]]:
    """Line -> each conditional jump's span on its own line (a ``for``
    statement's ``FOR_ITER`` spans the whole loop: its body is not the
    jump's), its outcomes in words, and whether an outcome was never taken."""
    out: dict[int, list[tuple[int, int, str, bool]]] = {}
    for code, pos in zip(codes, positions, strict=True):
        if pos is None:
            continue
        for br in code.branches:
            if br.offset not in pos:
                continue
            fell, jumped = br.outcomes[0].count, br.outcomes[1].count
            words = branch_text(br.opname, br.offset, fell, jumped)
            for number, start, end in position_spans(lines, pos[br.offset]):
                if number == br.line:
                    out.setdefault(number, []).append((start, end, words, not (fell and jumped)))
    return out


# --- contexts -----------------------------------------------------------------


@record
class PageContexts:
    """The contexts a file page shows: the names once, every answer of
    :class:`~pytest_bytecode.contexts.CodeContexts` as the number of a set of
    them (set 0 is the empty one)."""

    #: The names of the contexts that ran something shown, in the run's order.
    names: list[str]
    #: The number of each one's test (its node id), in order of appearance;
    #: -1 for :data:`OUTSIDE`.
    tests_of: list[int]
    #: The distinct sets of contexts (indexes into ``names``, in order).
    sets: list[list[int]]
    #: Line -> the set of the contexts that ran it (lines some context ran).
    lines: dict[int, int]
    #: Line -> how many tests ran it (lines some test ran).
    tests: dict[int, int]
    #: Per code object of the page (``FileResult.code_objects``): a set per
    #: instruction and two per conditional jump (fell through, jumped); None
    #: where no context ran the code object.
    codes: list[tuple[list[int], list[list[int]]] | None]


def page_contexts(fres: FileResult, contexts: FileContexts) -> PageContexts:
    """The contexts of ``fres``'s lines, instructions and jump outcomes.

    A line's contexts are those that ran anything of it in any code object:
    its instructions before filters (``raw_code_objects``) and its jumps'
    outcomes; excluded lines are asked nothing."""
    per_code = contexts.per_code()
    raw_codes = fres.raw_code_objects or fres.code_objects
    interned: dict[tuple[int, ...], int] = {(): 0}

    def intern(found: Sequence[int]) -> int:
        return interned.setdefault(tuple(found), len(interned))

    by_line: dict[int, set[int]] = {}
    for raw, cc in zip(raw_codes, per_code, strict=True):
        if cc is None:
            continue
        numbers = {i.line for i in raw.instructions} | {b.line for b in raw.branches}
        for line in numbers:
            if line is not None and (found := cc.line(line)):
                by_line.setdefault(line, set()).update(found)
    lines = {line: intern(sorted(found)) for line, found in sorted(by_line.items())}
    codes: list[tuple[list[int], list[list[int]]] | None] = []
    for code, cc in zip(fres.code_objects, per_code, strict=True):
        if cc is None:
            codes.append(None)
            continue
        codes.append(
            (
                [intern(cc.instruction(i.offset)) for i in code.instructions],
                [
                    [intern(cc.outcome(b.offset, False)), intern(cc.outcome(b.offset, True))]
                    for b in code.branches
                ],
            )
        )
    used = sorted({c for found in interned for c in found})
    local = {c: i for i, c in enumerate(used)}
    names = [contexts.names[c] for c in used]
    test_numbers: dict[str, int] = {}
    tests_of = [
        -1 if n == OUTSIDE else test_numbers.setdefault(nodeid_of(n), len(test_numbers))
        for n in names
    ]
    sets = [[local[c] for c in found] for found in interned]
    tests = {}
    for line, s in lines.items():
        ran = {tests_of[i] for i in sets[s]} - {-1}
        if ran:
            tests[line] = len(ran)
    return PageContexts(names, tests_of, sets, lines, tests, codes)


def contexts_line(results: Results) -> str:
    """The index's line on the recorded contexts (HTML): how many ran code of
    the files listed (not those ``[report] include``/``omit`` left out, nor
    those ``report --context`` did not keep)."""
    names = results.context_names or ()
    ran: set[str] = set()
    for fres in results.files.values():
        if fres.contexts is not None:
            for per_context in fres.contexts.ran.values():
                ran.update(names[c] for c, bits in per_context.items() if bits)
    ran.discard(OUTSIDE)
    tests = len({nodeid_of(name) for name in ran})
    return (
        f'<p class="meta" id="contexts">per-test contexts recorded: {tests} '
        f"test{'' if tests == 1 else 's'} ran code of these files ({len(ran)} "
        f"context{'' if len(ran) == 1 else 's'}: their setup, call and teardown); "
        "a file's page shows the tests that ran each line and instruction</p>\n"
    )


# --- pages --------------------------------------------------------------------


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        '<link rel="stylesheet" href="style.css">\n'
        '<script defer src="report.js"></script>\n</head>\n'
    )


def _figures(s: Summary) -> str:
    return (
        f"{s.instructions} instructions, {s.instructions - s.covered_instructions} missed; "
        f"{s.branches} branch outcomes, {s.branches - s.covered_branches} missed; "
        f"{s.percent_covered:.2f}% covered"
    )


def _python_line(results: Results) -> str:
    return f"measured with Python {esc(results.python_version)}, pytest-bytecode {esc(__version__)}"


def index_page(results: Results, names: dict[str, str]) -> str:
    """``index.html``: a row per file, totals, sortable, filterable."""
    rows = []
    for path, fres in results.files.items():
        s = fres.summary
        missed = s.instructions - s.covered_instructions
        br_missed = s.branches - s.covered_branches
        pct = s.percent_covered
        rows.append(
            f'<tr data-i="{s.instructions}" data-m="{missed}" data-b="{s.branches}" '
            f'data-bm="{br_missed}">'
            f'<td class="name" data-v="{esc(path)}"><a href="{esc(names[path])}">{esc(path)}</a>'
            + (' <span class="note">(partial)</span>' if fres.partial else "")
            + "</td>"
            f'<td data-v="{s.instructions}">{s.instructions}</td>'
            f'<td data-v="{missed}">{missed}</td>'
            f'<td data-v="{s.branches}">{s.branches}</td>'
            f'<td data-v="{br_missed}">{br_missed}</td>'
            f'<td data-v="{pct!r}">{pct:.2f}%</td></tr>'
        )
    t = results.totals
    crashed = "".join(
        f"<li>worker {esc(c.worker)} crashed: {esc(c.error)}"
        + (f" (counts saved through {esc(c.saved_through)})" if c.recovered else "")
        + "</li>"
        for c in results.crashed_workers
    )
    traced = traced_note(results)
    if traced is not None:
        crashed += f"<li>{esc(traced)}</li>"
    columns = [("name", "File"), ("num", "Instr"), ("num", "Miss"), ("num", "Branch"),
               ("num", "BrMiss"), ("num", "Cover")]  # fmt: skip
    head = "".join(
        f'<th data-type="{kind}" aria-sort="none"><button type="button">{label}</button></th>'
        for kind, label in columns
    )
    return (
        _head("Bytecode coverage")
        + '<body class="index">\n<header>\n<h1>Bytecode coverage</h1>\n'
        + f'<p class="meta">{_python_line(results)}</p>\n'
        + (contexts_line(results) if results.context_names is not None else "")
        + f'<p class="totals">{esc(_figures(t))}</p>\n'
        + (f'<ul class="notes">{crashed}</ul>\n' if crashed else "")
        + '<p><label>Filter: <input id="filter" type="search" placeholder="file name" '
        + 'autocomplete="off"></label> <span class="help">click a column header to sort</span>'
        + "</p>\n</header>\n<main>\n"
        + f'<table id="index">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n<tfoot><tr>"
        + f'<td class="name">Total</td><td id="t-i">{t.instructions}</td>'
        + f'<td id="t-m">{t.instructions - t.covered_instructions}</td>'
        + f'<td id="t-b">{t.branches}</td><td id="t-bm">{t.branches - t.covered_branches}</td>'
        + f'<td id="t-c">{t.percent_covered:.2f}%</td></tr></tfoot>\n</table>\n</main>\n'
        + "</body>\n</html>\n"
    )


def heat_level(count: int, top: int) -> int:
    """A count's heat bucket, 1..HEAT_LEVELS on a log scale up to ``top`` (0: none)."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, math.ceil(HEAT_LEVELS * math.log1p(count) / math.log1p(top)))


def file_page(results: Results, fres: FileResult, source: Source, filename: str) -> str:
    """One file's page."""
    notes = [source.note] if source.note else []
    codes = fres.code_objects
    positions, matched, more = file_positions(results.python, codes, source, filename)
    notes += more
    if fres.partial:
        notes.append("Imported before the import hook: its module-level code was not measured.")
    lines = source.lines
    infos = line_infos(fres)
    missed = missed_spans(lines, codes, positions)
    jumps = jump_spans(lines, codes, positions)
    excluded = set(fres.excluded_lines)
    top = max((info.top for info in infos.values()), default=0)
    cx = None if fres.contexts is None else page_contexts(fres, fres.contexts)
    tests = {} if cx is None else cx.tests
    body: list[str] = []
    empty = LineInfo()
    for number, text in enumerate(lines, 1):
        info = infos.get(number, empty)
        state = info.state(number in excluded)
        line_missed = missed.get(number, ())
        rendered = render_text(text, line_missed, jumps.get(number, ()))
        classes = [state] if state else []
        heat = heat_level(info.top, top)
        if heat:
            classes.append(f"h{heat}")
        if state in ("mis", "par") and not line_missed:
            classes.append("navl")
        badge = ""
        if info.outcomes:
            badge = (
                f'<i title="{esc(chr(10).join(info.jumps))}">'
                f"{info.outcomes_taken}/{info.outcomes}</i>"
            )
        cls = f' class="{" ".join(classes)}"' if classes else ""
        if number in tests:
            cls += f' data-t="{tests[number]}"'
        body.append(
            f'<p id="L{number}"{cls}><b>{esc(MARKERS[state])}</b><code>{rendered}</code>{badge}</p>'
        )
    opnames: dict[str, int] = {}
    data: dict[str, Any] = {
        "codes": [
            {
                "q": code.qualname,
                "f": code.firstlineno,
                "o": [i.offset for i in code.instructions],
                "n": [opnames.setdefault(i.opname, len(opnames)) for i in code.instructions],
                "a": arguments,
                "l": [i.line for i in code.instructions],
                "c": [i.count for i in code.instructions],
                "b": [
                    [
                        b.offset,
                        b.outcomes[0].target_offset,
                        b.outcomes[0].count,
                        b.outcomes[1].target_offset,
                        b.outcomes[1].count,
                    ]
                    for b in code.branches
                ],
            }
            for code, arguments in zip(codes, code_arguments(matched, codes), strict=True)
        ],
    }
    data["ops"] = list(opnames)
    if cx is not None:
        for entry, answers in zip(data["codes"], cx.codes, strict=True):
            if answers is not None:
                entry["x"] = answers[0]
                if answers[1]:
                    entry["y"] = answers[1]
        data["cx"] = cx.names
        data["ct"] = cx.tests_of
        data["cs"] = cx.sets
        data["L"] = cx.lines
    options = "".join(
        f'<option value="{i}">{esc(code.qualname)} (line {code.firstlineno})</option>'
        for i, code in enumerate(codes)
    )
    legend = " ".join(
        f'<span class="lg {cls}"><b>{esc(MARKERS[cls])}</b> {words}</span>'
        for cls, words in LEGEND.items()
    )
    ctx_th = ctx_panel = ""
    if cx is not None:
        ran = len(set(cx.tests_of) - {-1})
        legend += (
            ' <span class="lg ctx"><span class="tn">N</span>&nbsp;tests that ran the line '
            f"({ran} test{'' if ran == 1 else 's'} ran this file; click a line or an "
            "instruction to list them)</span>"
        )
        ctx_th = '<th title="tests that ran the instruction">tests</th>'
        ctx_panel = (
            '<div id="ctx" aria-live="polite"><p class="help">Click a line or an instruction '
            "to list the tests (contexts) that ran it.</p></div>\n"
        )
    return (
        _head(f"{fres.path} - bytecode coverage")
        + '<body class="file">\n<header>\n'
        + '<p class="crumbs"><a href="index.html">&#8592; index</a></p>\n'
        + f"<h1>{esc(fres.path)}</h1>\n"
        + f'<p class="totals">{esc(_figures(fres.summary))}</p>\n'
        + f'<p class="meta">{_python_line(results)}</p>\n'
        + f'<p class="legend">{legend} <mark>never ran</mark> '
        + '<span class="b bp">a jump outcome never taken</span> '
        + '<button type="button" id="heat" aria-pressed="false">heat view</button> '
        + '<span class="help">j / k: next / previous missed span or line</span></p>\n'
        + "".join(f'<p class="note">{esc(n)}</p>\n' for n in notes)
        + '</header>\n<main class="split">\n<div id="source" class="source">\n'
        + "\n".join(body)
        + '\n</div>\n<aside id="dis" aria-label="disassembly">\n'
        + f'<label>Code object <select id="fn">{options}</select></label>\n'
        + '<table id="distab"><thead><tr><th>offset</th><th>opname</th><th>argument</th>'
        + "<th>line</th>"
        + f"<th>count</th><th>fell</th><th>jumped</th>{ctx_th}</tr></thead><tbody></tbody>"
        + "</table>\n"
        + ctx_panel
        + '</aside>\n</main>\n<div id="tip" role="tooltip" hidden></div>\n'
        + f'<script type="application/json" id="bcdata">{script_json(data)}</script>\n'
        + "</body>\n</html>\n"
    )


def asset(name: str) -> bytes:
    """A static file of the report, from the package."""
    return resources.files("pytest_bytecode.report").joinpath(f"htmlfiles/{name}").read_bytes()


def write(results: Results, directory: Path, root: Path) -> Path:
    """Write the report into ``directory`` (made if needed); source files are
    read from ``root`` for relative names.  Returns the index page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        write_atomic(directory / name, asset(name))
    names = {path: page_name(path) for path in results.files}
    for path, fres in results.files.items():
        source = read_source(fres, root)
        filename = str(Path(path) if Path(path).is_absolute() else root / path)
        page = file_page(results, fres, source, filename)
        write_atomic(directory / names[path], page.encode("utf-8", "replace"))
    index = directory / "index.html"
    write_atomic(index, index_page(results, names).encode("utf-8", "replace"))
    return index
