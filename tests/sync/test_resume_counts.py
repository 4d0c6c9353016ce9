"""What one apply reports when it finishes an earlier run and then sends a fresh one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from martech.sandbox import Burst, Faults
from martech.store import Store
from martech.sync import SyncSpec, apply, read_dead_letters
from martech.testing.reference import ReferenceConnector, ReferenceEmulator


def test_dead_lettered_counts_each_line_once_across_resume_and_fresh_run(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector, tmp_path
) -> None:
    spec = SyncSpec(audience="a", members={f"p{i:05d}" for i in range(300)})
    emulator.set_faults(
        Faults(too_many_requests=Burst(first=1000), retry_after="3600", paths=("/v1/audiences/1/",))
    )
    stopped = apply(store, connector, spec, deadline=datetime.now(UTC) + timedelta(seconds=30))
    assert not stopped.complete
    emulator.set_faults(Faults(reject_rate=0.2, seed=11))
    letters = tmp_path / "dead.jsonl"
    result = apply(store, connector, spec, dead_letter=letters)
    lines = read_dead_letters(letters)
    assert len({line["run_id"] for line in lines}) == 2  # the resumed run and the fresh one
    assert result.dead_lettered == len(lines)
    # A member refused while the old run finished and sent by the fresh one is not "rejected".
    assert set(result.rejected) == {
        line["key"] for line in lines if line["run_id"] == lines[-1]["run_id"]
    }
    present = {f"person{int(k[1:])}@example.com" for k in result.rejected}
    assert not present & emulator.members("a")
    assert len(emulator.members("a")) == 300 - len(result.rejected)
