# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Async comprehensions: async for in list/set/dict/generator comprehensions, await inside."""

import asyncio


async def aiter_range(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def double(x):
    await asyncio.sleep(0)
    return x * 2


async def run():
    a = [x async for x in aiter_range(5) if x != 2]
    b = {x % 2 async for x in aiter_range(5)}
    c = {x: await double(x) async for x in aiter_range(3)}
    d = [await double(x) for x in range(3)]
    g = (x async for x in aiter_range(4))
    e = [y async for y in g]
    nested = [[z async for z in aiter_range(x)] async for x in aiter_range(3)]
    return a, sorted(b), c, d, e, nested


def main():
    return asyncio.run(run())
