"""A real ``kill -9`` of a sync process mid-way, then resume: nothing lost, nothing added twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from martech.sandbox import Faults
from martech.store import Store
from martech.sync import SyncSpec, apply, status
from martech.testing.reference import ReferenceConfig, ReferenceConnector, ReferenceEmulator

N = 2000

CHILD = textwrap.dedent(
    """
    import sys
    from martech.store import Store
    from martech.sync import SyncSpec, apply
    from martech.testing.reference import ReferenceConfig, ReferenceConnector

    path, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    connector = ReferenceConnector(config=ReferenceConfig(base_url=url, api_key="sk_kill"))
    with Store(path) as store:
        apply(store, connector, SyncSpec(audience="a", members=[f"p{i:05d}" for i in range(n)]))
    """
)


def test_kill_9_mid_sync_then_resume_is_exact(tmp_path: Path, make_people) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "kill.duckdb"
    with Store(path) as store:
        store.upsert_profiles(make_people(N))
    emulator = ReferenceEmulator(faults=Faults(latency=0.1))
    with emulator.serve() as url:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), url, str(N)])
        try:
            for _ in range(600):  # up to 60 s for the child to get going; bounded
                if emulator.adds >= N // 4 or child.poll() is not None:
                    break
                time.sleep(0.1)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, "the child finished before it was killed"
        reached = emulator.adds
        assert N // 4 <= reached < N
        emulator.set_faults(Faults())
        connector = ReferenceConnector(config=ReferenceConfig(base_url=url, api_key="sk_kill"))
        with Store(path) as store:
            assert status(store)[0].status == "running"  # what a kill leaves behind
            result = apply(
                store, connector, SyncSpec(audience="a", members=[f"p{i:05d}" for i in range(N)])
            )
            assert result.complete
            assert [r.status for r in status(store)] == ["complete", "complete"]
            present = store.con.execute(
                "SELECT count(*) FROM sync_ledger WHERE state = 'present'"
            ).fetchall()[0][0]
    assert present == N
    assert emulator.members("a") == {f"person{i}@example.com" for i in range(N)}
    assert emulator.duplicate_adds == 0
    assert emulator.adds == N
