# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""yield inside try, except, else and finally blocks."""


def g(fail):
    try:
        yield "try"
        if fail:
            raise ValueError
    except ValueError:
        yield "except"
    else:
        yield "else"
    finally:
        yield "finally"
    yield "after"


def main():
    out = [list(g(False)), list(g(True))]
    gen = g(True)
    out.append(next(gen))
    out.append(next(gen))
    try:
        gen.close()
    except RuntimeError as e:
        out.append(str(e))
    return out
