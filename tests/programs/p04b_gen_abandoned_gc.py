# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Generators abandoned early inside reference cycles, finalized by gc.collect()."""

import gc


class Holder:
    def __init__(self, gen):
        self.gen = gen
        self.me = self  # a cycle: only the collector frees it


def gen(tag):
    try:
        yield tag
        yield tag * 2
    finally:
        print("finalized", tag)


def main():
    # The collector finalizes a batch of garbage in the order its generations
    # hold it, which depends on every allocation since start-up (the harness
    # allocates differently before a plain and an instrumented run).  Start
    # from a clean slate and keep automatic collections out of the way.
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        holders = [Holder(gen(i)) for i in range(4)]
        firsts = [next(h.gen) for h in holders[:3]]  # the last one never starts
        holders = None
        gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    return firsts
