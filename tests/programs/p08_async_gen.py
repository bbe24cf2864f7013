# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Async generators, async for and async with."""

import asyncio


class Resource:
    def __init__(self, name):
        self.name = name

    async def __aenter__(self):
        print("enter", self.name)
        return self

    async def __aexit__(self, et, ev, tb):
        print("exit", self.name, et.__name__ if et else None)
        return et is KeyError


async def agen(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i
        if i == 2:
            return


async def run():
    out = []
    async for x in agen(5):
        out.append(x)
    async with Resource("a") as r:
        out.append(r.name)
    async with Resource("b"):
        raise KeyError("suppressed")
    try:
        async with Resource("c"):
            raise ValueError("escapes")
    except ValueError:
        out.append("ve")
    out.append([y async for y in agen(4) if y % 2 == 0])
    ag = agen(3)
    out.append(await ag.__anext__())
    await ag.aclose()
    return out


def main():
    return asyncio.run(run())
