# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""enum and dataclass machinery calling back into user code."""

import enum
from dataclasses import dataclass, field


class Color(enum.Enum):
    RED = 1
    GREEN = 2

    @property
    def pretty(self):
        return self.name.lower()


@dataclass(order=True)
class Item:
    priority: int
    name: str = field(compare=False)
    tags: list = field(default_factory=list)

    def __post_init__(self):
        if self.priority < 0:
            raise ValueError("negative priority")


def main():
    items = sorted([Item(3, "c"), Item(1, "a"), Item(2, "b", ["x"])])
    try:
        Item(-1, "bad")
    except ValueError as e:
        items.append(str(e))
    return [Color.RED.pretty, Color(2).name, [c.name for c in Color], repr(items)]
