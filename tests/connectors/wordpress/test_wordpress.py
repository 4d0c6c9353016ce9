"""WordPress connector against its emulator: publish by slug, X-WP-Total paging, 401."""

from __future__ import annotations

import pytest

from martech.errors import AuthError, FatalVendorError, ValidationError
from martech.http import run_sync
from martech.http.budget import forget_budgets
from martech.personalize.placements import example_placements
from martech.personalize.push import push_variants
from martech_connectors.wordpress.connector import WordPressConnector
from martech_connectors.wordpress.emulator import APP_PASSWORD, WordPressEmulator
from martech_connectors.wordpress.mapping import post_text, slug

HOME = example_placements()["home_hero"]


@pytest.fixture
def emulator() -> WordPressEmulator:
    forget_budgets()
    return WordPressEmulator()


def connect(
    emulator: WordPressEmulator, *, password: str = APP_PASSWORD, post_type: str = "posts"
) -> WordPressConnector:
    return emulator.bind(WordPressConnector, app_password=password, post_type=post_type, per_page=4)


def test_publish_renders_templates_with_defaults_and_reads_back_over_pages(
    emulator: WordPressEmulator,
) -> None:
    c = connect(emulator)
    done = run_sync(push_variants(c, HOME))
    assert len({p.vendor_id for p in done.values()}) == 6
    assert {p.action for p in done.values()} == {"created"}
    posts = run_sync(c.read_posts())  # 6 posts, 4 per page: two pages, X-WP-TotalPages = 2
    assert len(posts) == 6
    # per new variant: a lookup by slug and one by the pre-hash slug; then two pages
    assert emulator.requests["GET /wp-json/wp/v2/posts"] == 2 * 6 + 2
    texts = {p["slug"]: post_text(p) for p in posts}
    welcome = texts[slug(HOME.variant("hero_welcome"))]
    assert welcome == "Welcome, explorer: start your kit here"
    assert not any("{{" in t for t in texts.values())


def test_publishing_again_updates_by_slug_instead_of_duplicating(
    emulator: WordPressEmulator,
) -> None:
    c = connect(emulator)
    first = run_sync(push_variants(c, HOME))
    writes = emulator.writes
    again = run_sync(push_variants(c, HOME))
    assert {k: p.vendor_id for k, p in again.items()} == {k: p.vendor_id for k, p in first.items()}
    assert {p.action for p in again.values()} == {"unchanged"}
    assert emulator.writes == writes  # nothing rewritten
    assert len(emulator.items["posts"]) == 6
    posts = emulator.items["posts"].values()
    (post,) = [p for p in posts if p["title"]["raw"] == "home_hero: hero_welcome"]
    post["content"]["raw"] = "edited by hand"
    third = run_sync(push_variants(c, HOME))
    assert [k for k, p in third.items() if p.action == "updated"] == ["hero_welcome"]
    assert emulator.writes == writes + 1


def test_variants_can_be_published_as_reusable_blocks(emulator: WordPressEmulator) -> None:
    run_sync(push_variants(connect(emulator, post_type="blocks"), HOME))
    assert len(emulator.items["blocks"]) == 6
    assert {p["type"] for p in emulator.items["blocks"].values()} == {"wp_block"}


def test_a_wrong_application_password_is_an_auth_error(emulator: WordPressEmulator) -> None:
    with pytest.raises(AuthError, match=r"wordpress.*401"):
        run_sync(push_variants(connect(emulator, password="nope"), HOME))
    assert emulator.writes == 0


def test_a_recommendation_variant_is_refused_before_anything_is_written(
    emulator: WordPressEmulator,
) -> None:
    recs = example_placements()["recs_email"]
    with pytest.raises(ValidationError, match="'picked' is a recommendation filled per person"):
        run_sync(push_variants(connect(emulator), recs))
    assert emulator.total_requests == 0


def test_a_page_past_the_end_is_the_vendor_400(emulator: WordPressEmulator) -> None:
    c = connect(emulator)
    run_sync(push_variants(c, HOME))
    with pytest.raises(FatalVendorError, match="400 The page number requested is larger"):
        run_sync(c.http.request("GET", "/wp/v2/posts", params={"page": 9, "per_page": 4}))
