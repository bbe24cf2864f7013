# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Recursive generators (tree walk with yield from) and generator-based recursion."""


def walk(tree, depth=0):
    if isinstance(tree, list):
        for child in tree:
            yield from walk(child, depth + 1)
    else:
        yield (tree, depth)


def perms(items):
    if len(items) <= 1:
        yield list(items)
        return
    for i, x in enumerate(items):
        for rest in perms(items[:i] + items[i + 1 :]):
            yield [x, *rest]


def main():
    return list(walk([1, [2, [3, 4]], [[5]]])), list(perms([1, 2, 3]))
