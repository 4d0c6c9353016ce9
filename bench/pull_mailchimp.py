"""Pull N members from the Mailchimp emulator on loopback into the store, against a floor.

Usage::

    .venv/bin/python bench/pull_mailchimp.py [--records 100000] [--runs 3] [--latency 0.2]

The emulator runs in its own process (``martech sandbox serve mailchimp --no-limits``) so it
does not share our GIL. Every runner pages ``GET /3.0/lists/{id}/members`` with ``count=1000``
and the same ``fields`` selection, stopping at ``total_items``. Measured, median of ``--runs``:

* floor: a plain ``httpx.Client`` + ``orjson.loads`` offset loop that only counts members;
* ours, extract: ``MailchimpConnector.pull_profiles`` (HTTP engine + mapping to Profiles);
* ours, end to end: ``martech.pull`` into a fresh DuckDB store.

Prints rec/s for each and ours / floor. The emulator renders each page on request (member
objects, partial-response filtering), so part of every runner's time is the server's.
``--latency S`` holds every answer S seconds, as a vendor across the internet does: the floor
waits for each page in turn; the connector keeps up to 10 pages in flight (Mailchimp's cap).
"""

from __future__ import annotations

import argparse
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

API_KEY = "0123456789abcdef0123456789abcdef-us21"
LIST_ID = "5e1a0b2c3d"
FIELDS = (
    "members.email_address,members.status,members.merge_fields,"
    "members.tags,members.last_changed,total_items"
)


def start_emulator(records: int, latency: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    """``martech sandbox serve mailchimp`` in a child process; wait (bounded) for its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "martech", "sandbox", "serve", "mailchimp", "--records",
         str(records), "--no-limits", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 300)
    if not ready:
        proc.kill()
        raise SystemExit("emulator did not start within 300 s")
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"emulator printed {url!r}, expected its URL")
    return proc, url + "/3.0"


def floor(url: str) -> int:
    n = offset = 0
    with httpx.Client(base_url=url, auth=("bench", API_KEY)) as c:
        for _ in range(100_000):
            params = {"count": 1000, "offset": offset, "fields": FIELDS}
            data = orjson.loads(c.get(f"/lists/{LIST_ID}/members", params=params).content)
            got = len(data["members"])
            n += got
            offset += got
            if not got or offset >= data["total_items"]:
                return n
    raise RuntimeError("unbounded pagination")


def connector(url: str) -> object:
    from martech.http import HttpClient
    from martech_connectors.mailchimp.config import MailchimpConfig
    from martech_connectors.mailchimp.connector import MailchimpConnector

    http = HttpClient(base_url=url, vendor="mailchimp", limits=None)  # --no-limits emulator
    config = MailchimpConfig(api_key=API_KEY, list_id=LIST_ID, base_url=url)
    return MailchimpConnector(config=config, http=http)


def ours_extract(url: str) -> int:
    from martech.http import run_sync

    async def go() -> int:
        c = connector(url)
        n = 0
        async for page in c.pull_profiles():  # type: ignore[attr-defined]
            n += len(page)  # rows as the connector yields them; no Profile objects
        return n

    return run_sync(go())


def ours_store(url: str, scratch: Path) -> int:
    from martech.http import run_sync
    from martech.pulling import pull
    from martech.store import Store

    path = scratch / f"ours-{time.monotonic_ns()}.duckdb"
    with Store(path) as store:
        result = run_sync(pull(connector(url), store, full=True))  # type: ignore[arg-type]
        assert store.count("profiles") == result.records
    path.unlink()
    return result.records


def measure(runners: dict[str, Callable[[], int]], rounds: int) -> dict[str, float]:
    """Run every runner once per round (interleaved); print and return median rec/s."""
    times: dict[str, list[float]] = {label: [] for label in runners}
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for label, fn in runners.items():
            started = time.perf_counter()
            counts[label] = fn()
            times[label].append(time.perf_counter() - started)
    rates = {}
    for label, spent in times.items():
        median = statistics.median(spent)
        rates[label] = counts[label] / median
        spread = ", ".join(f"{t:.2f}" for t in spent)
        print(
            f"{label:<34} {counts[label]:>8} rec {median:6.2f} s {rates[label]:>9,.0f} rec/s"
            f"  [{spread}]"
        )
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds per answer.")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-mailchimp-"))
    proc, url = start_emulator(args.records, args.latency)
    try:
        print(f"emulator {url} with {args.records} members, {args.latency:g} s per answer")
        assert floor(url) == args.records
        ours_extract(url)  # warm-up: imports
        runners: dict[str, Callable[[], int]] = {
            "floor: httpx + orjson offset loop": lambda: floor(url),
            "ours: pull_profiles (extract)": lambda: ours_extract(url),
            "ours: pull into the store": lambda: ours_store(url, scratch),
        }
        rates = measure(runners, args.runs)
        r_floor = rates["floor: httpx + orjson offset loop"]
        print(
            f"\nours extract / floor    = {rates['ours: pull_profiles (extract)'] / r_floor:.2f}"
            f"\nours end to end / floor = {rates['ours: pull into the store'] / r_floor:.2f}"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
