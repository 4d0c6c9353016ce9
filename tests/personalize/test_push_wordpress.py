"""Pushing to WordPress: a post per exact (placement, variant); old posts found, stale named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from martech.http import run_sync
from martech.http.budget import forget_budgets
from martech.personalize import push as push_module
from martech.personalize.placements import parse_placements
from martech.personalize.push import push_placement, push_variants
from martech.store import Store
from martech_connectors.wordpress.connector import WordPressConnector
from martech_connectors.wordpress.emulator import WordPressEmulator
from martech_connectors.wordpress.mapping import legacy_slug, post_body, slug


def placement(key: str, *variants: str) -> Any:
    data = {
        "key": key,
        "channel": "web",
        "holdout": 0.1,
        "default": variants[0],
        "variants": [{"id": v, "kind": "static", "content": f"{key} says {v}"} for v in variants],
    }
    return parse_placements([data])[key]


@pytest.fixture
def emulator() -> WordPressEmulator:
    forget_budgets()
    return WordPressEmulator()


def connect(emulator: WordPressEmulator) -> WordPressConnector:
    return emulator.bind(WordPressConnector, per_page=4)


def live(emulator: WordPressEmulator) -> dict[str, str]:
    """title -> visible content of every published post."""
    return {
        p["title"]["raw"]: p["content"]["raw"]
        for p in emulator.items["posts"].values()
        if p["status"] == "publish"
    }


@pytest.mark.parametrize(
    ("first", "second"),
    [(("promo", "hero_a"), ("promo_hero", "a")), (("my-hero", "x"), ("my_hero", "x"))],
)
def test_pairs_that_read_alike_get_their_own_posts(
    emulator: WordPressEmulator, first: tuple[str, str], second: tuple[str, str]
) -> None:
    a, b = placement(*first), placement(*second)
    assert legacy_slug(a.variants[0]) == legacy_slug(b.variants[0])  # the old collision
    assert slug(a.variants[0]) != slug(b.variants[0])
    c = connect(emulator)
    done_a = run_sync(push_variants(c, a))
    done_b = run_sync(push_variants(c, b))
    assert {p.action for p in [*done_a.values(), *done_b.values()]} == {"created"}
    assert len(emulator.items["posts"]) == 2
    assert live(emulator) == {
        f"{first[0]}: {first[1]}": post_body(a.variants[0], "publish")["content"],
        f"{second[0]}: {second[1]}": post_body(b.variants[0], "publish")["content"],
    }
    again = run_sync(push_variants(c, a))
    assert {p.action for p in again.values()} == {"unchanged"}


def test_a_post_published_under_the_old_slug_is_updated_and_renamed_not_duplicated(
    emulator: WordPressEmulator,
) -> None:
    mine, theirs = placement("promo", "hero_a"), placement("promo_hero", "a")
    shared = legacy_slug(mine.variants[0])
    posts = emulator.items["posts"]
    # What the previous version left: one post under the shared old slug, holding whichever
    # pair pushed last (promo_hero's a), with an older text.
    body = {**post_body(theirs.variants[0], "publish"), "slug": shared, "content": "old text"}
    posts[7] = emulator._post(7, "posts", body, {})
    done = run_sync(push_variants(connect(emulator), mine))
    assert done["hero_a"].action == "created"  # not theirs: the title says whose post it is
    assert posts[7]["slug"] == shared
    assert posts[7]["content"]["raw"] == "old text"
    done = run_sync(push_variants(connect(emulator), theirs))
    assert (done["a"].vendor_id, done["a"].action) == ("7", "updated")
    assert posts[7]["slug"] == slug(theirs.variants[0])
    assert posts[7]["content"]["raw"] == post_body(theirs.variants[0], "publish")["content"]
    assert len(posts) == 2
    again = run_sync(push_variants(connect(emulator), theirs))
    assert (again["a"].vendor_id, again["a"].action) == ("7", "unchanged")


def test_a_variant_removed_from_the_yaml_is_named_then_unpublished_on_request(
    emulator: WordPressEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(push_module, "connector_for", lambda name: connect(emulator))
    with Store(tmp_path / "m.duckdb") as store:
        first = push_placement(store, placement("promo", "keep", "gone"), "wordpress")
        assert first["created"] == 2
        assert first["not_in_yaml"] == []
        # another placement whose key starts the same is not this one's
        push_placement(store, placement("promo_x", "other"), "wordpress")
        shrunk = placement("promo", "keep")
        again = push_placement(store, shrunk, "wordpress")
        assert again["unchanged"] == 1
        gone_id = first["variants"][1]["vendor_id"]
        assert again["not_in_yaml"] == [{"variant": "gone", "vendor_id": gone_id}]
        assert again["unpublished"] == []
        assert "promo: gone" in live(emulator)
        done = push_placement(store, shrunk, "wordpress", unpublish_missing=True)
        assert done["unpublished"] == ["gone"]
        assert "promo: gone" not in live(emulator)
        assert emulator.items["posts"][int(gone_id)]["status"] == "draft"  # kept, not deleted
        assert push_placement(store, shrunk, "wordpress")["not_in_yaml"] == []
