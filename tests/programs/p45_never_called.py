# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Code objects that exist but never run: every instruction must count 0."""


def never(x):
    if x:
        return [y for y in range(x)]
    return lambda: x


class NeverInstantiated:
    def method(self):
        def inner():
            yield self

        return inner


async def never_awaited():
    return 1


def main():
    return "only main ran"
