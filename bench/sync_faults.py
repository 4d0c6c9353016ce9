"""Bench: a large sync to the Mailchimp emulator under faults, killed with SIGKILL, then resumed.

    .venv/bin/python bench/sync_faults.py [--members 1000000] [--latency 0.05]

The emulator (its own process, Mailchimp's limits) answers 2% of requests with 429
(``Retry-After: 1``) and 1% with 503. A sync runs in a child process and is killed with
``kill -9`` once the emulator has taken ``--kill-at`` of the segment; a second process resumes.
Checked and printed: the emulator's segment equals the desired segment exactly (count and
SHA-256 of the sorted addresses) and the emulator counted no duplicate adds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from sync_mailchimp import expected_digest, ids, make_store, start_emulator, stats

CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {bench!r})
    from sync_mailchimp import AUDIENCE, connector, ids
    from martech.store import Store
    from martech.sync import SyncSpec, apply

    path, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    with Store(path) as store:
        result = apply(store, connector(url), SyncSpec(audience=AUDIENCE, members=ids(0, n)))
    print(f"child: complete={{result.complete}} sent={{result.sent}} "
          f"rejected={{len(result.rejected)}} requests={{result.requests}} "
          f"in {{time.perf_counter() - t0:.1f}}s", flush=True)
    """
)


def run_child(path: Path, url: str, n: int) -> subprocess.Popen[bytes]:
    code = CHILD.format(bench=str(Path(__file__).parent))
    return subprocess.Popen([sys.executable, "-c", code, str(path), url, str(n)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--kill-at", type=float, default=0.5, help="Share added before kill -9.")
    args = parser.parse_args()
    n = args.members
    faults = {
        "too_many_requests": {"rate": 0.02},
        "retry_after": "1",
        "server_errors": {"rate": 0.01},
        "seed": 42,
        "paths": ["/3.0/lists/"],
    }
    print(
        f"machine: {os.cpu_count()} cores; members {n:,}; latency {args.latency * 1000:.0f} ms; "
        f"faults: 2% 429 (Retry-After 1), 1% 503; kill -9 at {args.kill_at:.0%}"
    )
    proc, url = start_emulator(n, args.latency, faults)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "faults.duckdb"
            make_store(path, n)
            t0 = time.perf_counter()
            child = run_child(path, url, n)
            for _ in range(7200):  # bounded: 1 hour
                if stats(url)["segment_adds"] >= n * args.kill_at or child.poll() is not None:
                    break
                time.sleep(0.5)
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            killed = stats(url)
            print(
                f"kill -9 after {time.perf_counter() - t0:.1f}s: child exit {child.returncode}; "
                f"emulator has {killed['segment_size']:,} in the segment"
            )
            t1 = time.perf_counter()
            resumed = run_child(path, url, n)
            resumed.wait()
            final = stats(url)
            total = time.perf_counter() - t0
            exact = final["segment_digest"] == expected_digest(ids(0, n))
            print(f"resume: {time.perf_counter() - t1:.1f}s; total {total:.1f}s")
            print(
                f"emulator: segment {final['segment_size']:,} of {n:,}; equals the segment "
                f"exactly: {exact}; duplicate adds {final['duplicate_adds']}; adds "
                f"{final['segment_adds']:,}; injected {json.dumps(final['injected'])}; "
                f"requests {final['total_requests']:,}"
            )
            if not (exact and final["duplicate_adds"] == 0 and final["segment_size"] == n):
                raise SystemExit("FAILED: state differs or duplicates were added")
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
