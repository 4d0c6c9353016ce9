"""Two placements pushed to one Mailchimp audience share its REC* fields, and its push ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from martech.personalize.batch import decide_batch
from martech.personalize.decide import DecideContext
from martech.personalize.neighbours import refresh_neighbours
from martech.personalize.placements import example_placements
from martech.personalize.push import push_placement
from martech.population import generate, write_store
from martech.store import Store
from martech_connectors.mailchimp.emulator import MailchimpEmulator

from .conftest import AS_OF

EMAIL_CONSENT = "json_extract_string(p.consent, '$.email') = 'true'"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "martech.duckdb") as store:
        write_store(store, generate(300, seed=4, as_of=AS_OF))
        refresh_neighbours(store)
        ctx = DecideContext.from_store(store, example_placements(), now=AS_OF)
        for key in ("recs_email", "home_hero"):
            decide_batch(store, key, context=ctx)
        yield store


def recipients(store: Store, placement: str) -> dict[str, str]:
    """email -> stored content for the people a push of ``placement`` sends."""
    return dict(
        store.con.execute(
            f"""SELECT i.value, coalesce(d.content, '') FROM decisions d
            JOIN profiles p ON p.id = d.profile_id
            JOIN identities i ON i.profile_id = d.profile_id AND i.kind = 'email'
            WHERE d.placement = ? AND NOT d.holdout AND {EMAIL_CONSENT}""",
            [placement],
        ).fetchall()
    )


def test_a_placement_pushed_after_another_is_sent_again_not_unchanged(
    served: MailchimpEmulator, store: Store
) -> None:
    placements = example_placements()
    recs, hero = recipients(store, "recs_email"), recipients(store, "home_hero")
    overwritten = {e for e in recs.keys() & hero.keys() if recs[e] != hero[e]}
    assert overwritten  # people both placements reach, with different text

    first = push_placement(store, placements["recs_email"], "mailchimp")
    assert first["sent"] == len(recs)
    push_placement(store, placements["home_hero"], "mailchimp")
    someone = min(overwritten)
    assert served.merge_values(someone)["REC_TEXT"] == hero[someone]

    again = push_placement(store, placements["recs_email"], "mailchimp")
    # Everyone whose REC* fields home_hero overwrote gets recs_email's values back.
    assert again["sent"] >= len(overwritten)
    assert again["unchanged"] == again["recipients"] - (again["sent"] - again["cleared"])
    # recs_email's holdout members that home_hero reached hold home_hero's text: blanked
    assert again["cleared"] > 0
    for email in overwritten:
        assert served.merge_values(email)["REC_TEXT"] == recs[email]
    # and a repeat with nothing in between sends nobody
    assert push_placement(store, placements["recs_email"], "mailchimp")["sent"] == 0


def test_the_ledger_is_kept_per_audience_and_field_set(
    served: MailchimpEmulator, store: Store
) -> None:
    push_placement(store, example_placements()["recs_email"], "mailchimp")
    audiences = {
        a for (a,) in store.con.execute("SELECT DISTINCT audience FROM sync_ledger").fetchall()
    }
    list_id = served.connection("http://x")["list_id"]
    assert audiences == {f"personalize:REC*@{list_id}"}
