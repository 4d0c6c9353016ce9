"""A real ``kill -9`` in the middle of ``martech import`` and of a pull, then the same command
again: nothing lost, nothing doubled, the stored cursor says what is stored.

The child stops itself at the worst moment (its rows written inside the open transaction, not yet
committed) and says so on stdout; the test then kills it. No timing decides where it dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from martech.store import Store

#: Runs the CLI in-process, after making the named bulk write (``-``: none) pause, saying
#: "paused", once its rows are in, before its transaction commits.
IMPORT_CHILD = textwrap.dedent(
    """
    import sys, time
    import martech._bulk as bulk

    name = sys.argv[1]
    if name != "-":
        original = getattr(bulk, name)

        def paused(*args, **kwargs):
            result = original(*args, **kwargs)
            print("paused", flush=True)
            time.sleep(120)
            return result

        setattr(bulk, name, paused)
    from martech.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)

#: A pull of N profiles in pages of 100, chunks of 200; the second chunk's write pauses (rows
#: in, cursor not yet) after saying "paused", so the first chunk is committed with its cursor.
PULL_CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    import martech.pulling as pulling
    from martech.connector import Connector, ConnectorConfig, ProfileRows, PullPage
    from martech.models import Profile
    from martech.store import Store

    path, total, pause = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "pause"

    class Paged(Connector):
        name = "paged"
        kind = "other"

        async def pull_profiles(self, *, since=None, cursor=None):
            offset = int(cursor or 0)
            while offset < total:
                people = [
                    Profile(id=f"p{n:05d}", identities={"email": f"u{n}@example.com"},
                            traits={"n": n})
                    for n in range(offset, min(offset + 100, total))
                ]
                offset += len(people)
                yield PullPage(rows=ProfileRows.from_profiles(people), cursor=str(offset))

    import martech._bulk as bulk
    real = bulk.upsert_profiles
    calls = []

    def upsert(con, table, **kwargs):
        result = real(con, table, **kwargs)
        calls.append(1)
        if pause and len(calls) == 2:
            print("paused", flush=True)
            time.sleep(120)
        return result

    bulk.upsert_profiles = upsert
    with Store(path) as store:
        result = asyncio.run(pulling.pull(
            Paged(config=ConnectorConfig(base_url="http://unused.test")), store,
            flush_rows=200, flush_seconds=3600))
        print("done", result.records, result.cursor, flush=True)
    """
)


def run_until_paused(args: list[str], env: dict[str, str] | None = None) -> None:
    """Start a child, wait for its "paused" line, kill -9 it."""
    child = subprocess.Popen(
        [sys.executable, "-c", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # bounded: the child pauses or exits within the timeout
        assert line.strip() == "paused", child.stderr.read() if child.stderr else line
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


def run(args: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("kind", "write"), [("events", "append_events"), ("profiles", "upsert_profiles")]
)
def test_kill_9_mid_import_then_the_same_import_stores_each_row_once(
    tmp_path: Path, kind: str, write: str
) -> None:
    home = tmp_path / "home"
    env = {"MARTECH_HOME": str(home)}
    people = tmp_path / "people.csv"
    people.write_text("id,email\n" + "".join(f"p{i},u{i}@example.com\n" for i in range(300)))
    events = tmp_path / "events.csv"
    # Two identical rows (two views in the same second) are two events, kept as two.
    events.write_text(
        "profile_id,type,item_id,ts\n"
        + "".join(
            f"p{i % 300},view,i{i % 7},2026-01-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z\n"
            for i in range(3000)
        )
        + "p1,view,i1,2026-01-01T00:01:00Z\n"
    )
    if kind == "events":  # the profiles the events belong to, imported and committed before
        run([IMPORT_CHILD, "-", "import", "profiles", str(people)], env)
    file = events if kind == "events" else people
    run_until_paused([IMPORT_CHILD, write, "import", kind, str(file)], env)
    with Store(home / "martech.duckdb") as store:  # the killed transaction left nothing
        assert store.count(kind) == 0
        if kind == "events":
            assert store.count("profiles") == 300
    run([IMPORT_CHILD, "-", "import", kind, str(file)], env)
    run([IMPORT_CHILD, "-", "import", kind, str(file)], env)  # and once more: no change
    with Store(home / "martech.duckdb") as store:
        if kind == "events":
            assert store.count("events") == 3001
            twice = store.con.execute(
                "SELECT count(*) FROM events WHERE profile_id = 'p1' AND item_id = 'i1' "
                "AND ts = '2026-01-01 00:01:00+00'"
            ).fetchall()[0][0]
            assert twice == 2
        else:
            assert store.count("profiles") == 300
            assert store.count("identities") == 300


def test_kill_9_mid_pull_keeps_the_cursor_with_its_rows_and_resumes_exactly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pull.duckdb"
    run_until_paused([PULL_CHILD, str(path), "1000", "pause"])
    with Store(path) as store:
        cursor = store.con.execute("SELECT cursor FROM checkpoints").fetchall()
        ids = [r[0] for r in store.con.execute("SELECT id FROM profiles ORDER BY id").fetchall()]
    # The first chunk (pages 1-2) was committed with its cursor; the second died uncommitted.
    assert cursor == [("200",)]
    assert ids == [f"p{n:05d}" for n in range(200)]
    out = run([PULL_CHILD, str(path), "1000", "go"])
    assert out.split() == ["done", "800", "1000"]  # resumed after the stored cursor
    clean = tmp_path / "clean.duckdb"
    run([PULL_CHILD, str(clean), "1000", "go"])

    def contents(p: Path) -> list[object]:
        with Store(p) as store:
            q = store.con.execute
            return [
                q("SELECT id, traits::VARCHAR FROM profiles ORDER BY id").fetchall(),
                q("SELECT kind, value, profile_id FROM identities ORDER BY ALL").fetchall(),
                q("SELECT source, cursor FROM checkpoints").fetchall(),
            ]

    assert contents(path) == contents(clean)
