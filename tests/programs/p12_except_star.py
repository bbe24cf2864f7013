# requires-python: 3.11
"""except* with exception groups: split, partial handling, re-raise."""


def raiser(kind):
    if kind == 0:
        raise ExceptionGroup("g", [ValueError(1), TypeError(2), ValueError(3)])
    if kind == 1:
        raise ValueError("single")
    if kind == 2:
        raise ExceptionGroup("h", [KeyError("k")])
    return "none"


def handle(kind):
    seen = []
    try:
        try:
            raiser(kind)
        except* ValueError as eg:
            seen.append(("value", len(eg.exceptions)))
        except* TypeError as eg:
            seen.append(("type", len(eg.exceptions)))
        else:
            seen.append("else")
        finally:
            seen.append("finally")
    except* KeyError as eg:
        seen.append(("outer key", len(eg.exceptions)))
    return seen


def main():
    return [handle(k) for k in range(4)]
