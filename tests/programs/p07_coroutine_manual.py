# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Coroutines driven by hand with send() and throw()."""

import types


@types.coroutine
def suspend(v):
    got = yield v
    return got


async def worker():
    a = await suspend("first")
    try:
        b = await suspend("second")
    except ZeroDivisionError:
        b = "recovered"
    c = await suspend("third")
    return (a, b, c)


def main():
    co = worker()
    out = [co.send(None), co.send("A")]
    out.append(co.throw(ZeroDivisionError()))
    try:
        co.send("C")
    except StopIteration as e:
        out.append(e.value)
    co2 = worker()
    co2.send(None)
    co2.close()
    return out
