"""
title: Active vs inactive email openers
summary: Mail active openers as usual; send inactive ones a re-permission message, less often.
level: segmentation
uses: [compute_traits, email_opener, parse_segments, evaluate]
run: python cookbook/03_active_vs_inactive_openers.py
---
Mailing people who never open hurts deliverability. ``email_opener`` is ``active`` (opened in
the last ``opener_days``), ``inactive`` (was mailed, opened nothing in the window) or
``unreached``. The recipe checks the computed trait against the equivalent event rule.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from martech.population import generate, write_store
from martech.segments import evaluate, parse_segments
from martech.segments.traits import compute_traits, computed_names
from martech.store import Store

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
WINDOW_DAYS = 60

SEGMENTS = f"""
segments:
  active_openers:   {{rule: {{trait: email_opener, eq: active}}}}
  inactive_openers: {{rule: {{trait: email_opener, eq: inactive}}}}
  opened_in_window: {{rule: {{event: email_open, window: last {WINDOW_DAYS} days}}}}
  ever_mailed:      {{rule: {{any: [{{event: email_send}}, {{event: email_open}}]}}}}
"""
CADENCE = {"active_openers": "weekly newsletter", "inactive_openers": "one re-permission email"}


def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(3000, seed=13, as_of=AS_OF))
        compute_traits(store, ["email_opener"], as_of=AS_OF, params={"opener_days": WINDOW_DAYS})
        groups = evaluate(store, parse_segments(SEGMENTS), as_of=AS_OF,
                          computed=computed_names(store))  # fmt: skip

    sizes = {k: len(v) for k, v in groups.items()}
    for key, cadence in CADENCE.items():
        print(f"{key:<17} {sizes[key]:>6,}  -> {cadence}")

    active, inactive = groups["active_openers"], groups["inactive_openers"]
    assert active == groups["opened_in_window"]  # the trait is the event rule
    assert inactive == groups["ever_mailed"] - active
    assert active.isdisjoint(inactive)
    assert len(active) > 0
    assert len(inactive) > 0
    return sizes


if __name__ == "__main__":
    main()
