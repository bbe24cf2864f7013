# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Nested try/except/else/finally, re-raise, exception chaining."""


def inner(x):
    try:
        if x == 0:
            raise ValueError("zero")
        if x == 1:
            raise TypeError("one")
    except ValueError as e:
        raise LookupError("wrapped") from e
    else:
        return "else"
    finally:
        print("inner finally", x)


def outer(x):
    try:
        try:
            return inner(x)
        except LookupError as e:
            print("cause", type(e.__cause__).__name__)
            raise
        else:
            print("unreachable else")
        finally:
            print("middle finally")
    except Exception as e:
        return type(e).__name__
    finally:
        print("outer finally")


def main():
    return [outer(x) for x in range(3)]
