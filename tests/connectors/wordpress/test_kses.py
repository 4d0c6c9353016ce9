"""A WordPress user without ``unfiltered_html`` (an Author, any non-super-admin on multisite) has
what it saves passed through kses: a bare ``&`` or ``<`` is stored as an entity. The excerpt is
HTML like the content, so it is sent escaped: stored as sent, and a re-push is ``unchanged``."""

from __future__ import annotations

import pytest

from martech.http import HttpClient, run_sync
from martech.http.budget import forget_budgets
from martech.personalize.placements import parse_placements
from martech.personalize.push import push_variants
from martech_connectors.wordpress.config import WordPressConfig
from martech_connectors.wordpress.connector import WordPressConnector
from martech_connectors.wordpress.emulator import APP_PASSWORD, USERNAME, WordPressEmulator
from martech_connectors.wordpress.mapping import post_body

BASE = "http://wordpress.test/wp-json"
TEXT = "Rods & reels < $50 > 'cheap' \"deals\""
PROMO = parse_placements([{
    "key": "promo", "channel": "web", "default": "a",
    "variants": [{"id": "a", "kind": "static", "content": TEXT}],
}])["promo"]  # fmt: skip


def test_the_excerpt_is_escaped_like_the_content() -> None:
    body = post_body(PROMO.variants[0], "publish")
    assert body["excerpt"] == "Rods &amp; reels &lt; $50 &gt; &#x27;cheap&#x27; &quot;deals&quot;"
    assert body["excerpt"] in body["content"]


def test_an_excerpt_cut_at_150_characters_does_not_end_in_half_an_entity() -> None:
    long = PROMO.model_copy(
        update={"variants": [PROMO.variants[0].model_copy(update={"content": "x" * 148 + "&&&"})]}
    )
    assert post_body(long.variants[0], "publish")["excerpt"] == "x" * 148 + "&amp;&amp;"


@pytest.mark.parametrize("kses", [True, False])
def test_a_re_push_is_unchanged_with_or_without_kses(kses: bool) -> None:
    forget_budgets()
    emulator = WordPressEmulator(kses=kses)
    config = WordPressConfig(base_url=BASE, username=USERNAME, app_password=APP_PASSWORD)  # type: ignore[arg-type]
    http = HttpClient(base_url=BASE, transport=emulator.transport(), vendor="wordpress")
    c = WordPressConnector(config=config, http=http)
    assert run_sync(push_variants(c, PROMO))["a"].action == "created"
    writes = emulator.writes
    assert run_sync(push_variants(c, PROMO))["a"].action == "unchanged"
    assert emulator.writes == writes
