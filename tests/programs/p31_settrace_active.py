# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""sys.settrace active during the run: the program installs its own tracer.

The trace function itself is compiled from a string, outside the program's code
tree: code running *as* a trace function is invisible to every instruction
observer (the interpreter switches tracing and monitoring off inside it), so
the oracle could not count it.
"""

import sys

TRACER_SOURCE = """
def make_tracer(events, name):
    def tracer(frame, event, arg):
        if frame.f_code.co_name == name:
            events.append((event, frame.f_lineno - frame.f_code.co_firstlineno))
            return tracer
        return None
    return tracer
"""


def traced(n):
    t = 0
    for i in range(n):
        t += i
    return t


def install(func):
    sys.settrace(func)


def main():
    ns = {}
    exec(TRACER_SOURCE, ns)
    events = []
    previous = sys.gettrace()
    install(ns["make_tracer"](events, "traced"))
    try:
        r = traced(2)
    finally:
        sys.settrace(previous)
    r2 = traced(3)  # not traced by the program
    return r, r2, events
