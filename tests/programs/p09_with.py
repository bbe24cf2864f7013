# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""with statements: normal exit, exceptional exit, suppressing exit, nesting."""


class CM:
    def __init__(self, name, suppress=False):
        self.name = name
        self.suppress = suppress

    def __enter__(self):
        print("enter", self.name)
        return self.name

    def __exit__(self, et, ev, tb):
        print("exit", self.name, et.__name__ if et else None)
        return self.suppress


def main():
    out = []
    with CM("plain") as n:
        out.append(n)
    with CM("suppress", True):
        raise ValueError("gone")
        out.append("unreached")
    try:
        with CM("outer"), CM("inner"):
            raise KeyError("k")
    except KeyError:
        out.append("caught")
    for i in range(3):
        with CM(f"loop{i}", suppress=i == 1):
            if i == 1:
                raise RuntimeError
            if i == 2:
                break
            continue
    return out
