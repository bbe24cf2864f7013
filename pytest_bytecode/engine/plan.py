"""Decide where probes go, and how every other count is derived from them.

This is Ball and Larus's optimal edge profiling, extended to exceptions.  The
flow graph has one edge for every way control moves:

* each block ``b`` becomes two nodes, *in* and *out*, joined by its **block
  edge**, whose count is how often ``b`` was entered;
* a **fall edge** (out of ``b`` into the next block) and a **jump edge** (out
  of ``b`` into where its jump lands) for every normal successor;
* edges to and from one **outside node** for what enters or leaves the code
  object: the entry of the code, every resumption after a yield, every
  return, yield or re-raise.  The entries of exception **handlers** are
  outside edges whose counts are known without a probe: every exception that
  enters a handler passes through its stub, which records it
  (:mod:`~pytest_bytecode.engine.instrument`).

Flow is conserved at every node but the outside one: what enters a node
leaves it, except that the exceptions raised inside a block (also recorded
by the stubs) leave its *out* node unseen.  So if the edges whose counts are
unknown form a forest, every one of them follows from the others, leaf by
leaf towards the outside node (which needs no conservation: generators may
be abandoned).  The engine probes the complement of a maximum spanning
forest: the **chords**, chosen where static estimates say control passes
least (loop bodies weigh more than what surrounds them, a loop is left as
often as it is entered, and each arm of a conditional weighs half of what
reaches it).  A loop then needs one probe per iteration on its cheapest
path, and a function with an ``if`` needs one probe per call on the path it
takes, not one more at its entry.

Only block edges and fall edges can hold a probe (at the start of the block,
or right after the block that falls through); jump and outside edges are
always in the forest, which is possible because every cycle passes through a
probe-able block edge.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_bytecode import versions
from pytest_bytecode.engine.blocks import STOPS, SUSPENDS, Graph
from pytest_bytecode.engine.decode import opcode_at

#: The outside node: where the code object is entered from and left to.
OUTSIDE = 0

#: Estimated passes through a loop header for one entry of the loop.
LOOP_WEIGHT = 10.0
#: Estimated share of a handler's entries in what its code does.
HANDLER_WEIGHT = 0.01
#: A fall edge weighs this much more than a block edge of the same estimate,
#: so that a tie puts the probe at a block start.
FALL_BIAS = 1.01


def node_out(block: int) -> int:
    """The node where ``block`` is left; it is entered at the node before."""
    return 2 * block + 2


class FlowPlan:
    """The flow graph of one code object, its chords and how to solve it.

    ``edges`` are (from node, to node).  ``chords`` are the probed edges.
    ``handler_entries`` maps an outside edge into a handler block to the
    stubs whose records count it.  Every other edge that is not a chord is
    in the spanning forest; :meth:`steps` orders them for solving (computed when
    counts are first read).  ``probe_of`` maps a chord to the number of its
    probe (:meth:`number_probes`).
    """

    __slots__ = (
        "_steps",
        "block_edge",
        "chords",
        "edges",
        "fall_edge",
        "handler_entries",
        "jump_edge",
        "landings",
        "probe_of",
    )

    def __init__(
        self,
        edges: list[tuple[int, int]],
        block_edge: list[int],
        fall_edge: list[int],  # block -> its fall edge, or -1
        jump_edge: list[int],  # block -> its jump edge, or -1
        chords: list[int],
        handler_entries: dict[int, tuple[int, ...]],
        probe_of: dict[int, int] | None = None,
        landings: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        self.edges = edges
        self.block_edge = block_edge
        self.fall_edge = fall_edge
        self.jump_edge = jump_edge
        self.chords = chords
        self.handler_entries = handler_entries
        self.probe_of: dict[int, int] = {} if probe_of is None else probe_of
        #: 3.11: block -> (its landing edge, the YIELD_VALUE block it comes
        #: from): the way ``gen.throw()`` into a delegate that returns
        #: enters the block after a ``yield from``/``await`` (a chord, whose
        #: probe is in front of the block; see versions.THROW_RETURN_LANDS_BY_LOW_BYTE)
        self.landings: dict[int, tuple[int, int]] = {} if landings is None else landings
        self._steps: list[tuple[int, int]] | None = None

    def steps(self) -> list[tuple[int, int]]:
        """(edge, node) in solving order: the edge's count follows from
        conservation at the node, once the edges before it are known."""
        if self._steps is None:
            known = set(self.chords) | self.handler_entries.keys()
            tree = [e for e in range(len(self.edges)) if e not in known]
            n_nodes = 1 + max((max(edge) for edge in self.edges), default=0)
            self._steps = _solving_order(n_nodes, self.edges, tree)
        return self._steps

    def number_probes(self, graph: Graph) -> None:
        """Number the chords in ``probe_of`` in the order the rewriter emits
        their probes: block by block, the probe at a block's start before the
        one after its end."""
        chords = set(self.chords)
        probe_of = self.probe_of
        block_edge = self.block_edge
        fall_edge = self.fall_edge
        landings = self.landings
        for block in graph.blocks:
            landing = landings.get(block.index)
            if landing is not None:  # emitted before the block's label
                probe_of[landing[0]] = len(probe_of)
            edge = block_edge[block.index]
            if edge in chords:
                probe_of[edge] = len(probe_of)
            edge = fall_edge[block.index]
            if edge >= 0 and edge in chords:
                probe_of[edge] = len(probe_of)

    def branches(self, graph: Graph) -> list[tuple[int, int, int]]:
        """(block, fall edge, jump edge) for every block ending in a conditional jump."""
        return [(b, self.fall_edge[b], self.jump_edge[b]) for b in branch_blocks(graph)]


def branch_blocks(graph: Graph) -> list[int]:
    """The blocks that end in a conditional jump (one with a way on after it)."""
    return [
        block.index
        for block in graph.blocks
        if block.last_name in versions.CONDITIONAL_JUMP_OPNAMES and block.end < graph.units
    ]


def unprobed_blocks(graph: Graph) -> set[int]:
    """Blocks that cannot hold a probe.

    A YIELD_VALUE glued between the SEND before it and the RESUME after it
    (the interpreter steps between them by offset) fills its block; its count
    is the fall-through outcome of the SEND.  3.14+: a block whose first
    unglued instruction is in ``versions.NO_PROBE_BEFORE`` (the POP_ITER of a
    finished loop) takes no probe, because a probe there would change which
    line events the interpreter raises after it.
    """
    ops = graph.ops
    opname = versions.OPNAME
    return {
        b.index
        for b in graph.blocks
        if (b.body >= b.end and not b.entry and b.last_name in SUSPENDS)
        or (
            versions.NO_PROBE_BEFORE
            and b.body < b.end
            and opname[opcode_at(ops, b.body)] in versions.NO_PROBE_BEFORE
        )
    }


def _estimates(
    succs: list[list[int]], resumes: dict[int, int], handlers: list[int], backward: bool
) -> tuple[list[float], list[float]]:
    """Static estimate of how often each block runs and how often it is
    left by its first successor (``succs[b][0]``, where a block that falls
    through goes on), per entry of the code.

    Blocks are visited depth first from the code's start; an edge back to a
    block on the current path closes a loop, whose header then weighs
    LOOP_WEIGHT times what enters it, and whose body is every block that
    reaches the edge's source without passing the header.  A block passes
    its estimate on split evenly between its successors, except that an edge
    leaving a loop carries at most what entered the loop (a loop is left
    about as often as it is entered, however many times it turns); what it
    does not carry goes to the other successors.  A block after a yield
    weighs what the yield does; a ``handlers`` block weighs HANDLER_WEIGHT.
    Without a ``backward`` jump there is no loop to look for.
    """
    n = len(succs)
    flow_succs = succs
    if resumes:
        flow_succs = [list(s) for s in succs]
        for yield_block, resume_block in resumes.items():
            flow_succs[yield_block].append(resume_block)
    freq = [0.0] * n
    freq[0] = 1.0
    for h in handlers:
        freq[h] = HANDLER_WEIGHT
    first = [0.0] * n  # what each block passes on to its first successor
    back: set[tuple[int, int]] = set()
    # Every edge forward: block order already has each block after all that
    # lead to it.  Otherwise a depth-first search gives such an order
    # (reverse postorder) and the edges that close loops.
    order: Iterable[int] = range(n)
    if backward:
        order = _depth_first(flow_succs, handlers, back)
    if not back:  # no loops: every block splits its estimate evenly
        for node in order:
            outs = flow_succs[node]
            if outs:
                share = first[node] = freq[node] / len(outs)
                for s in outs:
                    freq[s] += share
        return freq, first
    body, closes, loops_of = _loops(flow_succs, back)
    _spread_in_loops(order, flow_succs, body, closes, loops_of, freq, first)
    return freq, first


def _loops(
    succs: list[list[int]], back: set[tuple[int, int]]
) -> tuple[dict[int, set[int]], dict[int, set[int]], list[list[int]]]:
    """The loops that the ``back`` edges close: each header's body (every
    block that reaches the edge's source without passing the header), the
    headers each block's edges go back to, and each block's loops,
    innermost first."""
    n = len(succs)
    body: dict[int, set[int]] = {}  # loop header -> the blocks of its loop
    closes: dict[int, set[int]] = {}  # block -> the loop headers its edges go back to
    preds: list[list[int]] = [[] for _ in range(n)]
    for u in range(n):
        for v in succs[u]:
            preds[v].append(u)
    for tail, header in back:
        closes.setdefault(tail, set()).add(header)
        members = body.setdefault(header, {header})
        work = [tail]
        while work:
            x = work.pop()
            if x not in members:
                members.add(x)
                work.extend(preds[x])
    loops_of: list[list[int]] = [[] for _ in range(n)]  # innermost first
    for header in sorted(body, key=lambda h: len(body[h])):
        for member in body[header]:
            loops_of[member].append(header)
    return body, closes, loops_of


def _spread_in_loops(
    order: Iterable[int],
    succs: list[list[int]],
    body: dict[int, set[int]],
    closes: dict[int, set[int]],
    loops_of: list[list[int]],
    freq: list[float],
    first: list[float],
) -> None:
    """Pass each block's estimate on to its successors, in ``order``: a
    loop header weighs LOOP_WEIGHT times what enters it, and an edge that
    leaves a loop carries at most what entered the loop, the rest going to
    the successors that stay (see :func:`_estimates`).  Fills ``freq`` and
    ``first`` in place."""
    entered: dict[int, float] = {}  # loop header -> estimate of what enters it
    nothing: set[int] = set()
    for node in order:
        mine = freq[node]
        if node in body:
            entered[node] = mine
            mine *= LOOP_WEIGHT
            freq[node] = mine
        outs = succs[node]
        if not outs:
            continue
        share = mine / len(outs)
        back_to = closes.get(node, nothing)
        if not loops_of[node]:
            first[node] = share
            for s in outs:
                if s not in back_to:
                    freq[s] += share
            continue
        spare = 0.0
        stays = 0
        passed: list[float | None] = []
        for s in outs:
            # The innermost loop the edge leaves caps it; a header not reached
            # yet (the DFS began at a handler) caps nothing.
            cap = share
            for h in loops_of[node]:
                if s not in body[h]:
                    cap = entered.get(h, share)
                    break
            if cap < share:
                passed.append(cap)
                spare += share - cap
            else:
                passed.append(None)
                stays += 1
        rest = share + spare / stays if stays else share
        for s, value in zip(outs, passed, strict=True):
            if value is None:
                value = rest
            if s not in back_to:
                freq[s] += value
        first[node] = passed[0] if passed[0] is not None else rest


def _depth_first(
    succs: list[list[int]], handlers: list[int], back: set[tuple[int, int]]
) -> list[int]:
    """Blocks in reverse postorder of a depth-first search from the code's
    start, then its handlers, then whatever is left; adds to ``back`` every
    edge to a block on the current path (one that closes a loop)."""
    n = len(succs)
    state = [0] * n  # 0 new, 1 on the path, 2 done
    post: list[int] = []
    for root in (0, *handlers, *range(n)):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(succs[root]))]
        while stack:
            node, todo = stack[-1]
            for nxt in todo:
                seen = state[nxt]
                if seen == 0:
                    state[nxt] = 1
                    stack.append((nxt, iter(succs[nxt])))
                    break
                if seen == 1:
                    back.add((node, nxt))
            else:
                state[node] = 2
                post.append(node)
                stack.pop()
    post.reverse()
    return post


#: What a block may end with that leaves the code object unseen by a stub.
_LEAVES_UNSEEN = SUSPENDS | versions.LEAVES_UNSEEN_AND_GOES_ON


def plan_flow(graph: Graph, unprobed: set[int], handler_stubs: dict[int, list[int]]) -> FlowPlan:
    """Build the flow graph, choose its chords and the solving order.

    ``unprobed`` blocks cannot hold a probe; ``handler_stubs`` maps a handler
    block to the stubs that enter it.
    """
    found = _flow_edges(graph, unprobed, handler_stubs)
    edges, block_edge, fall_edge = found.edges, found.block_edge, found.fall_edge
    freq, first = _estimates(found.succs, found.resumes, found.handlers, found.backward)
    if unprobed:
        weighed = [(-freq[b], block_edge[b]) for b in found.weigh_blocks]
    else:
        weighed = [(-f, e) for f, e in zip(freq, block_edge, strict=True)]
    weighed += [(-first[b] * FALL_BIAS, fall_edge[b]) for b in found.weigh_falls]
    weighed.sort()  # heaviest first; ties in the order the edges were made
    chords = _chords(edges, 2 * len(graph.blocks) + 1, found.fixed, [e for _, e in weighed])
    landings: dict[int, tuple[int, int]] = {}
    if versions.THROW_RETURN_LANDS_BY_LOW_BYTE:
        # Another way into the block after a delegation: from outside, by
        # gen.throw(), counted by a probe of its own.
        for landed, suspended in landing_blocks(graph).items():
            landings[landed] = (len(edges), suspended)
            chords.append(len(edges))
            edges.append((OUTSIDE, 2 * landed + 1))
    return FlowPlan(
        edges, block_edge, fall_edge, found.jump_edge, chords, found.handler_entries, None, landings
    )


def landing_blocks(graph: Graph) -> dict[int, int]:
    """3.11: the block a SEND jumps to -> the YIELD_VALUE block glued after
    that SEND, for every ``yield from``/``await`` delegation loop."""
    blocks = graph.blocks
    found: dict[int, int] = {}
    for block in blocks:
        if block.last_name == "SEND" and block.land >= 0 and block.index + 1 < len(blocks):
            after = blocks[block.index + 1]
            if after.last_name == "YIELD_VALUE" and after.start == block.end:
                found[graph.at[block.land]] = after.index
    return found


class _FlowEdges:
    """The flow graph's edges as :func:`_flow_edges` makes them, and what
    :func:`plan_flow` weighs them with.

    ``succs`` are each block's successors (where it falls through first),
    ``resumes`` maps a block that suspends to the block it resumes in,
    ``backward`` says whether any jump goes back.  ``fixed`` edges cannot
    hold a probe; ``weigh_blocks`` (empty when every block can hold one)
    and ``weigh_falls`` are the blocks whose block edge and fall edge can.
    """

    __slots__ = (
        "backward",
        "block_edge",
        "edges",
        "fall_edge",
        "fixed",
        "handler_entries",
        "handlers",
        "jump_edge",
        "resumes",
        "succs",
        "weigh_blocks",
        "weigh_falls",
    )

    def __init__(
        self,
        edges: list[tuple[int, int]],
        block_edge: list[int],
        fall_edge: list[int],
        jump_edge: list[int],
        handler_entries: dict[int, tuple[int, ...]],
        succs: list[list[int]],
        resumes: dict[int, int],
        backward: bool,
        fixed: list[int],
        weigh_blocks: list[int],
        weigh_falls: list[int],
        handlers: list[int],
    ) -> None:
        self.edges = edges
        self.block_edge = block_edge
        self.fall_edge = fall_edge
        self.jump_edge = jump_edge
        self.handler_entries = handler_entries
        self.succs = succs
        self.resumes = resumes
        self.backward = backward
        self.fixed = fixed
        self.weigh_blocks = weigh_blocks
        self.weigh_falls = weigh_falls
        self.handlers = handlers


def _flow_edges(
    graph: Graph, unprobed: set[int], handler_stubs: dict[int, list[int]]
) -> _FlowEdges:
    """The first pass of :func:`plan_flow`: every edge of the flow graph."""
    blocks = graph.blocks
    nb = len(blocks)
    edges: list[tuple[int, int]] = []
    block_edge = [-1] * nb
    fall_edge = [-1] * nb
    jump_edge = [-1] * nb
    handler_entries: dict[int, tuple[int, ...]] = {}
    succs: list[list[int]] = []
    resumes: dict[int, int] = {}
    backward = False
    units = graph.units
    at = graph.at
    # One pass builds the edges.  Those that cannot hold a probe are fixed:
    # they go into the forest first.  The others are weighed once the
    # estimates are known (they need the successors found here), and follow
    # heaviest first (Kruskal); one that would close a cycle is a chord.
    # Block b is entered at node 2b+1 and left at 2b+2 (node_out), written
    # out here because this loop runs for every block.
    fixed: list[int] = []
    weigh_blocks: list[int] = []  # blocks whose block edge may hold a probe, if not all
    weigh_falls: list[int] = []  # blocks whose fall edge may hold a probe
    handlers: list[int] = []
    add_edge = edges.append
    no_fallthrough = versions.NO_FALLTHROUGH_OPNAMES
    leaves_unseen = _LEAVES_UNSEEN
    for block in blocks:
        b = block.index
        name = block.last_name
        into, out_of = 2 * b + 1, 2 * b + 2
        e = len(edges)
        add_edge((into, out_of))
        block_edge[b] = e
        if unprobed:
            if b in unprobed:
                fixed.append(e)
            else:
                weigh_blocks.append(b)
        if block.handler:
            handlers.append(b)
            handler_entries[len(edges)] = tuple(handler_stubs.get(b, ()))
            add_edge((OUTSIDE, into))
        elif block.entry:
            fixed.append(len(edges))
            add_edge((OUTSIDE, into))
        # Control may leave the code object from the end of the block
        # without a stub seeing it: a return, a yield, a re-raise.  (A
        # ``raise`` is recorded, but a bare one may re-raise unseen.)
        land = block.land
        ends = block.end >= units
        if (
            name in leaves_unseen
            or (name in no_fallthrough and land < 0)
            or (ends and name not in no_fallthrough)
        ):
            fixed.append(len(edges))
            add_edge((out_of, OUTSIDE))
        out: list[int] = []
        if not ends:
            if name not in STOPS:  # falls through (a plain last instruction does)
                out.append(b + 1)
                fall_edge[b] = e = len(edges)
                add_edge((out_of, 2 * b + 3))
                target = blocks[b + 1]
                if target.body == target.start and b + 1 not in unprobed:
                    weigh_falls.append(b)
                else:
                    fixed.append(e)
            elif name in SUSPENDS:
                resumes[b] = b + 1
        if land >= 0:
            jump = at[land]
            out.append(jump)
            if jump <= b:
                backward = True
            jump_edge[b] = e = len(edges)
            add_edge((out_of, 2 * jump + 1))
            fixed.append(e)
        succs.append(out)
    return _FlowEdges(
        edges,
        block_edge,
        fall_edge,
        jump_edge,
        handler_entries,
        succs,
        resumes,
        backward,
        fixed,
        weigh_blocks,
        weigh_falls,
        handlers,
    )


def _chords(
    edges: list[tuple[int, int]], n_nodes: int, fixed: list[int], weighed: list[int]
) -> list[int]:
    """Kruskal: the ``fixed`` edges, then the ``weighed`` ones heaviest
    first, go into a spanning forest of the ``n_nodes`` nodes; an edge that
    would close a cycle is a chord (a fixed one cannot be)."""
    parent = list(range(n_nodes))
    chords: list[int] = []
    n_fixed = len(fixed)
    for k, e in enumerate(fixed + weighed):
        x, y = edges[e]
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        while parent[y] != y:
            parent[y] = y = parent[parent[y]]
        if x != y:
            parent[x] = y
        elif k < n_fixed:
            raise AssertionError(f"edge {edges[e]} closes a cycle but cannot hold a probe")
        else:
            chords.append(e)
    return chords


def _solving_order(
    n_nodes: int, edges: list[tuple[int, int]], tree: list[int]
) -> list[tuple[int, int]]:
    """(edge, node) pairs: leaves first, each tree edge solved at its far node.

    Every component of the forest is walked from a root (the outside node
    where it is in the component); each tree edge is then solved at the end
    away from the root, once the edges below that end are solved.
    """
    incident: list[list[int]] = [[] for _ in range(n_nodes)]
    for e in tree:
        src, dst = edges[e]
        incident[src].append(e)
        incident[dst].append(e)
    seen = [False] * n_nodes
    found: list[tuple[int, int]] = []
    for root in range(n_nodes):  # node 0, the outside node, is a root first
        if seen[root]:
            continue
        seen[root] = True
        work = [root]
        while work:
            node = work.pop()
            for e in incident[node]:
                src, dst = edges[e]
                other = dst if src == node else src
                if not seen[other]:
                    seen[other] = True
                    found.append((e, other))
                    work.append(other)
    found.reverse()
    return found
