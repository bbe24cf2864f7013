# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Tracebacks formatted inside the program: line numbers and (3.11+) caret columns."""

import traceback


def deep(d):
    return d["a"]["b"] + d["c"]


def middle(d):
    value = deep(d)
    return value


def main():
    out = []
    for d in ({"a": {"b": 1}, "c": 2}, {"a": {}}, {"a": {"b": 1}}, {"a": None}):
        try:
            out.append(middle(d))
        except (KeyError, TypeError):
            out.append(traceback.format_exc())
    return out
