"""Generators abandoned early: never resumed again, then collected."""

import gc


def gen(tag):
    try:
        yield tag
        yield tag * 2
    finally:
        print("finalized", tag)


def never_started():
    print("never printed")
    yield 1


def main():
    g = gen(1)
    first = next(g)
    del g
    gc.collect()
    h = never_started()
    del h
    gc.collect()
    holders = [gen(i) for i in range(3)]
    for x in holders[:2]:
        next(x)
    holders.clear()
    gc.collect()
    return first
