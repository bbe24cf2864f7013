"""sys.settrace active during the run: the program installs its own tracer."""

import sys


def traced(n):
    t = 0
    for i in range(n):
        t += i
    return t


def main():
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "traced":
            events.append((event, frame.f_lineno - frame.f_code.co_firstlineno))
            return tracer
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        r = traced(2)
    finally:
        sys.settrace(previous)
    r2 = traced(3)  # not traced by the program
    return r, r2, events
