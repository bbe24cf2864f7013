# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""del of locals, globals, attributes, items, slices; use after del."""

G = 1


class Box:
    pass


def main():
    global G
    out = []
    a = 1
    del a
    try:
        print(a)  # noqa: F821
    except UnboundLocalError as e:
        out.append(type(e).__name__)
    b = Box()
    b.x = 1
    del b.x
    out.append(hasattr(b, "x"))
    d = {"k": 1, "j": 2}
    del d["k"]
    lst = list(range(10))
    del lst[2:5], lst[0]
    out.append((d, lst))
    del G
    try:
        print(G)
    except NameError as e:
        out.append(type(e).__name__)
    G = 2
    return out
