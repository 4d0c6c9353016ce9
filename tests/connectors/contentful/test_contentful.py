"""Contentful connector against its emulator: optimistic locking, publish, CDA read-back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from martech.errors import AuthError, FatalVendorError, ValidationError
from martech.http import run_sync
from martech.http.budget import forget_budgets
from martech.personalize.placements import example_placements, parse_placements
from martech.personalize.push import push_variants
from martech_connectors.contentful.connector import ContentfulConnector
from martech_connectors.contentful.emulator import (
    DEFAULT_SPACE,
    MANAGEMENT_TOKEN,
    ContentfulEmulator,
)
from martech_connectors.contentful.mapping import entry_to_variant, localize, variant_fields


@pytest.fixture
def emulator() -> ContentfulEmulator:
    forget_budgets()
    return ContentfulEmulator(cma_rate=None)


def connect(emulator: ContentfulEmulator, token: str = MANAGEMENT_TOKEN) -> ContentfulConnector:
    return emulator.bind(ContentfulConnector, management_token=token, page_size=2)


HERO = example_placements()["email_hero"]


def test_push_publishes_every_variant_and_the_cda_reads_them_back(
    emulator: ContentfulEmulator,
) -> None:
    c = connect(emulator)
    done = run_sync(push_variants(c, HERO))
    assert {k: (p.vendor_id, p.action) for k, p in done.items()} == {
        v.id: (f"email_hero--{v.id}", "created") for v in HERO.variants
    }
    stored = emulator.entries["email_hero--fishing_news"]
    assert stored["fields"]["body"] == {"en-US": "New fishing gear this week, {{first_name}}"}
    assert stored["sys"]["publishedVersion"] == 1
    back = run_sync(c.read_variants("email_hero"))  # 4 variants over pages of 2
    assert sorted(back, key=lambda v: v.id) == sorted(HERO.variants, key=lambda v: v.id)


def test_updating_sends_the_current_version_and_republishes(emulator: ContentfulEmulator) -> None:
    c = connect(emulator)
    run_sync(push_variants(c, HERO))
    variants = [
        {**v.model_dump(mode="json"), "content": "Gear up, weekend!"}
        if v.id == "weekend_gear"
        else v.model_dump(mode="json")
        for v in HERO.variants
    ]
    changed = parse_placements([{**HERO.model_dump(mode="json"), "variants": variants}])[
        "email_hero"
    ]
    writes = emulator.writes
    done = run_sync(push_variants(c, changed))
    assert {k: p.action for k, p in done.items()} == {
        v.id: "updated" if v.id == "weekend_gear" else "unchanged" for v in HERO.variants
    }
    assert emulator.writes == writes + 1  # only the changed entry was saved
    entry = emulator.entries["email_hero--weekend_gear"]
    assert entry["sys"]["version"] == 4  # create 1, publish 2, update 3, publish 4
    (cat,) = [v for v in run_sync(c.read_variants("email_hero")) if v.id == "weekend_gear"]
    assert cat.content == "Gear up, weekend!"  # type: ignore[union-attr]


def test_publishing_again_writes_nothing_and_says_unchanged(emulator: ContentfulEmulator) -> None:
    c = connect(emulator)
    run_sync(push_variants(c, HERO))

    def versions() -> dict[str, int]:
        return {k: e["sys"]["version"] for k, e in emulator.entries.items()}

    writes, before = emulator.writes, versions()
    again = run_sync(push_variants(c, HERO))
    assert {p.action for p in again.values()} == {"unchanged"}
    assert emulator.writes == writes
    assert versions() == before


def test_a_draft_edited_in_the_cms_is_published_again(emulator: ContentfulEmulator) -> None:
    c = connect(emulator)
    run_sync(push_variants(c, HERO))
    eid = f"email_hero--{HERO.variants[0].id}"
    emulator.entries[eid]["sys"]["version"] += 1  # someone saved a draft on top of it
    emulator.entries[eid]["fields"]["body"] = {"en-US": "edited by hand"}
    done = run_sync(c.push_content(HERO.variants[0]))
    assert done.action == "updated"
    assert emulator.entries[eid]["fields"]["body"] != {"en-US": "edited by hand"}
    assert emulator.published[eid]["fields"] == emulator.entries[eid]["fields"]


def test_an_update_keeps_other_locales_and_fields_added_in_contentful() -> None:
    emulator = ContentfulEmulator(cma_rate=None, locales=("en-US", "de-DE"))
    c = connect(emulator)
    run_sync(push_variants(c, HERO))
    eid = f"email_hero--{HERO.variants[0].id}"
    entry = emulator.entries[eid]
    entry["fields"]["body"]["de-DE"] = "Auf Deutsch"
    entry["fields"]["note"] = {"en-US": "added by an editor"}
    entry["fields"]["body"]["en-US"] = "edited by hand"  # ours: restored by the push
    entry["sys"]["version"] += 1
    done = run_sync(c.push_content(HERO.variants[0]))
    assert done.action == "updated"
    fields = emulator.entries[eid]["fields"]
    assert fields["body"]["de-DE"] == "Auf Deutsch"
    assert fields["note"] == {"en-US": "added by an editor"}
    assert fields["body"]["en-US"] != "edited by hand"
    assert run_sync(c.push_content(HERO.variants[0])).action == "unchanged"


def test_a_version_conflict_is_resolved_by_re_reading_once(emulator: ContentfulEmulator) -> None:
    c = connect(emulator)
    run_sync(push_variants(c, HERO))
    emulator.conflicts_on_put = 1
    eid = f"email_hero--{HERO.variants[0].id}"
    emulator.entries[eid]["fields"]["body"] = {"en-US": "edited by hand"}  # so there is a write
    run_sync(c.push_content(HERO.variants[0]))
    assert c.conflicts == 1
    assert (
        emulator.requests[
            f"GET /spaces/{DEFAULT_SPACE}/environments/master/entries/email_hero--reels_you_viewed"
        ]
        == 3
    )


def test_a_second_conflict_is_an_error_naming_the_entry(emulator: ContentfulEmulator) -> None:
    c = connect(emulator)
    run_sync(push_variants(c, HERO))
    emulator.conflicts_on_put = 2
    eid = f"email_hero--{HERO.variants[0].id}"
    emulator.entries[eid]["fields"]["body"] = {"en-US": "edited by hand"}  # so there is a write
    with pytest.raises(
        FatalVendorError, match=r"entry 'email_hero--reels_you_viewed' changed again"
    ):
        run_sync(c.push_content(HERO.variants[0]))


def test_an_invalid_variant_stops_the_push_before_any_write(emulator: ContentfulEmulator) -> None:
    long_key = "x" * 55  # "<key>--a" fits in 64 characters, "<key>--bbbbbbbbbb" does not
    bad = parse_placements([{
        "key": long_key, "channel": "web", "default": "a",
        "variants": [{"id": "a", "kind": "static", "content": "A"},
                     {"id": "b" * 10, "kind": "static", "content": "B"}],
    }])[long_key]  # fmt: skip
    with pytest.raises(ValidationError, match="at most 64 characters"):
        run_sync(push_variants(connect(emulator), bad))
    assert emulator.writes == 0
    assert emulator.total_requests == 0


def test_a_bad_token_is_an_auth_error(emulator: ContentfulEmulator) -> None:
    with pytest.raises(AuthError, match="contentful"):
        run_sync(connect(emulator, token="wrong").push_content(HERO.variants[0]))


def test_rate_limit_headers_are_sent_and_a_429_waits_for_the_reset() -> None:
    forget_budgets()
    now = [0.0]
    emulator = ContentfulEmulator(cma_rate=3, clock=lambda: now[0])
    c = connect(emulator)
    waits: list[float] = []

    async def record(seconds: float) -> None:  # a fake clock: waiting moves it on
        waits.append(seconds)
        now[0] += seconds

    c.http._sleep = record
    run_sync(push_variants(c, HERO))  # 12 CMA calls at 3/s
    assert waits
    assert all(w >= 1 for w in waits)  # X-Contentful-RateLimit-Reset, not a short backoff
    assert len(emulator.published) == 4


def test_mapping_round_trips_every_variant_kind() -> None:
    for pl in example_placements().values():
        for v in pl.variants:
            entry = {"sys": {"id": "x"}, "fields": variant_fields(v)}
            assert entry_to_variant(entry) == v
            assert set(localize(variant_fields(v), "en-US")["body"]) == {"en-US"}


def test_cli_push_lists_each_variant_and_a_second_push_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from martech.cli import main
    from martech.sandbox import serve
    from martech.store import Store

    monkeypatch.setenv("MARTECH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    Store(tmp_path / "martech.duckdb").close()
    forget_budgets()
    with serve("contentful") as (emu, url):
        settings = emu.connection(url)
        (tmp_path / "martech.toml").write_text(
            "[connectors.contentful]\n"
            + "".join(f'{k} = "{settings[k]}"\n' for k in ("base_url", "delivery_url", "space_id")),
            encoding="utf-8",
        )
        monkeypatch.setenv("MARTECH_CONTENTFUL_MANAGEMENT_TOKEN", settings["management_token"])
        monkeypatch.setenv("MARTECH_CONTENTFUL_DELIVERY_TOKEN", settings["delivery_token"])
        push = ["personalize", "push", "--placement", "email_hero", "--to", "contentful"]
        assert main(push) == 0
        first = capsys.readouterr().out
        assert main([*push, "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
    assert f"email_hero → contentful: {len(HERO.variants)} created" in first
    for v in HERO.variants:
        assert re.search(rf"│ {v.id} +│ email_hero--{v.id} +│ created", first)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, len(HERO.variants))
    assert {r["action"] for r in again["variants"]} == {"unchanged"}
