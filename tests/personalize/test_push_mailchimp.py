"""`martech personalize push --to mailchimp`: each person's stored decision in merge fields."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from martech.errors import ConfigError
from martech.http import HttpClient, run_sync
from martech.http.budget import forget_budgets
from martech.personalize.batch import decide_batch
from martech.personalize.decide import DecideContext
from martech.personalize.neighbours import refresh_neighbours
from martech.personalize.placements import example_placements
from martech.personalize.recipients import (
    Recipient,
    RecommendedItem,
    recipient_counts,
    recommendation_members,
)
from martech.population import generate, write_store
from martech.store import Store
from martech_connectors.mailchimp.config import MailchimpConfig
from martech_connectors.mailchimp.connector import MailchimpConnector
from martech_connectors.mailchimp.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_LIST_ID,
    MailchimpEmulator,
)
from martech_connectors.mailchimp.mapping import recommendation_fields, recommendation_values

from .conftest import AS_OF

BASE = "http://mailchimp.test/3.0"
PLACEMENT = "recs_email"
BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
REC_TAGS = [tag for tag, _ in recommendation_fields(urls=False)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """300 generated people with recs_email decided for all of them (holdout 10%)."""
    with Store(tmp_path / "martech.duckdb") as store:
        write_store(store, generate(300, seed=4, as_of=AS_OF))
        refresh_neighbours(store)
        ctx = DecideContext.from_store(store, example_placements(), now=AS_OF)
        summary = decide_batch(store, PLACEMENT, context=ctx)
        assert summary.holdout > 0
        assert summary.suppressed > 0
        yield store


@pytest.fixture
def emulator(store: Store) -> MailchimpEmulator:
    """The audience already holds everyone in the store, each with a first name."""
    forget_budgets()
    emulator = MailchimpEmulator()
    for pid, email in store.con.execute(
        "SELECT profile_id, value FROM identities WHERE kind = 'email' ORDER BY ALL"
    ).fetchall():
        emulator.add_member(email, merge_fields={"FNAME": pid}, last_changed=BEFORE)
    return emulator


def connect(emulator: MailchimpEmulator) -> MailchimpConnector:
    config = MailchimpConfig(api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID, base_url=BASE)
    http = HttpClient(base_url=BASE, transport=emulator.transport(), vendor="mailchimp")
    return MailchimpConnector(config=config, http=http)


def push(emulator: MailchimpEmulator, store: Store) -> dict[str, Any]:
    members = recommendation_members(store, PLACEMENT)
    return run_sync(connect(emulator).push_recommendations(members))


def decided(store: Store, where: str) -> list[tuple[Any, ...]]:
    """(email, level, content, items) of stored decisions matching ``where``."""
    return store.con.execute(
        f"""SELECT i.value, d.level, d.content, d.items
        FROM decisions d JOIN profiles p ON p.id = d.profile_id
        JOIN identities i ON i.profile_id = d.profile_id AND i.kind = 'email'
        WHERE d.placement = ? AND ({where}) ORDER BY d.profile_id""",
        [PLACEMENT],
    ).fetchall()


CONSENTED = "json_extract_string(p.consent, '$.email') = 'true'"


def test_each_recipient_holds_exactly_their_items_from_the_decisions_table(
    emulator: MailchimpEmulator, store: Store
) -> None:
    summary = push(emulator, store)
    rows = decided(store, f"NOT d.holdout AND {CONSENTED}")
    assert summary["sent"] == summary["updated"] == len(rows) > 0
    assert summary["rejected"] == 0
    personalized = 0
    for email, level, content, items in rows:
        stored = emulator.merge_values(email)
        ids = [stored[f"REC{i}ID"] for i in range(1, 6)]
        assert ids == [*items, *[""] * (5 - len(items))]
        assert stored["REC_LEVEL"] == level
        assert stored["REC_TEXT"] == content
        assert stored["FNAME"]  # fields the push does not own are kept
        personalized += bool(items)
    assert personalized > 0


def test_item_labels_are_the_catalogue_names(emulator: MailchimpEmulator, store: Store) -> None:
    push(emulator, store)
    email, _, _, items = decided(store, f"NOT d.holdout AND {CONSENTED} AND len(d.items) > 0")[0]
    names = dict(store.con.execute("SELECT item_id, name FROM items").fetchall())
    stored = emulator.merge_values(email)
    assert [stored[f"REC{i}"] for i in range(1, len(items) + 1)] == [names[i] for i in items]


def test_merge_fields_are_created_once(emulator: MailchimpEmulator, store: Store) -> None:
    first = push(emulator, store)
    assert first["merge_fields_created"] == REC_TAGS
    assert set(REC_TAGS) <= set(emulator.merge_tags())
    before = {e: emulator.merge_values(e) for e, *_ in decided(store, CONSENTED)}
    second = push(emulator, store)
    assert second["merge_fields_created"] == []
    assert emulator.merge_fields_created == len(REC_TAGS)
    assert emulator.requests[f"POST /3.0/lists/{DEFAULT_LIST_ID}/merge-fields"] == len(REC_TAGS)
    assert {e: emulator.merge_values(e) for e in before} == before
    # 1 read of the fields + 1 batch for < 500 people: nothing else on a repeat
    assert second["requests"] == 2


def test_holdout_and_people_without_consent_are_untouched(
    emulator: MailchimpEmulator, store: Store
) -> None:
    # Someone treated who withdraws consent after the decision is left out as well.
    (withdrawn,) = store.con.execute(
        f"""SELECT d.profile_id FROM decisions d JOIN profiles p ON p.id = d.profile_id
        WHERE NOT d.holdout AND {CONSENTED} ORDER BY 1 LIMIT 1"""
    ).fetchall()[0]
    store.con.execute(
        """UPDATE profiles SET consent = json_merge_patch(consent, '{"email": false}')
        WHERE id = ?""",
        [withdrawn],
    )
    summary = push(emulator, store)
    counts = recipient_counts(store, PLACEMENT)
    assert counts["holdout"] > 0
    assert counts["no_consent"] == 1
    assert summary["sent"] == counts["recipients"]
    left_out = store.con.execute(
        """SELECT i.value FROM profiles p
        JOIN identities i ON i.profile_id = p.id AND i.kind = 'email'
        LEFT JOIN decisions d ON d.profile_id = p.id AND d.placement = ?
        WHERE d.profile_id IS NULL OR d.holdout
           OR coalesce(json_extract_string(p.consent, '$.email'), '') <> 'true'""",
        [PLACEMENT],
    ).fetchall()
    assert len(left_out) >= counts["holdout"] + 1
    lst = emulator.lists[DEFAULT_LIST_ID]
    for (email,) in left_out:
        assert set(emulator.merge_values(email)) == {"FNAME"}
        member = next(m for m in lst.members.values() if m["email_address"] == email)
        assert member["last_changed"] == BEFORE.isoformat()


def test_people_not_on_the_list_are_subscribed_with_their_items(store: Store) -> None:
    forget_budgets()
    emulator = MailchimpEmulator()
    summary = push(emulator, store)
    assert summary["created"] == summary["sent"] > 0
    assert summary["updated"] == 0


def test_a_refused_member_is_reported_by_profile_without_the_address(
    emulator: MailchimpEmulator, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    members = recommendation_members(store, PLACEMENT)
    gone = members[0]
    emulator.add_member(gone.email, status="unsubscribed")
    with caplog.at_level(logging.DEBUG):
        summary = run_sync(connect(emulator).push_recommendations(members))
    assert summary["rejected"] == 1
    (error,) = summary["errors"]
    assert error["profile_id"] == gone.profile_id
    assert "compliance state" in error["reason"]
    assert "@" not in str(summary)
    assert "@" not in caplog.text
    assert "REC1ID" not in emulator.merge_values(gone.email)


def test_no_decisions_is_a_config_error_naming_the_command(tmp_path: Path) -> None:
    with Store(tmp_path / "empty.duckdb") as store:
        with pytest.raises(ConfigError, match=r"martech decide --all -p recs_email"):
            recommendation_members(store, PLACEMENT)
        with pytest.raises(ConfigError, match="no decisions stored"):
            recipient_counts(store, PLACEMENT)


def test_a_recipients_repr_does_not_show_the_address() -> None:
    r = Recipient("p1", "jane@example.com", "x", "v", "default", None, None)
    assert "jane" not in repr(r)


def test_values_fill_every_slot_and_cut_long_text() -> None:
    items = tuple(RecommendedItem(f"I{i}", "n" * 300 if i == 0 else None) for i in range(7))
    r = Recipient("p1", "a@b.co", "x", "v", "personalization", "t", "c" * 999, items)
    values = recommendation_values(r, urls=True)
    assert set(values) == {tag for tag, _ in recommendation_fields(urls=True)}
    assert values["REC1"] == "n" * 254 + "…"  # cut visibly, within 255
    assert values["REC2"] == "I1"  # no catalogue name: the id
    assert [values[f"REC{i}ID"] for i in range(1, 6)] == ["I0", "I1", "I2", "I3", "I4"]
    assert values["REC1URL"] == ""
    assert len(values["REC_TEXT"]) == 255
    short = recommendation_values(Recipient("p2", "c@d.co", "x", "v", "default", None, None),
                                  urls=False)  # fmt: skip
    assert short["REC1"] == short["REC5ID"] == short["REC_TEXT"] == ""
    assert all(len(tag) <= 10 and tag == tag.upper() for tag in values)


def test_url_fields_appear_when_the_catalogue_has_urls(
    emulator: MailchimpEmulator, store: Store
) -> None:
    store.con.execute(
        """UPDATE items SET properties = json_merge_patch(coalesce(properties, '{}'),
        json_object('url', 'https://shop.example/p/' || item_id))"""
    )
    summary = push(emulator, store)
    assert "REC1URL" in summary["merge_fields_created"]
    email, _, _, items = decided(store, f"NOT d.holdout AND {CONSENTED} AND len(d.items) > 0")[0]
    assert emulator.merge_values(email)["REC1URL"] == f"https://shop.example/p/{items[0]}"


def _push_from_the_cli(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str, MailchimpEmulator, Recipient]:
    """``martech personalize push -p recs_email --to mailchimp *args`` against a served emulator
    holding nobody yet but one unsubscribed person (Mailchimp refuses to resubscribe them)."""
    from martech.cli import main
    from martech.sandbox import serve

    refused = recommendation_members(store, PLACEMENT)[0]
    store.close()  # the CLI opens the store itself
    forget_budgets()
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with serve("mailchimp") as (emulator, url):
        settings = emulator.connection(url)
        (tmp_path / "martech.toml").write_text(
            "[connectors.mailchimp]\n"
            f'base_url = "{settings["base_url"]}"\n'
            f'list_id = "{settings["list_id"]}"\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("MARTECH_MAILCHIMP_API_KEY", settings["api_key"])
        assert isinstance(emulator, MailchimpEmulator)
        emulator.add_member(refused.email, status="unsubscribed")
        code = main(["personalize", "push", "--placement", PLACEMENT, "--to", "mailchimp", *args])
        assert emulator.merge_fields_created == len(REC_TAGS)
    return code, settings["list_id"], settings["api_key"], emulator, refused


def test_cli_push_to_a_served_emulator_prints_a_summary_that_adds_up(
    tmp_path: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        code, list_id, _, _, refused = _push_from_the_cli(tmp_path, store, monkeypatch)
    out, err = capsys.readouterr()
    assert code == 0, err
    with Store(tmp_path / "martech.duckdb", read_only=True) as again:
        counts = recipient_counts(again, PLACEMENT)
    n, decided = counts["recipients"], counts["decided"]
    assert n > 0
    head, *rest = out.splitlines()
    # One line says what happened, as `sync apply` does; the audience was empty but for one.
    assert head.startswith(
        f"{PLACEMENT} → mailchimp (list {list_id}): sent {n:,} of {decided:,} decided "
        f"({n - 1:,} new to the list, 0 updated, 1 rejected); "
    ), head
    assert head.endswith(" requests")
    # Everyone decided is accounted for: sent, or one line per reason they were not.
    reasons = {
        "holdout": "holdout",
        "no_consent": "no email consent",
        "no_email": "no email address",
    }
    expected = {f"  not sent: {counts[k]:,} {label}" for k, label in reasons.items() if counts[k]}
    not_sent = [line for line in rest if line.startswith("  not sent: ")]
    assert set(not_sent) == expected  # a first push: nobody unchanged; no line says 0
    assert n + sum(int(line.split()[2].replace(",", "")) for line in not_sent) == decided
    assert "  merge fields created: " + ", ".join(REC_TAGS) in rest
    (why,) = [line for line in rest if line.startswith(f"  refused {refused.profile_id}: ")]
    assert "compliance state" in why
    assert not any(": " in line and line.split(": ")[0].isidentifier() for line in out.splitlines())
    assert "@" not in out + err + caplog.text


def test_cli_push_json_is_the_whole_result_for_machines(
    tmp_path: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    code, list_id, _, _, refused = _push_from_the_cli(tmp_path, store, monkeypatch, "--json")
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    with Store(tmp_path / "martech.duckdb", read_only=True) as again:
        counts = recipient_counts(again, PLACEMENT)
    assert data["placement"] == PLACEMENT
    assert (data["connector"], data["list_id"]) == ("mailchimp", list_id)
    assert data["sent"] == data["recipients"] == counts["recipients"]
    assert data["created"] + data["updated"] + data["rejected"] == data["sent"]
    assert data["holdout"] == counts["holdout"]
    assert data["errors"][0]["profile_id"] == refused.profile_id
    assert data["merge_fields_created"] == REC_TAGS
    assert data["requests"] >= 2  # the merge-field read, then batch subscribe


def test_cli_push_again_says_who_was_unchanged_and_how_to_resend(
    served: MailchimpEmulator, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    from martech.cli.personalize import show_recommendations
    from martech.personalize.push import push_placement

    pl = example_placements()[PLACEMENT]
    push_placement(store, pl, "mailchimp")
    again = push_placement(store, pl, "mailchimp")
    show_recommendations(again)
    head, *rest = capsys.readouterr().out.splitlines()
    assert f": sent 0 of {again['decided']:,} decided; 1 request" in head, head
    assert (
        f"  not sent: {again['recipients']:,} unchanged since the last push (--full sends them "
        "again)" in rest
    )
    assert not any(line.startswith("  merge fields created") for line in rest)


def test_cli_push_without_decisions_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from martech.cli import main

    monkeypatch.setenv("MARTECH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARTECH_MAILCHIMP_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("MARTECH_MAILCHIMP_LIST_ID", DEFAULT_LIST_ID)
    Store(tmp_path / "martech.duckdb").close()
    assert main(["personalize", "push", "--placement", PLACEMENT, "--to", "mailchimp"]) == 2
    assert "martech decide --all -p recs_email" in capsys.readouterr().err


def test_a_second_push_sends_only_people_whose_items_changed(
    served: MailchimpEmulator, store: Store
) -> None:
    from martech.personalize.push import push_placement

    pl = example_placements()[PLACEMENT]
    first = push_placement(store, pl, "mailchimp")
    assert first["sent"] == first["recipients"] > 0
    assert first["unchanged"] == 0
    again = push_placement(store, pl, "mailchimp")
    assert again["sent"] == 0
    assert again["unchanged"] == again["recipients"]
    assert again["requests"] == 1  # the merge-field read only
    (changed,) = store.con.execute(
        f"""SELECT d.profile_id FROM decisions d JOIN profiles p ON p.id = d.profile_id
        WHERE NOT d.holdout AND {CONSENTED} AND len(d.items) > 1 ORDER BY 1 LIMIT 1"""
    ).fetchall()[0]
    store.con.execute(
        "UPDATE decisions SET items = list_reverse(items) WHERE profile_id = ? AND placement = ?",
        [changed, PLACEMENT],
    )
    third = push_placement(store, pl, "mailchimp")
    assert third["sent"] == 1
    email = store.con.execute(
        "SELECT value FROM identities WHERE kind = 'email' AND profile_id = ?", [changed]
    ).fetchall()[0][0]
    items = store.con.execute(
        "SELECT items FROM decisions WHERE profile_id = ? AND placement = ?", [changed, PLACEMENT]
    ).fetchall()[0][0]
    assert served.merge_values(email)["REC1ID"] == items[0]
    full = push_placement(store, pl, "mailchimp", full=True)
    assert full["sent"] == full["recipients"]


def test_a_refused_person_is_tried_again_next_push(served: MailchimpEmulator, store: Store) -> None:
    from martech.personalize.push import push_placement

    pl = example_placements()[PLACEMENT]
    refused = recommendation_members(store, PLACEMENT)[0]
    served.add_member(refused.email, status="unsubscribed")
    assert push_placement(store, pl, "mailchimp")["rejected"] == 1
    again = push_placement(store, pl, "mailchimp")
    assert again["sent"] == again["rejected"] == 1
    assert again["errors"][0]["profile_id"] == refused.profile_id


def test_counts_add_up_when_someone_in_the_holdout_has_no_email(store: Store) -> None:
    # Each person is counted once: holdout first, then no consent, then no email.
    (pid,) = store.con.execute(
        f"""SELECT d.profile_id FROM decisions d JOIN profiles p ON p.id = d.profile_id
        WHERE d.placement = ? AND d.holdout AND {CONSENTED} ORDER BY 1 LIMIT 1""",
        [PLACEMENT],
    ).fetchall()[0]
    store.con.execute("DELETE FROM identities WHERE profile_id = ? AND kind = 'email'", [pid])
    counts = recipient_counts(store, PLACEMENT)
    assert counts["recipients"] == len(recommendation_members(store, PLACEMENT))
    parts = counts["holdout"] + counts["no_consent"] + counts["no_email"] + counts["recipients"]
    assert parts == counts["decided"]


def test_someone_sent_before_who_joins_the_holdout_is_cleared_once(
    served: MailchimpEmulator, store: Store
) -> None:
    # Their fields would otherwise keep the items the web no longer shows them, and the
    # holdout's emails would not be the default's.
    from martech.personalize.push import push_placement

    pl = example_placements()[PLACEMENT]
    assert push_placement(store, pl, "mailchimp")["cleared"] == 0
    (pid, email) = store.con.execute(
        f"""SELECT d.profile_id, i.value FROM decisions d JOIN profiles p ON p.id = d.profile_id
        JOIN identities i ON i.profile_id = d.profile_id AND i.kind = 'email'
        WHERE d.placement = ? AND NOT d.holdout AND {CONSENTED} AND len(d.items) > 0
        ORDER BY 1 LIMIT 1""",
        [PLACEMENT],
    ).fetchall()[0]
    assert served.merge_values(email)["REC1ID"]
    store.con.execute(
        "UPDATE decisions SET holdout = true WHERE profile_id = ? AND placement = ?",
        [pid, PLACEMENT],
    )
    second = push_placement(store, pl, "mailchimp")
    assert (second["sent"], second["cleared"], second["unchanged"]) == (
        1,
        1,
        second["recipients"],
    )
    stored = served.merge_values(email)
    assert all(stored[tag] == "" for tag in REC_TAGS)
    third = push_placement(store, pl, "mailchimp")
    assert (third["sent"], third["cleared"]) == (0, 0)
    full = push_placement(store, pl, "mailchimp", full=True)
    assert (full["sent"], full["cleared"]) == (full["recipients"], 0)


def test_the_summary_counts_cleared_holdouts_once_and_names_ten_refusals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from martech.cli.personalize import show_recommendations

    errors = [{"profile_id": f"p{i}", "reason": "[bold]Invalid Resource[/]"} for i in range(12)]
    show_recommendations(
        {
            "placement": "recs[/b]",
            "decided": 100,
            "holdout": 10,
            "no_consent": 5,
            "no_email": 0,
            "recipients": 85,
            "unchanged": 40,
            "cleared": 3,
            "connector": "mailchimp",
            "list_id": "L1",
            "sent": 48,
            "created": 30,
            "updated": 6,
            "rejected": 12,
            "errors": errors,
            "merge_fields_created": [],
            "values_left_blank": 1,
            "requests": 2,
        }
    )
    head, *rest = capsys.readouterr().out.splitlines()
    assert head == (
        "recs[/b] → mailchimp (list L1): sent 48 of 100 decided "
        "(30 new to the list, 6 updated, 12 rejected); 2 requests"
    )
    # the 3 cleared holdout members were sent: 7 of the holdout were not; 48 + 7 + 5 + 40 = 100
    assert rest[:3] == [
        "  not sent: 7 holdout",
        "  not sent: 5 no email consent",
        "  not sent: 40 unchanged since the last push (--full sends them again)",
    ]
    assert "  cleared: 3 holdout members an earlier push reached, sent blank fields" in rest
    assert "  left blank: 1 value, an item id or url longer than a merge field holds" in rest
    assert rest.count("  refused p0: [bold]Invalid Resource[/]") == 1
    assert sum(line.startswith("  refused ") for line in rest) == 10
    assert rest[-1] == "  … and 2 more (--json lists them all)"
