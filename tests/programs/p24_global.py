# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""global declarations, module-level state and module-level control flow."""

counter = 0
LOG = []

for _i in range(3):
    if _i % 2:
        LOG.append(_i)


def bump(n):
    global counter
    for _ in range(n):
        counter += 1
    return counter


def reset():
    global counter, NEW_NAME
    counter = 0
    NEW_NAME = "created"


def main():
    bump(3)
    bump(2)
    v = counter
    reset()
    return v, counter, NEW_NAME, LOG  # noqa: F821
