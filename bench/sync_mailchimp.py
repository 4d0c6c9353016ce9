"""Bench: sync a large segment to the Mailchimp emulator on loopback, against the limits' ceiling.

    .venv/bin/python bench/sync_mailchimp.py [--members 1000000] [--latency 0.05]

The emulator runs in its own process (uvicorn on 127.0.0.1) with Mailchimp's limits: at most 10
requests in flight and 500 members per call, each answer delayed by ``--latency``. The theoretical
ceiling for those limits is 10 x 500 / latency members/s (100k/s at 50 ms). Printed:

1. full sync: members/s of ``martech.sync.apply`` (plan + send + ledger) and of the send phase,
   each divided by the ceiling;
2. re-sync with 1% changed (0.5% leave, 0.5% join): requests sent / requests of the full sync;
3. unchanged re-sync: requests sent (expected 0).

``--serve`` runs only the emulator (used by this script and by ``bench/sync_faults.py``).
``--profile DIR`` writes cProfile stats of the full sync: ``client.prof`` (this process) and
``emulator.prof`` (the emulator process, from the first to the last request of the full sync).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

LIST_ID = "5e1a0b2c3d"
API_KEY = "0123456789abcdef0123456789abcdef-us21"
AUDIENCE = "bench-segment"


def email(i: int) -> str:
    return f"member{i:07d}@sandbox.example.com"


# ------------------------------------------------------------------------------ emulator process


def serve(port_file: Path, members: int, latency: float, faults: dict[str, Any]) -> None:
    """Run the Mailchimp emulator with ``members`` list members and a stats route, forever."""
    import cProfile
    import gc

    from starlette.routing import Route

    from martech.sandbox import Faults, json_response
    from martech_connectors.mailchimp.emulator import MailchimpEmulator

    class BenchEmulator(MailchimpEmulator):
        def routes(self) -> list[Any]:
            return [
                *super().routes(),
                Route("/__bench/stats", self.stats),
                Route("/__bench/profile", self.profile, methods=["POST"]),
            ]

        async def profile(self, request: Any) -> Any:
            """POST {"start": true} starts cProfile; {"dump": path} stops it and writes there."""
            body = await self.read_json(request) or {}
            if body.get("start"):
                profiler.enable()
            elif body.get("dump"):
                profiler.disable()
                profiler.dump_stats(body["dump"])
            return json_response({})

        async def stats(self, request: Any) -> Any:
            cpu = time.process_time()  # before the digest below, which is not sync work
            seg = self.segment_by_name(AUDIENCE)
            emails = sorted(self.segment_emails(seg.id)) if seg else []
            digest = hashlib.sha256("\n".join(emails).encode()).hexdigest()
            return json_response(
                {
                    "total_requests": self.total_requests,
                    "segment_posts": sum(
                        n
                        for k, n in self.requests.items()
                        if k.startswith("POST") and "/segments/" in k
                    ),
                    "segment_adds": self.segment_adds,
                    "duplicate_adds": self.duplicate_adds,
                    "segment_removes": self.segment_removes,
                    "segment_size": len(emails),
                    "segment_digest": digest,
                    "injected": self.injected,
                    "max_in_flight": self.max_in_flight,
                    "refused_concurrency": self.refused_concurrency,
                    "cpu_seconds": cpu,
                    "gc_full_collections": gc.get_stats()[2]["collections"],
                }
            )

    profiler = cProfile.Profile()
    emu = BenchEmulator(api_key=API_KEY, faults=Faults(latency=latency, **faults))
    lst = emu.lists[LIST_ID]
    from martech_connectors.mailchimp.mapping import subscriber_hash

    when = "2026-01-01T00:00:00+00:00"
    for i in range(members):
        e = email(i)
        lst.members[subscriber_hash(e)] = {
            "email_address": e,
            "status": "subscribed",
            "merge_fields": {},
            "tags": [],
            "timestamp_opt": when,
            "last_changed": when,
        }
    # The seeded list is static state: keep the collector from rescanning its ~3M objects.
    gc.freeze()
    import uvicorn

    config = uvicorn.Config(
        emu,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=60,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        import asyncio

        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        port_file.write_text(str(port))
        await task

    import asyncio

    asyncio.run(main())


def start_emulator(
    members: int, latency: float, faults: dict[str, Any] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The emulator in a child process; returns (process, base_url) once it listens."""
    port_file = Path(tempfile.mkdtemp()) / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port_file),
            "--members",
            str(members),
            "--latency",
            str(latency),
            "--faults",
            json.dumps(faults or {}),
        ]
    )
    for _ in range(6000):  # seeding 1M members takes a while; bounded at 10 minutes
        if port_file.exists() and port_file.read_text():
            return proc, f"http://127.0.0.1:{port_file.read_text()}/3.0"
        if proc.poll() is not None:
            raise SystemExit("emulator process died")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("emulator did not start within 10 minutes")


def stats(base_url: str, route: str = "stats", body: Any = None) -> dict[str, Any]:
    """The emulator's counters; retried while it refuses us for its 10-connection cap."""

    url = base_url.rsplit("/3.0", 1)[0] + f"/__bench/{route}"
    data = None if body is None else json.dumps(body).encode()
    for _ in range(200):
        try:
            with urllib.request.urlopen(url, data=data, timeout=120) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            time.sleep(0.05)
    raise SystemExit("the emulator refused the stats call 200 times")


# --------------------------------------------------------------------------------- sync side


def make_store(path: Path, members: int, extra: int = 0) -> None:
    """A store with ``members + extra`` profiles (email identity, email consent), via SQL."""
    from martech.store import Store

    with Store(path) as store:
        n = members + extra
        store.con.execute(
            "INSERT INTO profiles (id, traits, consent) "
            "SELECT 'p' || lpad(CAST(i AS VARCHAR), 7, '0'), "
            "'{}', '{\"email\": true}' FROM range(?) t(i)",
            [n],
        )
        store.con.execute(
            "INSERT INTO identities SELECT 'email', 'member' || lpad(CAST(i AS VARCHAR), 7, '0') "
            "|| '@sandbox.example.com', 'p' || lpad(CAST(i AS VARCHAR), 7, '0') FROM range(?) t(i)",
            [n],
        )


def ids(start: int, stop: int) -> list[str]:
    return [f"p{i:07d}" for i in range(start, stop)]


def connector(base_url: str) -> Any:
    from martech_connectors.mailchimp.config import MailchimpConfig
    from martech_connectors.mailchimp.connector import MailchimpConnector

    return MailchimpConnector(
        config=MailchimpConfig(api_key=API_KEY, list_id=LIST_ID, base_url=base_url, timeout=60)
    )


def expected_digest(members: list[str]) -> str:
    emails = sorted(email(int(k[1:])) for k in members)
    return hashlib.sha256("\n".join(emails).encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--serve")
    parser.add_argument("--faults", default="{}")
    parser.add_argument("--profile", help="Directory for client.prof and emulator.prof.")
    args = parser.parse_args()
    if args.serve:
        serve(
            Path(args.serve),
            args.members + args.members // 100,
            args.latency,
            json.loads(args.faults),
        )
        return

    from martech.store import Store
    from martech.sync import SyncSpec, apply, prepare

    n = args.members
    churn = n // 200  # 0.5% leave, 0.5% join: 1% of the segment changes
    ceiling = 10 * 500 / args.latency
    print(
        f"machine: {os.cpu_count()} cores; members {n:,}; latency {args.latency * 1000:.0f} ms; "
        f"ceiling 10 x 500 / latency = {ceiling:,.0f} members/s"
    )
    proc, url = start_emulator(n, args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.duckdb"
            make_store(path, n, extra=n // 100)
            with Store(path) as store:
                mc = connector(url)
                spec = SyncSpec(audience=AUDIENCE, members=ids(0, n))
                t0 = time.perf_counter()
                prepared = prepare(store, mc, spec)
                t_plan = time.perf_counter() - t0
                plan = prepared.plan
                print(
                    f"plan: {len(prepared.plan.adds):,} adds, "
                    f"{plan.requests - plan.resolve_requests:,}-{plan.requests:,} requests, "
                    f"estimated {plan.estimated_seconds_min:.1f}-{plan.estimated_seconds:.1f}s; "
                    f"planned in {t_plan:.2f}s"
                )
                before = stats(url)
                profiler = None
                if args.profile:
                    import cProfile

                    Path(args.profile).mkdir(parents=True, exist_ok=True)
                    stats(url, "profile", {"start": True})
                    profiler = cProfile.Profile()
                    profiler.enable()
                t0, cpu0 = time.perf_counter(), time.process_time()
                result = apply(store, mc, spec)
                total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(Path(args.profile) / "client.prof")
                    dump = str((Path(args.profile) / "emulator.prof").resolve())
                    stats(url, "profile", {"dump": dump})
                after = stats(url)
                full_requests = result.requests
                run = store.con.execute(
                    "SELECT min(committed_at), max(committed_at) FROM sync_batches"
                ).fetchall()[0]
                send = (run[1] - run[0]).total_seconds() if run[0] else total
                print(
                    f"full sync: sent {result.sent:,} in {total:.2f}s = "
                    f"{n / total:,.0f} members/s; "
                    f"ratio to ceiling {n / total / ceiling:.3f} (apply incl. plan, ledger, fold)"
                )
                print(
                    f"  send phase (first to last batch commit) {send:.2f}s = "
                    f"{n / send:,.0f} members/s; "
                    f"ratio {n / send / ceiling:.3f}"
                )
                emulator_cpu = after["cpu_seconds"] - before["cpu_seconds"]
                print(
                    f"  CPU: client {cpu:.2f}s = {cpu / n * 1e6:.1f} us/member (all threads), "
                    f"emulator {emulator_cpu:.2f}s = {emulator_cpu / n * 1e6:.1f} us/member "
                    f"({after['gc_full_collections'] - before['gc_full_collections']} full GCs); "
                    f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
                )
                print(
                    f"  requests {full_requests:,}; emulator segment POSTs "
                    f"{after['segment_posts'] - before['segment_posts']:,}; max in flight "
                    f"{after['max_in_flight']}; refused for concurrency "
                    f"{after['refused_concurrency']}; "
                    f"duplicate adds {after['duplicate_adds']}"
                )
                assert after["segment_size"] == n
                assert result.complete

                changed = ids(churn, n + churn)
                t0 = time.perf_counter()
                again = apply(store, mc, SyncSpec(audience=AUDIENCE, members=changed))
                dt = time.perf_counter() - t0
                print(
                    f"1% changed: sent {again.sent:,} ({churn:,} removed + {churn:,} added), "
                    f"requests {again.requests:,} = "
                    f"{again.requests / full_requests:.4f} of the full "
                    f"sync, {dt:.2f}s"
                )
                final = stats(url)
                assert final["segment_digest"] == expected_digest(changed)
                t0 = time.perf_counter()
                same = apply(store, mc, SyncSpec(audience=AUDIENCE, members=changed))
                print(
                    f"unchanged: requests {same.requests}, emulator requests "
                    f"{stats(url)['total_requests'] - final['total_requests'] - 1} "
                    f"(the stats call itself excluded), {time.perf_counter() - t0:.2f}s"
                )
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
