# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""import statements inside functions: plain, from, as, star-free, failing."""


def use_imports():
    import math
    from collections import OrderedDict as OD
    from os import path as p

    return math.floor(2.5), list(OD(a=1)), p.basename("/x/y")


def failing():
    try:
        import does_not_exist_pb  # noqa: F401
    except ImportError as e:
        return type(e).__name__
    return "imported?"


def main():
    return use_imports(), failing()
