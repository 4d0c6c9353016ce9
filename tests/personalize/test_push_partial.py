"""A push that fails at variant k says which variant failed and what is already live; re-running
it is safe (what was published comes back unchanged, the rest is published)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from martech.connector import PublishedContent
from martech.errors import AuthError, RetriableVendorError
from martech.http import run_sync
from martech.http.budget import forget_budgets
from martech.models import ContentVariant
from martech.personalize import push as push_module
from martech.personalize.placements import parse_placements
from martech.personalize.push import push_placement, push_variants
from martech.store import Store
from martech_connectors.wordpress.connector import WordPressConnector
from martech_connectors.wordpress.emulator import APP_PASSWORD, WordPressEmulator


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


def connect(emulator: WordPressEmulator, *, fail_after: int, error: Exception | None = None
            ) -> WordPressConnector:  # fmt: skip
    """A connector whose application password is revoked after ``fail_after`` variants (or
    that raises ``error`` there)."""
    c = emulator.bind(WordPressConnector)
    real = c.push_content
    calls = {"n": 0}

    async def push_content(variant: ContentVariant) -> PublishedContent:
        if calls["n"] == fail_after:
            if error is not None:
                raise error
            emulator.app_password = "revoked-in-the-admin"
        calls["n"] += 1
        return await real(variant)

    c.push_content = push_content  # type: ignore[method-assign]
    return c


def test_a_401_at_the_second_variant_names_it_and_what_is_already_live(
    emulator: WordPressEmulator,
) -> None:
    pl = placement("a", "b", "c")
    with pytest.raises(AuthError) as caught:
        run_sync(push_variants(connect(emulator, fail_after=1), pl))
    message = str(caught.value)
    assert "401" in message  # the vendor's own answer is kept
    assert "; variant 'b' of promo failed" in message
    assert "1 of 3 published before it: a (created)" in message
    assert "not published: b, c" in message
    assert APP_PASSWORD not in message
    assert APP_PASSWORD.replace(" ", "") not in message
    assert caught.value.status == 401  # still an AuthError: the same exit code
    # re-running with good credentials finishes the job without duplicating anything
    emulator.app_password = APP_PASSWORD
    done = run_sync(push_variants(connect(emulator, fail_after=-1), pl))
    assert {k: p.action for k, p in done.items()} == {
        "a": "unchanged",
        "b": "created",
        "c": "created",
    }
    assert len(emulator.items["posts"]) == 3


def test_a_failure_at_the_first_variant_says_nothing_was_published(
    emulator: WordPressEmulator,
) -> None:
    boom = RetriableVendorError("wordpress: POST /wp/v2/posts: 503 down", vendor="wordpress")
    with pytest.raises(RetriableVendorError) as caught:
        run_sync(push_variants(connect(emulator, fail_after=0, error=boom), placement("a", "b")))
    assert "variant 'a' of promo failed; nothing published" in str(caught.value)
    assert emulator.items["posts"] == {}


def test_the_cli_reports_the_partial_push_as_an_error(
    emulator: WordPressEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from martech.cli import main

    monkeypatch.setattr(push_module, "connector_for", lambda name: connect(emulator, fail_after=2))
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path))
    Store(tmp_path / "martech.duckdb").close()
    yml = tmp_path / "placements.yml"
    yml.write_text(
        "- key: promo\n  channel: web\n  default: a\n  variants:\n"
        "    - {id: a, kind: static, content: A}\n"
        "    - {id: b, kind: static, content: B}\n"
        "    - {id: c, kind: static, content: C}\n"
    )
    code = main(["personalize", "push", "-p", "promo", "--to", "wordpress", "--placements",
                 str(yml)])  # fmt: skip
    assert code == AuthError.exit_code
    err = " ".join(capsys.readouterr().err.split())
    assert "variant 'c' of promo failed" in err
    assert "2 of 3 published before it: a (created), b (created)" in err
    assert "re-run" in err


def test_push_placement_keeps_the_vendor_error_class(
    emulator: WordPressEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(push_module, "connector_for", lambda name: connect(emulator, fail_after=1))
    with Store(tmp_path / "m.duckdb") as store, pytest.raises(AuthError, match="variant 'b'"):
        push_placement(store, placement("a", "b"), "wordpress")


def test_a_failure_listing_stale_variants_says_every_variant_is_live(
    emulator: WordPressEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    c = connect(emulator, fail_after=-1)

    async def listing_down(placement: str) -> dict[str, str]:
        raise RetriableVendorError("wordpress: GET /wp/v2/posts: 503 down", vendor="wordpress")

    c.published_variants = listing_down  # type: ignore[method-assign]
    monkeypatch.setattr(push_module, "connector_for", lambda name: c)
    with Store(tmp_path / "m.duckdb") as store, pytest.raises(RetriableVendorError) as caught:
        push_placement(store, placement("a", "b"), "wordpress")
    assert "all 2 variants of promo are published, but listing" in str(caught.value)
    assert len(emulator.items["posts"]) == 2


def test_only_the_variants_the_cms_took_down_are_reported_unpublished(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The Delivery API is a CDN: it can still list an entry someone unpublished a moment ago.
    Contentful's unpublish skips such an entry; the report must not claim it took it down."""
    from martech_connectors.contentful.emulator import ContentfulEmulator

    from .test_push_contentful import connect as contentful
    from .test_push_contentful import sms

    forget_budgets()
    emulator = ContentfulEmulator(cma_rate=None)
    c = contentful(emulator)
    monkeypatch.setattr(push_module, "connector_for", lambda name: c)
    with Store(tmp_path / "m.duckdb") as store:
        push_placement(store, sms("s_default", "s_old", "s_gone"), "contentful")
        # someone unpublished s_gone in the web app; the cached listing still has it
        stale = run_sync(c.published_variants("sms_push"))
        run_sync(c.unpublish(["sms_push--s_gone"]))

        async def cached(placement: str) -> dict[str, str]:
            return stale

        c.published_variants = cached  # type: ignore[method-assign]
        done = push_placement(store, sms("s_default"), "contentful", unpublish_missing=True)
    assert done["unpublished"] == ["s_old"]
    # s_gone was already off the site: not listed as still published either
    assert [r["variant"] for r in done["not_in_yaml"]] == ["s_old"]
