"""Two processes on one store, as a nightly import meets a person running `martech` by hand:
the second gets a clear StoreLockedError and a non-zero exit, and the first's data is intact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from martech.store import Store
from martech.testing.process import run_cli

HOLD = (
    "import sys; from martech.store import Store; s = Store(sys.argv[1]); "
    "print('ready', flush=True); sys.stdin.read(); s.close()"
)


def test_a_second_import_and_a_reader_are_refused_while_an_import_holds_the_store(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    csv = tmp_path / "people.csv"
    csv.write_text("id,email\np1,a@example.com\n")
    assert run_cli("import", "profiles", str(csv), env={"MARTECH_HOME": str(home)}).returncode == 0
    path = home / "martech.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        csv.write_text("id,email\np2,b@example.com\n")
        second = run_cli("--home", str(home), "import", "profiles", str(csv))
        assert second.returncode != 0
        assert "locked by another process" in second.stderr
        assert "Traceback" not in second.stderr
        reader = run_cli("profiles", "count", env={"MARTECH_HOME": str(home)})
        assert reader.returncode != 0
        assert "locked by another process" in reader.stderr
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    with Store(path) as store:  # the refused import wrote nothing, the first one is whole
        assert [r[0] for r in store.con.execute("SELECT id FROM profiles").fetchall()] == ["p1"]
    # Once the holder is gone the same import goes through.
    assert run_cli("--home", str(home), "import", "profiles", str(csv)).returncode == 0
    with Store(path, read_only=True) as store:
        assert store.count("profiles") == 2
