# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""match with every pattern kind."""

from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int


class Color:
    RED = "red"


def classify(v):
    match v:
        case 0 | 1:
            return "small literal"
        case None:
            return "none"
        case True:
            return "true"
        case Color.RED:
            return "value pattern"
        case str() as s if len(s) > 3:
            return f"long str {s}"
        case str(s):
            return f"short str {s}"
        case [x, y, *rest] if rest:
            return f"seq {x} {y} +{len(rest)}"
        case [x, y]:
            return f"pair {x} {y}"
        case []:
            return "empty seq"
        case {"k": 1, **others}:
            return f"map k=1 others={sorted(others)}"
        case {"k": val}:
            return f"map k={val}"
        case Point(x=0, y=yy):
            return f"on y axis {yy}"
        case Point(xx, 0):
            return f"on x axis {xx}"
        case Point():
            return "point"
        case float(f) if f > 1.5:
            return "big float"
        case (1, (2, z)):
            return f"nested {z}"
        case _:
            return "wildcard"


def main():
    values = [
        0,
        1,
        None,
        True,
        "red",
        "hello",
        "hi",
        [1, 2, 3, 4],
        [5, 6],
        [],
        {"k": 1, "a": 2},
        {"k": 7},
        Point(0, 5),
        Point(3, 0),
        Point(1, 1),
        2.5,
        0.5,
        (1, (2, 3)),
        object,
    ]
    return [classify(v) for v in values]
