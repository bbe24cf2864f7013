# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Printed output in many forms: sep/end, to stderr-free file-like objects, %-formatting."""

import io


def main():
    print("a", "b", sep="-", end="!\n")
    buf = io.StringIO()
    print("to buffer", file=buf)
    print("%s=%d %.2f %r" % ("x", 3, 1.5, "q"))
    print("{} {name}".format(1, name="n"))
    for i in range(3):
        print(i, end=" ")
    print()
    return buf.getvalue()
