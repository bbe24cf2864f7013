# requires-python: 3.11
"""Nested exception groups, except* with raise inside, add_note."""


def leaf(i):
    e = ValueError(i)
    e.add_note(f"note {i}")
    return e


def main():
    out = []
    try:
        try:
            raise ExceptionGroup("outer", [leaf(1), ExceptionGroup("inner", [leaf(2), OSError(3)])])
        except* ValueError as eg:
            out.append(sorted(str(e) for e in eg.exceptions if not isinstance(e, ExceptionGroup)))
            raise KeyError("from handler")
    except* OSError as eg:
        out.append("os")
    except* KeyError:
        out.append("key")
    try:
        raise ExceptionGroup("x", [TypeError()])
    except* (TypeError, ValueError):
        out.append("tuple pattern")
    return out
