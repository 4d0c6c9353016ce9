"""Bench: the Python cost martech's HttpClient adds to one request over plain httpx.

    .venv/bin/python bench/http_overhead.py [--requests 5000]

Both send GETs to an in-process ``httpx.MockTransport`` (no socket, no server), so the figure is
each side's own CPU per request: httpx.AsyncClient alone, then HttpClient (retry policy, budget
slot, timeout, status classification, one orjson parse). Printed: CPU microseconds per request,
interleaved twice.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

BODY = b'{"results": [], "paging": null}'


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


async def plain(n: int) -> None:
    async with httpx.AsyncClient(
        base_url="http://vendor.test", transport=httpx.MockTransport(handler)
    ) as client:
        for _ in range(n):
            (await client.get("/p", params={"limit": 100})).json()


async def ours(n: int) -> None:
    from martech.http import HttpClient

    http = HttpClient(
        base_url="http://vendor.test",
        vendor="hubspot",
        limits=None,
        transport=httpx.MockTransport(handler),
    )
    for _ in range(n):
        await http.request("GET", "/p", params={"limit": 100})
    await http.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    n = parser.parse_args().requests
    for name, run in [("httpx.AsyncClient", plain), ("martech HttpClient", ours)] * 2:
        cpu = time.process_time()
        asyncio.run(run(n))
        print(f"{name:20s} {(time.process_time() - cpu) / n * 1e6:6.0f} us CPU per request")


if __name__ == "__main__":
    main()
