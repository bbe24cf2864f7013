# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Generator return values, send() protocol, StopIteration value, generator in try."""


def accumulator():
    total = 0
    while True:
        x = yield total
        if x is None:
            return total
        total += x


def main():
    acc = accumulator()
    next(acc)
    out = [acc.send(1), acc.send(5)]
    try:
        acc.send(None)
    except StopIteration as e:
        out.append(e.value)
    try:
        next(acc)
    except StopIteration:
        out.append("exhausted")
    return out
