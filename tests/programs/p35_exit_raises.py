# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""__exit__ that raises, __enter__ that raises, with inside generators."""


class Bad:
    def __init__(self, where):
        self.where = where

    def __enter__(self):
        if self.where == "enter":
            raise OSError("enter failed")
        return self

    def __exit__(self, *exc):
        if self.where == "exit":
            raise RuntimeError("exit failed")
        return False


def gen():
    with Bad("none"):
        yield 1
        yield 2


def main():
    out = []
    for where in ("enter", "exit", "none"):
        try:
            with Bad(where):
                out.append(f"body {where}")
        except (OSError, RuntimeError) as e:
            out.append(type(e).__name__)
    g = gen()
    out.append(next(g))
    g.close()
    out.append(list(gen()))
    return out
