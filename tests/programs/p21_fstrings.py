# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""f-strings: conversions, format specs, nested fields, debugging '=' form."""


class Obj:
    def __repr__(self):
        return "Obj()"

    def __format__(self, spec):
        return f"<{spec}>"


def main():
    x, width, o = 3.14159, 10, Obj()
    items = [
        f"{x}",
        f"{x:.2f}",
        f"{x:{width}.{2}f}|",
        f"{o!r} {o!s} {o:spec}",
        f"{x=}",
        f"{'nested ' + f'{x:.1f}'}",
        f"{[i for i in range(3)]}",
        f"{x if x > 3 else -x:>8}",
        f"{{literal}} {width:#x}",
    ]
    try:
        f"{1 / 0}"
    except ZeroDivisionError:
        items.append("zde")
    return items
