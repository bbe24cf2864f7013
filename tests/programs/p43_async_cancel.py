# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""asyncio tasks cancelled while suspended in try/finally; timeouts; exceptions in tasks."""

import asyncio


async def sleeper(log, tag):
    try:
        log.append(f"{tag} start")
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        log.append(f"{tag} cancelled")
        raise
    finally:
        log.append(f"{tag} finally")


async def failing():
    await asyncio.sleep(0)
    raise LookupError("task failed")


async def run():
    log = []
    t = asyncio.ensure_future(sleeper(log, "a"))
    await asyncio.sleep(0)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        log.append("awaited cancelled")
    try:
        await asyncio.wait_for(sleeper(log, "b"), 0.001)
    except asyncio.TimeoutError:
        log.append("timeout")
    try:
        await asyncio.ensure_future(failing())
    except LookupError as e:
        log.append(str(e))
    return log


def main():
    return asyncio.run(run())
