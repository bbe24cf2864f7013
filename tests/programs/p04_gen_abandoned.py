# requires-python: 3.11
# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Generators abandoned early and finalized the moment their last reference goes.

3.10 only: the oracle cannot watch this.  Legacy tracing copies a traced
frame's locals into ``f_locals`` before each trace call, so the reference
``del g`` drops is still held by that snapshot and the generator is finalized
when the next trace call refreshes it, inside the trace machinery where no
events are raised.  ``p04b_gen_abandoned_gc`` covers 3.10 with reference cycles
collected by ``gc.collect()`` instead.
"""

import gc


def gen(tag):
    try:
        yield tag
        yield tag * 2
    finally:
        print("finalized", tag)


def never_started():
    print("never printed")
    yield 1


def main():
    g = gen(1)
    first = next(g)
    del g
    gc.collect()
    h = never_started()
    del h
    gc.collect()
    holders = [gen(i) for i in range(3)]
    for x in holders[:2]:
        next(x)
    holders.clear()
    gc.collect()
    return first
