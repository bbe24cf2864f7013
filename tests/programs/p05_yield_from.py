# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""yield from delegation, with throw() and close() forwarded to the inner generator."""


def inner():
    try:
        x = yield 1
        print("inner got", x)
        yield 2
    except KeyError:
        print("inner caught KeyError")
        yield 3
    finally:
        print("inner finally")
    return "inner-result"


def outer():
    r = yield from inner()
    print("outer got", r)
    yield from [10, 11]
    return r


def main():
    out = list(outer())
    g = outer()
    out.append(next(g))
    out.append(g.send("hello"))
    g.close()
    g = outer()
    next(g)
    out.append(g.throw(KeyError))
    out.append(next(g))
    try:
        g.throw(RuntimeError("stop"))
    except RuntimeError as e:
        out.append(str(e))
    return out
