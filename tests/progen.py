"""Random but deterministic, terminating Python programs for differential tests.

``generate_module(seed)`` returns the source of a module with a few functions
``f0 .. fN`` and a ``main()`` that calls each of them with fixed inputs and
returns everything they returned or raised.  The same seed always gives the
same text.  The grammar covers the control flow the engine has to get right:
nested if/elif/else with boolean operators and chained comparisons, ``for`` and
``while`` loops with break/continue/else, try/except/else/finally with raises
in random places (explicit ``raise`` and division by a possibly-zero value),
generators (consumed fully, or partly and then closed: an abandoned one would
be finalized where 3.10's oracle cannot see it), comprehensions, lambdas,
``with suppress(...)``, calls between generated functions and ``match``.

About a third of the functions begin with an *entry* statement instead of
their usual assignments (:meth:`_Gen.entry`): a loop as the function's first
statement, whose ``continue`` and last line jump back to the code's first
instruction (3.10: offset 0, or right after a generator's GEN_START; 3.11+:
right after RESUME), nested loops that all start there, a ``try`` with
handlers there, alone or as a loop's body.  Such a function takes its
variables and its loop counter as parameters with defaults, so that nothing
comes before the entry statement.  Entry loops may go round up to 30 times:
3.10's block stack holds 20 blocks, and code that pushed one on every jump
back would abort the interpreter.  Whether a function gets an entry
statement is drawn from a random generator of its own, so a module without
one is the same text as before entry statements existed.

About a quarter of the modules end with an *edge* function (:func:`_edge`),
drawn from a random generator of its own too, in one of the shapes where the
engine once went wrong (issue 15): a bare ``raise`` in a helper called from an
``except`` block, with or without a ``finally`` of its own; a generator
suspended in ``yield from`` when ``main()`` closes it (or run to its end); a
``throw()`` into a delegate that catches it and returns, or re-raises it; and
recursion some tens of frames deep whose frames clean up in ``finally`` and
``with`` blocks as an exception unwinds them.

Termination is by construction: every ``while`` loop increments its own counter
first and is bounded by a small constant, ``for`` loops run over small ranges,
and a function only calls functions with a smaller index (no recursion but the
edge functions' own, bounded by a depth argument).  All values are ints kept
small with ``%`` so nothing grows without bound.

Run ``python tests/progen.py SEED`` to print one program.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field

_EXCEPTIONS = ("ValueError", "KeyError", "ZeroDivisionError")


@dataclass
class _Scope:
    """What a statement being generated may refer to and do."""

    names: list[str]
    loop_depth: int = 0
    in_finally: bool = False
    in_generator: bool = False
    callees: list[tuple[str, bool]] = field(default_factory=list)
    depth: int = 0
    #: False anywhere inside a ``finally`` block (loops included): a yield there
    #: runs when the generator is closed and makes it ignore GeneratorExit.
    yield_ok: bool = True


#: Share of the functions that begin with an entry statement.
ENTRY_SHARE = 0.35

#: Share of the modules that end with an edge function (see :func:`_edge`).
EDGE_SHARE = 0.25

#: Edge shapes, by the name :func:`_edge` knows them by.
EDGE_KINDS = ("bare_reraise", "suspended_delegation", "throw_delegate", "deep_cleanup")

#: Entry statements, by the name :meth:`_Gen.entry` knows them by.
ENTRY_KINDS = ("while_true", "while_cond", "nested", "try_loop", "try_first", "for_first")


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        # Draws whether a function begins with an entry statement: apart from
        # ``rng``, so that modules without one keep their text.
        self.entry_rng = random.Random(f"progen-entry-{seed}")
        self.counter = 0
        self.budget = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # --- expressions ----------------------------------------------------------

    def atom(self, sc: _Scope) -> str:
        r = self.rng.random()
        if r < 0.55:
            return self.rng.choice(sc.names)
        return str(self.rng.randint(-3, 9))

    def expr(self, sc: _Scope, depth: int = 0) -> str:
        rng = self.rng
        if depth >= 2 or rng.random() < 0.35:
            return self.atom(sc)
        kind = rng.randrange(9)
        a, b = self.expr(sc, depth + 1), self.expr(sc, depth + 1)
        if kind <= 2:
            return f"({a} {rng.choice(['+', '-', '*'])} {b})"
        if kind == 3:
            return f"({a} // ({b} or 1))" if rng.random() < 0.6 else f"({a} // {b})"
        if kind == 4:
            return f"({a} if {self.cond(sc, depth + 1)} else {b})"
        if kind == 5:
            return f"({a} {rng.choice(['and', 'or'])} {b})"
        if kind == 6:
            return f"(lambda v: v * 2 - {a})({b})"
        if kind == 7:
            return f"abs({a}) % 7"
        return f"({a} ^ {b})"

    def cond(self, sc: _Scope, depth: int = 0) -> str:
        rng = self.rng
        kind = rng.randrange(7)
        a, b = self.atom(sc), self.atom(sc)
        if kind == 0:
            return f"{a} {rng.choice(['<', '<=', '>', '>=', '==', '!='])} {b}"
        if kind == 1:
            return f"{a} < {b} <= {self.atom(sc)}"
        if kind == 2 and depth < 2:
            return f"({self.cond(sc, depth + 1)} and {self.cond(sc, depth + 1)})"
        if kind == 3 and depth < 2:
            return f"({self.cond(sc, depth + 1)} or not {self.cond(sc, depth + 1)})"
        if kind == 4:
            return f"{a} % 2 == 0"
        if kind == 5:
            return f"not {a}"
        return f"{a} in ({b}, {self.atom(sc)}, 3)"

    # --- statements -----------------------------------------------------------

    def block(self, sc: _Scope, ind: str, min_n: int = 1, max_n: int = 3) -> list[str]:
        out: list[str] = []
        for _ in range(self.rng.randint(min_n, max_n)):
            out.extend(self.stmt(sc, ind))
            if self.budget <= 0:
                break
        return out or [f"{ind}pass"]

    def assign_target(self, sc: _Scope) -> str:
        return self.rng.choice([n for n in sc.names if n.startswith("x")])

    def stmt(self, sc: _Scope, ind: str) -> list[str]:
        rng = self.rng
        self.budget -= 1
        deep = sc.depth >= 3 or self.budget <= 0
        choices = ["assign", "assign", "aug"]
        if not deep:
            choices += ["if", "if", "for", "while", "try", "comp", "match", "with"]
        if sc.loop_depth and not sc.in_finally:
            choices += ["break", "continue"]
        if not sc.in_finally:
            choices += ["raise", "return"]
        if sc.callees and sc.loop_depth == 0:
            choices += ["call", "call"]
        if sc.in_generator and sc.yield_ok:
            choices += ["yield", "yield"]
        kind = rng.choice(choices)
        inner = _Scope(
            list(sc.names),
            sc.loop_depth,
            sc.in_finally,
            sc.in_generator,
            sc.callees,
            sc.depth + 1,
            sc.yield_ok,
        )
        t = self.assign_target(sc)
        if kind == "assign":
            return [f"{ind}{t} = {self.expr(sc)} % 101"]
        if kind == "aug":
            return [f"{ind}{t} {rng.choice(['+=', '-=', '^=', '|='])} {self.expr(sc)} % 13"]
        if kind == "break":
            return [f"{ind}if {self.cond(sc)}:", f"{ind}    break"]
        if kind == "continue":
            return [f"{ind}if {self.cond(sc)}:", f"{ind}    continue"]
        if kind == "return":
            value = "" if sc.in_generator and rng.random() < 0.5 else f" {self.expr(sc)}"
            return [f"{ind}if {self.cond(sc)}:", f"{ind}    return{value}"]
        if kind == "raise":
            exc = rng.choice(_EXCEPTIONS)
            return [f"{ind}if {self.cond(sc)}:", f"{ind}    raise {exc}({self.atom(sc)})"]
        if kind == "yield":
            if rng.random() < 0.5:
                return [f"{ind}yield {self.expr(sc)}"]
            return [f"{ind}{t} = (yield {self.expr(sc)}) or {t}"]
        if kind == "call":
            name, is_gen = rng.choice(sc.callees)
            args = f"{self.expr(sc)}, {self.expr(sc)}"
            if not is_gen:
                return [f"{ind}{t} = {name}({args}) % 101"]
            style = rng.randrange(3)
            if style == 0:
                return [f"{ind}{t} = sum({name}({args})) % 101"]
            if style == 1:
                return [f"{ind}{t} = next(iter({name}({args})), {t})"]
            v = self.fresh("g")
            return [
                f"{ind}for {v} in {name}({args}):",
                f"{ind}    {t} = ({t} + {v}) % 101",
                f"{ind}    if {v} > 3:",
                f"{ind}        break",
            ]
        if kind == "if":
            lines = [f"{ind}if {self.cond(sc)}:", *self.block(inner, ind + "    ")]
            for _ in range(rng.randint(0, 2)):
                lines += [f"{ind}elif {self.cond(sc)}:", *self.block(inner, ind + "    ")]
            if rng.random() < 0.5:
                lines += [f"{ind}else:", *self.block(inner, ind + "    ")]
            return lines
        if kind == "for":
            v = self.fresh("i")
            loop = _Scope(
                [*sc.names, v],
                sc.loop_depth + 1,
                False,
                sc.in_generator,
                sc.callees,
                sc.depth + 1,
                sc.yield_ok,
            )
            # Some loops run over a generator expression: an exhausted
            # generator ends the loop by StopIteration inside the interpreter
            # (3.13 reported it as a trace event where probes changed the
            # loop's line starts: test_engine_trace_events).
            iterable = f"range({rng.randint(0, 4)})"
            if rng.random() < 0.25:
                iterable = f"({v}_ for {v}_ in {iterable})"
            lines = [
                f"{ind}for {v} in {iterable}:",
                *self.block(loop, ind + "    "),
            ]
            if rng.random() < 0.4:
                lines += [f"{ind}else:", *self.block(inner, ind + "    ")]
            return lines
        if kind == "while":
            w = self.fresh("w")
            loop = _Scope(
                [*sc.names, w],
                sc.loop_depth + 1,
                False,
                sc.in_generator,
                sc.callees,
                sc.depth + 1,
                sc.yield_ok,
            )
            lines = [
                f"{ind}{w} = 0",
                f"{ind}while {w} < {rng.randint(1, 4)}:",
                f"{ind}    {w} += 1",
                *self.block(loop, ind + "    "),
            ]
            if rng.random() < 0.4:
                lines += [f"{ind}else:", *self.block(inner, ind + "    ")]
            return lines
        if kind == "try":
            lines = [f"{ind}try:", *self.block(inner, ind + "    ")]
            handlers = rng.randint(0, 2)
            for _ in range(handlers):
                exc = rng.choice([*_EXCEPTIONS, "(ValueError, KeyError)", "Exception"])
                lines.append(f"{ind}except {exc}:")
                body = self.block(inner, ind + "    ")
                if rng.random() < 0.2:
                    body.append(f"{ind}    raise")
                lines += body
            if handlers and rng.random() < 0.3:
                lines += [f"{ind}else:", *self.block(inner, ind + "    ")]
            if not handlers or rng.random() < 0.5:
                fin = _Scope(
                    list(sc.names),
                    sc.loop_depth,
                    True,
                    sc.in_generator,
                    sc.callees,
                    sc.depth + 1,
                    False,
                )
                lines += [f"{ind}finally:", *self.block(fin, ind + "    ")]
            return lines
        if kind == "comp":
            v = self.fresh("c")
            csc = _Scope([*sc.names, v])
            body, cond = self.expr(csc), self.cond(csc)
            n = rng.randint(0, 5)
            form = rng.randrange(4)
            if form == 0:
                return [f"{ind}{t} = sum([{body} for {v} in range({n}) if {cond}]) % 101"]
            if form == 1:
                return [f"{ind}{t} = len({{{body} for {v} in range({n})}})"]
            if form == 2:
                comp = f"{{{v}: {body} for {v} in range({n}) if {cond}}}"
                return [f"{ind}{t} = sum({comp}.values()) % 101"]
            return [f"{ind}{t} = sum({body} for {v} in range({n}) if {cond}) % 101"]
        if kind == "with":
            exc = rng.choice(_EXCEPTIONS)
            return [f"{ind}with suppress({exc}):", *self.block(inner, ind + "    ")]
        # match
        m = self.fresh("m")
        msc = _Scope(
            [*sc.names, m],
            sc.loop_depth,
            sc.in_finally,
            sc.in_generator,
            sc.callees,
            sc.depth + 1,
            sc.yield_ok,
        )
        lines = [
            f"{ind}match abs({self.expr(sc)}) % 5:",
            f"{ind}    case 0:",
            *self.block(inner, ind + "        "),
            f"{ind}    case 1 | 2:",
            *self.block(inner, ind + "        "),
            f"{ind}    case {m} if {m} > 3:",
            *self.block(msc, ind + "        "),
        ]
        if rng.random() < 0.6:
            lines += [f"{ind}    case _:", *self.block(inner, ind + "        ")]
        return lines

    # --- entry statements -----------------------------------------------------

    def entry(self, sc: _Scope, ind: str, w: str, kind: str) -> list[str]:
        """A function's first statement of the ``kind`` (one of ENTRY_KINDS).

        ``w`` is a parameter that starts at 0, the entry loops' counter: a
        loop increments it first and stops once it passes a bound of up to
        30, so it terminates however ``continue`` and ``break`` leave it.
        """
        rng = self.rng
        body = ind + "    "
        bound = rng.choice([rng.randint(1, 5), rng.randint(18, 30)])

        def loop_scope(depth: int = 1) -> _Scope:
            return _Scope(
                [*sc.names, w],
                sc.loop_depth + 1,
                False,
                sc.in_generator,
                sc.callees,
                sc.depth + depth,
                sc.yield_ok,
            )

        def early_exits(at: str) -> list[str]:
            # ``continue`` right away: a jump to the code's first instruction
            # from the top of the loop.
            lines: list[str] = []
            if rng.random() < 0.6:
                lines += [f"{at}if {self.cond(sc)}:", f"{at}    continue"]
            if rng.random() < 0.3:
                lines += [f"{at}if {self.cond(sc)}:", f"{at}    break"]
            return lines

        if kind in ("while_true", "while_cond"):
            if kind == "while_true":
                head = [
                    f"{ind}while {rng.choice(['True', '1'])}:",
                    f"{body}{w} += 1",
                    f"{body}if {w} > {bound}:",
                    f"{body}    break",
                ]
            else:
                head = [f"{ind}while {w} < {bound}:", f"{body}{w} += 1"]
            lines = [*head, *early_exits(body), *self.block(loop_scope(), body, 1, 3)]
            if kind == "while_cond" and rng.random() < 0.4:
                lines += [f"{ind}else:", *self.block(sc, body)]
            return lines
        if kind == "nested":
            # Every loop starts at the first instruction: the outer loop's
            # first statement is the inner loop.  The inner one runs while
            # the counter is below its bound; the outer one steps it on.
            inner = rng.choice([rng.randint(1, 4), bound])
            outer = loop_scope(1)
            deeper = loop_scope(2)
            if rng.random() < 0.5:
                first = [f"{body}while {w} < {inner}:", f"{body}    {w} += 1"]
            else:
                v = self.fresh("i")
                deeper.names.append(v)
                first = [f"{body}for {v} in range({rng.randint(0, 4)}):"]
            first += [*early_exits(body + "    "), *self.block(deeper, body + "    ", 1, 2)]
            return [
                f"{ind}while {rng.choice(['True', '1'])}:",
                *first,
                f"{body}{w} += 1",
                f"{body}if {w} > {bound}:",
                f"{body}    break",
                *self.block(outer, body, 0, 2),
            ]
        if kind == "try_loop":
            # The loop's whole body is a ``try``: the handler's range starts
            # at the first instruction.
            try_scope = loop_scope(2)
            lines = [
                f"{ind}while {rng.choice(['True', '1'])}:",
                f"{body}try:",
                f"{body}    {w} += 1",
                f"{body}    if {w} > {bound}:",
                f"{body}        break",
                *early_exits(body + "    "),
                *self.block(try_scope, body + "    ", 1, 3),
            ]
            for _ in range(rng.randint(1, 2)):
                exc = rng.choice([*_EXCEPTIONS, "(ValueError, KeyError)", "Exception"])
                lines.append(f"{body}except {exc}:")
                handler = self.block(try_scope, body + "    ", 1, 2)
                if rng.random() < 0.4:
                    handler.append(f"{body}    continue")
                lines += handler
            if rng.random() < 0.3:
                fin = _Scope(
                    [*sc.names, w],
                    sc.loop_depth + 1,
                    True,
                    sc.in_generator,
                    sc.callees,
                    sc.depth + 2,
                    False,
                )
                lines += [f"{body}finally:", *self.block(fin, body + "    ", 1, 2)]
            return lines
        if kind == "try_first":
            # A ``try`` as the first statement, an entry loop inside it.
            inner_kind = rng.choice(["while_true", "while_cond", "nested"])
            tsc = _Scope(
                list(sc.names),
                sc.loop_depth,
                sc.in_finally,
                sc.in_generator,
                sc.callees,
                sc.depth + 1,
                sc.yield_ok,
            )
            lines = [f"{ind}try:", *self.entry(tsc, body, w, inner_kind)]
            for _ in range(rng.randint(1, 2)):
                exc = rng.choice([*_EXCEPTIONS, "Exception"])
                lines += [f"{ind}except {exc}:", *self.block(tsc, body, 1, 2)]
            return lines
        # for_first: a ``for`` over the counter's range, the counter as bound.
        v = self.fresh("i")
        fsc = loop_scope()
        fsc.names.append(v)
        return [
            f"{ind}for {v} in range({bound}):",
            *early_exits(body),
            *self.block(fsc, body, 1, 3),
        ]

    # --- functions and module -------------------------------------------------

    def function(self, index: int, callees: list[tuple[str, bool]]) -> tuple[str, bool, list[str]]:
        is_gen = self.rng.random() < 0.3
        name = f"f{index}"
        names = ["a", "b", "x0", "x1", "x2"]
        sc = _Scope(names, in_generator=is_gen, callees=callees)
        self.budget = self.rng.randint(8, 22)
        if self.entry_rng.random() < ENTRY_SHARE:
            # Nothing before the entry statement: the variables are parameters.
            w = self.fresh("w")
            kind = self.rng.choice(ENTRY_KINDS)
            x = [self.rng.randint(-3, 9) for _ in range(3)]
            lines = [f"def {name}(a, b, x0={x[0]}, x1={x[1]}, x2={x[2]}, {w}=0):"]
            lines += self.entry(sc, "    ", w, kind)
            lines += self.block(sc, "    ", 0, 3) if self.budget > 0 else []
        else:
            lines = [f"def {name}(a, b):", "    x0 = a", "    x1 = b", "    x2 = a - b"]
            lines += self.block(sc, "    ", 2, 5)
        if is_gen:
            lines.append("    yield x0 + x1")
        else:
            lines.append("    return (x0 + x1 * 3 + x2) % 1009")
        return name, is_gen, lines


def _edge(rng: random.Random, name: str) -> list[str]:
    """An edge function ``name(a, b)`` and its helpers (see the module
    docstring); it returns an int, yields ints, or raises one of the
    exceptions ``main()`` catches."""
    kind = rng.choice(EDGE_KINDS)
    k = [rng.randint(1, 9) for _ in range(4)]
    if kind == "bare_reraise":
        exc = rng.choice(_EXCEPTIONS)
        raise_it = "x = 1 // (a - a)" if exc == "ZeroDivisionError" else f"raise {exc}(a % {k[0]})"
        helper = [f"def {name}_helper(a, b, log):", f"    x = a * {k[1]} % 13"]
        helper += ["    if x > b:", "        x += 1"]
        if rng.random() < 0.5:
            helper += ["    try:", "        log.append(x)", "        raise", "    finally:"]
            helper += [f"        log.append(b % {k[2]})"]
        else:
            helper += ["    log.append(x)", "    raise"]
        body = [f"def {name}(a, b):", "    log = []", "    try:"]
        body += [f"        if a % {k[3]} == 0:", f"            {raise_it}", "        log.append(a)"]
        body += [f"    except {exc}:", "        try:"]
        body += [f"            {name}_helper(a, b, log)", f"        except {exc} as e:"]
        body += ["            log.append(len(e.args))"]
        body += ["    return sum(log) % 1009"]
        return [*helper, "", "", *body]
    if kind == "suspended_delegation":
        n = rng.choice([rng.randint(2, 8), rng.randint(13, 20)])
        inner = [f"def {name}_inner(a, b):", f"    for i in range({n}):"]
        inner += [
            "        if (a + i) % 5 == 4:",
            "            continue",
            "        yield (a + i) % 7",
        ]
        inner += ["    return b % 11"]
        body = [f"def {name}(a, b):", f"    x = yield from {name}_inner(a, b)", "    after = x + 1"]
        if rng.random() < 0.5:
            body += [f"    x = yield from {name}_inner(b, after)"]
        body += ["    yield after + x"]
        return [*inner, "", "", *body]
    if kind == "throw_delegate":
        exc = rng.choice(_EXCEPTIONS)
        inner = [
            f"def {name}_inner(a, b):",
            "    try:",
            "        yield a % 7",
            "        yield b % 7",
        ]
        inner += [f"    except {exc}:", f"        if a % {k[0]} == 1:", "            raise"]
        inner += [f"        return a % {k[1]}", "    return b"]
        deleg = [f"def {name}_outer(a, b):", f"    r = yield from {name}_inner(a, b)"]
        deleg += ["    yield r * 2"]
        body = [f"def {name}(a, b):", f"    g = {name}_outer(a, b)", "    first = next(g)"]
        body += [f"    if (a + b) % {k[2]} == 0:", "        return first + next(g)"]
        body += [f"    r = g.throw({exc}(first))", "    g.close()", "    return r"]
        return [*inner, "", "", *deleg, "", "", *body]
    # deep_cleanup
    depth = rng.randint(20, 60)
    exc = rng.choice(_EXCEPTIONS)
    rec = [f"def {name}_rec(n, log):", "    try:", "        if n:"]
    rec += [f"            return {name}_rec(n - 1, log) + 1"]
    if rng.random() < 0.5:
        rec += ["        with suppress(KeyError if n % 2 else ValueError):"]
        rec += [f"            raise {exc}(n)"]
        rec += ["        return 0"]
    else:
        rec += [f"        raise {exc}(n)"]
    rec += ["    finally:", f"        log.append(n % {k[0]})"]
    body = [f"def {name}(a, b):", "    log = []", "    try:"]
    body += [f"        r = {name}_rec(abs(a * b) % {depth} + 1, log)", f"    except {exc}:"]
    body += ["        r = -1", "    return (r + sum(log)) % 1009"]
    return [*rec, "", "", *body]


def generate_module(seed: int) -> str:
    """Source of one generated module; ``main()`` returns every function's result."""
    g = _Gen(seed)
    funcs: list[tuple[str, bool]] = []
    lines = [
        f'"""Generated by tests/progen.py, seed {seed}."""',
        "",
        "from contextlib import suppress",
        "from itertools import islice",
        "",
    ]
    for index in range(g.rng.randint(2, 4)):
        name, is_gen, body = g.function(index, list(funcs))
        funcs.append((name, is_gen))
        lines += ["", *body, ""]
    # Drawn apart from ``g.rng``, so that modules without one keep their text.
    edge_rng = random.Random(f"progen-edge-{seed}")
    if edge_rng.random() < EDGE_SHARE:
        name = f"e{len(funcs)}"
        lines += ["", *_edge(edge_rng, name), ""]
        funcs.append((name, False))
    inputs = [(g.rng.randint(-4, 9), g.rng.randint(-4, 9)) for _ in range(3)] + [(0, 0)]
    lines += [
        "",
        f"INPUTS = {inputs!r}",
        "",
        "",
        "def main():",
        "    out = []",
        "    for a, b in INPUTS:",
        f"        for fn in ({', '.join(n for n, _ in funcs)},):",
        "            try:",
        "                r = fn(a, b)",
        "                if not isinstance(r, int):",
        "                    g = r",
        "                    r = list(islice(g, 12))",
        "                    g.close()",
        "                out.append(r)",
        "            except (ValueError, KeyError, ZeroDivisionError) as e:",
        "                out.append((type(e).__name__, e.args))",
        "    return out",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    for arg in argv or ["0"]:
        print(generate_module(int(arg)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
