"""The plan's request count is what apply sends, batches and lookups, for every mode and change."""

from __future__ import annotations

import pytest

from martech.store import Store
from martech.sync import SyncSpec, apply, plan, status
from martech.sync.plan import estimate_seconds
from martech.testing.reference import ReferenceConnector, ReferenceEmulator


def ids(n: int, start: int = 0) -> set[str]:
    return {f"p{i:05d}" for i in range(start, start + n)}


@pytest.mark.parametrize("mode", ["mirror", "add_only", "upsert"])
def test_planned_requests_are_the_batch_requests_apply_sends(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector, make_people, mode
) -> None:
    steps = [ids(150), ids(250, start=40), ids(10, start=290), ids(10, start=290)]
    for step, members in enumerate(steps):
        if step == 1:  # five members' payload changes: updates in upsert mode
            changed = make_people(5, start=45)
            store.upsert_profiles([p.model_copy(update={"traits": {"tier": "x"}}) for p in changed])
        spec = SyncSpec(audience="a", members=members, mode=mode, traits=("tier",))
        planned = plan(store, connector, spec)
        assert planned.estimated_seconds == estimate_seconds(
            connector.limits, planned.requests, sequential=planned.lookup_requests
        )
        before = sum(
            v for k, v in emulator.requests.items() if k.startswith("POST /v1/audiences/1/")
        )
        result = apply(store, connector, spec)
        after = sum(
            v for k, v in emulator.requests.items() if k.startswith("POST /v1/audiences/1/")
        )
        assert result.complete
        assert status(store)[0].summary["batch_requests"] == planned.batch_requests
        assert after - before == planned.batch_requests
        assert result.requests == planned.requests  # with the audience's lookup (and create)
        assert plan(store, connector, spec).requests == 0
