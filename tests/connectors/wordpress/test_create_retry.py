"""WordPress: creating a post is not idempotent (``POST /wp/v2/posts`` makes a new post each time).
When WordPress saved the post but the answer was lost (a proxy's 504, a timeout), retrying the
POST would publish the variant twice; the connector looks the post up by its slug instead."""

from __future__ import annotations

from typing import Any

import pytest

from martech.errors import RetriableVendorError
from martech.http import HttpClient, RetryPolicy, run_sync
from martech.http.budget import forget_budgets
from martech.personalize.placements import parse_placements
from martech.personalize.push import push_variants
from martech.testing.fakes import LostAnswers, no_sleep
from martech_connectors.wordpress.config import WordPressConfig
from martech_connectors.wordpress.connector import WordPressConnector
from martech_connectors.wordpress.emulator import APP_PASSWORD, USERNAME, WordPressEmulator

BASE = "http://wordpress.test/wp-json"


def connect(emulator: WordPressEmulator, *, lose: int, drop: bool = False) -> WordPressConnector:
    return emulator.bind(
        WordPressConnector,
        transport=LostAnswers(emulator.transport(), "/wp/v2/posts", lose=lose, drop=drop),
        client={"retry": RetryPolicy(max_attempts=3), "sleep": no_sleep},
    )


def placement(*variants: str) -> Any:
    data = {
        "key": "promo",
        "channel": "web",
        "default": variants[0],
        "variants": [{"id": v, "kind": "static", "content": f"says {v}"} for v in variants],
    }
    return parse_placements([data])["promo"]


@pytest.fixture
def emulator() -> WordPressEmulator:
    forget_budgets()
    return WordPressEmulator()


def test_a_create_whose_answer_was_lost_is_found_by_slug_not_posted_twice(
    emulator: WordPressEmulator,
) -> None:
    done = run_sync(push_variants(connect(emulator, lose=1), placement("a", "b")))
    assert {k: p.action for k, p in done.items()} == {"a": "created", "b": "created"}
    assert len(emulator.items["posts"]) == 2  # one post per variant, no duplicate
    assert done["a"].vendor_id == str(min(emulator.items["posts"]))


def test_a_create_that_never_arrived_is_sent_again(emulator: WordPressEmulator) -> None:
    done = run_sync(push_variants(connect(emulator, lose=1, drop=True), placement("a")))
    assert done["a"].action == "created"
    assert len(emulator.items["posts"]) == 1


def test_creates_failing_every_time_give_up_within_the_policy(
    emulator: WordPressEmulator,
) -> None:
    with pytest.raises(RetriableVendorError, match="504"):
        run_sync(push_variants(connect(emulator, lose=10, drop=True), placement("a")))
    assert emulator.items["posts"] == {}


def test_a_base_url_without_the_rest_root_says_what_to_set(emulator: WordPressEmulator) -> None:
    """``https://site`` instead of ``https://site/wp-json``: the site answers 404 (an HTML page);
    the error says which setting to fix."""
    from martech.errors import FatalVendorError

    site = BASE.removesuffix("/wp-json")
    config = WordPressConfig(base_url=site, username=USERNAME, app_password=APP_PASSWORD)  # type: ignore[arg-type]
    http = HttpClient(base_url=site, transport=emulator.transport(), vendor="wordpress")
    c = WordPressConnector(config=config, http=http)
    with pytest.raises(FatalVendorError, match=r"404.*base_url.*REST root.*/wp-json"):
        run_sync(push_variants(c, placement("a")))
    assert emulator.items["posts"] == {}


@pytest.mark.parametrize(
    ("base", "hint"),
    [("http://wordpress.test/wp-json", True), ("https://wordpress.test/wp-json", False),
     ("http://127.0.0.1:8080/wp-json", False)],
)  # fmt: skip
def test_a_401_over_plain_http_says_application_passwords_need_https(
    emulator: WordPressEmulator, base: str, hint: bool
) -> None:
    """WordPress only accepts application passwords over HTTPS (or on a local environment), so
    a right password over http:// is a 401 too: the error says so."""
    from martech.errors import AuthError

    config = WordPressConfig(base_url=base, username=USERNAME, app_password="wrong")  # type: ignore[arg-type]
    http = HttpClient(base_url=base, transport=emulator.transport(), vendor="wordpress")
    c = WordPressConnector(config=config, http=http)
    with pytest.raises(AuthError) as caught:
        run_sync(push_variants(c, placement("a")))
    message = str(caught.value)
    assert "401" in message
    assert ("application passwords only over HTTPS" in message) is hint
    assert "wrong" not in message
