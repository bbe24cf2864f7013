# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Coroutines driven by asyncio.run."""

import asyncio


async def leaf(i):
    await asyncio.sleep(0)
    if i == 3:
        raise ValueError(i)
    return i * i


async def middle(n):
    total = 0
    for i in range(n):
        try:
            total += await leaf(i)
        except ValueError as e:
            total -= e.args[0]
    return total


async def gathered():
    return await asyncio.gather(middle(2), middle(5), leaf(7))


def main():
    return asyncio.run(gathered())
