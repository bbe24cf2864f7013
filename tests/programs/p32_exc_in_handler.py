# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Exceptions raised inside except and finally blocks; implicit chaining (__context__)."""


def handler_raises(x):
    try:
        return 1 / x
    except ZeroDivisionError:
        raise ValueError("from handler")


def finally_raises():
    try:
        raise KeyError("original")
    finally:
        raise IndexError("replaces")  # noqa: B012


def bare_reraise():
    try:
        [][1]
    except IndexError:
        print("logging")
        raise


def main():
    out = []
    for fn, arg in ((handler_raises, 0), (handler_raises, 2)):
        try:
            out.append(fn(arg))
        except ValueError as e:
            out.append((str(e), type(e.__context__).__name__))
    try:
        finally_raises()
    except IndexError as e:
        out.append(type(e.__context__).__name__)
    try:
        bare_reraise()
    except IndexError as e:
        out.append(str(e))
    return out
