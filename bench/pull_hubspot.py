"""Pull N contacts from the HubSpot emulator on loopback into the store, against baselines.

Usage::

    .venv/bin/python bench/pull_hubspot.py [--records 100000] [--runs 3] [--no-dlt]
        [--flush-rows N]

The emulator runs in its own process (``martech sandbox serve hubspot --no-limits``, pages
pre-rendered by a warm-up pass) so the server does not share our GIL. Every runner fetches the
same URL: ``GET /crm/v3/objects/contacts?limit=100&properties=<26 properties>`` and follows
``paging.next.after``. Measured, median of ``--runs``:

* floor: a plain ``httpx.Client`` + ``orjson.loads`` page loop that only counts records;
* ours, extract: ``HubSpotConnector.pull_profiles`` (HTTP engine + mapping each page to
  columnar ``ProfileRows``); once more, one run, also building validated Profiles from them;
* ours, end to end: ``martech.pull`` into a fresh DuckDB store (profiles, identities,
  checkpoint), i.e. what ``martech`` users get;
* dlt ``rest_api`` (if installed): ``extract()`` only, and ``run()`` to DuckDB with parquet
  files (the default ``insert_values`` needs GBs of RAM at this size, research §6).

Prints rec/s for each and the ratios the issue sets goals for: ours end to end / floor >= 0.5,
ours extract / dlt extract >= 2.
"""

from __future__ import annotations

import argparse
import os
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

TOKEN = "bench-token"
PATH = "/crm/v3/objects/contacts"


def start_emulator(records: int) -> tuple[subprocess.Popen[str], str]:
    """``martech sandbox serve hubspot`` in a child process; wait (bounded) for its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "martech", "sandbox", "serve", "hubspot", "--records",
         str(records), "--no-limits", "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 180)
    if not ready:
        proc.kill()
        raise SystemExit("emulator did not start within 180 s")
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"emulator printed {url!r}, expected its URL")
    return proc, url


def properties() -> str:
    from martech_connectors.hubspot.mapping import DEFAULT_PROPERTIES

    return ",".join(DEFAULT_PROPERTIES)


def floor(url: str) -> int:
    n, after = 0, None
    params: dict[str, object] = {"limit": 100, "properties": properties()}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        for _ in range(1_000_000):
            if after:
                params["after"] = after
            data = orjson.loads(c.get(PATH, params=params).content)
            n += len(data["results"])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return n
    raise RuntimeError("unbounded pagination")


def connector(url: str) -> object:
    from martech.http import HttpClient
    from martech_connectors.hubspot.config import HubSpotConfig
    from martech_connectors.hubspot.connector import HubSpotConnector

    http = HttpClient(base_url=url, vendor="hubspot", limits=None)  # the emulator has none
    return HubSpotConnector(config=HubSpotConfig(access_token=TOKEN, base_url=url), http=http)


def ours_extract(url: str) -> int:
    from martech.http import run_sync

    async def go() -> int:
        c = connector(url)
        n = 0
        async for page in c.pull_profiles():  # type: ignore[attr-defined]
            n += len(page)  # rows as the connector yields them; no Profile objects
        return n

    return run_sync(go())


def ours_extract_profiles(url: str) -> int:
    """As :func:`ours_extract`, also building every page's rows into validated Profile objects
    (before pages became columnar the extract built them unvalidated, ``model_construct``)."""
    from martech.http import run_sync

    async def go() -> int:
        c = connector(url)
        n = 0
        async for page in c.pull_profiles():  # type: ignore[attr-defined]
            n += len(page.profiles)
        return n

    return run_sync(go())


def ours_store(url: str, scratch: Path, flush_rows: int | None = None) -> int:
    from martech.http import run_sync
    from martech.pulling import pull
    from martech.store import Store

    path = scratch / f"ours-{time.monotonic_ns()}.duckdb"
    with Store(path) as store:
        chunks = {} if flush_rows is None else {"flush_rows": flush_rows}
        result = run_sync(pull(connector(url), store, full=True, **chunks))  # type: ignore[arg-type]
        assert store.count("profiles") == result.records
    path.unlink()
    return result.records


def dlt_source(url: str) -> object:
    from dlt.sources.rest_api import rest_api_source

    return rest_api_source(
        {
            "client": {
                "base_url": url,
                "auth": {"type": "bearer", "token": TOKEN},
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "paging.next.after",
                    "cursor_param": "after",
                },
            },
            "resources": [
                {
                    "name": "contacts",
                    "primary_key": "id",
                    "endpoint": {
                        "path": PATH,
                        "data_selector": "results",
                        "params": {"limit": 100, "properties": properties()},
                    },
                }
            ],
        }
    )


def dlt_extract(url: str, scratch: Path) -> int:
    import dlt

    p = dlt.pipeline(
        pipeline_name=f"x{time.monotonic_ns()}", destination="duckdb", dev_mode=True,
        pipelines_dir=str(scratch / "dlt"),
    )  # fmt: skip
    info = p.extract(dlt_source(url))
    return int(sum(m.get("items_count", 0) for m in _metrics(info)) or 0)


def _metrics(info: object) -> list[dict[str, int]]:
    try:
        out = []
        for load_metrics in info.metrics.values():  # type: ignore[attr-defined]
            for m in load_metrics:
                out.extend(m["job_metrics"].values())
        return [{"items_count": getattr(m, "items_count", 0)} for m in out]
    except Exception:
        return []


def dlt_duckdb(url: str, scratch: Path) -> int:
    import dlt

    name = f"d{time.monotonic_ns()}"
    p = dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(scratch / f"{name}.duckdb")),
        dataset_name="bench", pipelines_dir=str(scratch / "dlt"),
    )  # fmt: skip
    p.run(dlt_source(url), loader_file_format="parquet")
    with p.sql_client() as client:
        return int(client.execute_sql("SELECT count(*) FROM contacts")[0][0])


def measure(runners: dict[str, Callable[[], int]], rounds: int) -> dict[str, float]:
    """Run every runner once per round (interleaved, so load drift hits all alike); print
    and return the median rec/s of each."""
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
            f"{label:<38} {counts[label]:>8} rec {median:6.2f} s {rates[label]:>9,.0f} rec/s"
            f"  [{spread}]"
        )
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-dlt", action="store_true")
    parser.add_argument(
        "--flush-rows", type=int, default=None, help="pull()'s chunk size (default: its own)"
    )
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    scratch = Path(tempfile.mkdtemp(prefix="bench-hubspot-"))
    proc, url = start_emulator(args.records)
    try:
        print(f"emulator {url} with {args.records} contacts; warming its page cache…")
        assert floor(url) == args.records
        ours_extract(url)  # warm-up: imports
        ours_store(url, scratch)
        try:
            import dlt  # noqa: F401
        except ImportError:
            args.no_dlt = True
            print("dlt not installed: skipping the dlt comparison")
        runners: dict[str, Callable[[], int]] = {
            "floor: httpx + orjson page loop": lambda: floor(url),
            "ours: pull_profiles (extract)": lambda: ours_extract(url),
            "ours: pull into the store": lambda: ours_store(url, scratch, args.flush_rows),
        }
        if not args.no_dlt:
            runners["dlt rest_api: extract only"] = lambda: dlt_extract(url, scratch)
        rates = measure(runners, args.runs)
        r_floor = rates["floor: httpx + orjson page loop"]
        r_extract = rates["ours: pull_profiles (extract)"]
        r_store = rates["ours: pull into the store"]
        ratios = [
            f"ours end to end / floor         = {r_store / r_floor:.2f}  (goal >= 0.50)",
            f"ours extract / floor            = {r_extract / r_floor:.2f}",
        ]
        if not args.no_dlt:
            r_dlt_db = measure(
                {"dlt rest_api: run to duckdb (parquet)": lambda: dlt_duckdb(url, scratch)}, 1
            )["dlt rest_api: run to duckdb (parquet)"]
            r_dlt = rates["dlt rest_api: extract only"]
            ratios += [
                f"ours extract / dlt extract      = {r_extract / r_dlt:.2f}  (goal >= 2)",
                f"ours end to end / dlt extract   = {r_store / r_dlt:.2f}",
                f"ours end to end / dlt to duckdb = {r_store / r_dlt_db:.2f}",
            ]
        measure({"ours: pull_profiles + .profiles, 1 run": lambda: ours_extract_profiles(url)}, 1)
        print("\n" + "\n".join(ratios))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
