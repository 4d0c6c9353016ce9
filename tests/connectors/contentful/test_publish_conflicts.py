"""Contentful: an edit landing between the save and the publish is re-read, not left half-done."""

from __future__ import annotations

import pytest

from martech.errors import FatalVendorError
from martech.http import run_sync
from martech.http.budget import forget_budgets
from martech.personalize.placements import example_placements
from martech.personalize.push import push_variants
from martech_connectors.contentful.connector import ContentfulConnector
from martech_connectors.contentful.emulator import (
    MANAGEMENT_TOKEN,
    ContentfulEmulator,
)

HERO = example_placements()["email_hero"]


@pytest.fixture
def emulator() -> ContentfulEmulator:
    forget_budgets()
    return ContentfulEmulator(cma_rate=None)


def connect(emulator: ContentfulEmulator) -> ContentfulConnector:
    return emulator.bind(ContentfulConnector)


def test_a_conflict_on_publish_is_re_read_and_the_new_entry_is_published(
    emulator: ContentfulEmulator,
) -> None:
    c = connect(emulator)
    emulator.conflicts_on_publish = 1  # someone saves the entry between our PUT and publish
    variant = HERO.variants[0]
    eid = f"email_hero--{variant.id}"
    done = run_sync(c.push_content(variant))
    assert done.action == "created"  # it did not exist before this push
    assert c.conflicts == 1
    assert eid in emulator.published  # live, not left as a saved draft
    assert emulator.published[eid]["fields"] == emulator.entries[eid]["fields"]
    again = run_sync(c.push_content(variant))
    assert again.action == "unchanged"


def test_a_second_conflict_on_publish_is_an_error_saying_it_is_not_live(
    emulator: ContentfulEmulator,
) -> None:
    c = connect(emulator)
    run_sync(push_variants(c, HERO))
    variant = HERO.variants[0]
    eid = f"email_hero--{variant.id}"
    emulator.entries[eid]["fields"]["body"] = {"en-US": "edited by hand"}  # so there is a write
    emulator.conflicts_on_publish = 2
    with pytest.raises(FatalVendorError, match=rf"entry '{eid}'.*not published") as caught:
        run_sync(c.push_content(variant))
    assert caught.value.status == 409
    assert MANAGEMENT_TOKEN not in str(caught.value)


def test_a_422_names_the_fields_contentful_refused(emulator: ContentfulEmulator) -> None:
    """Contentful's own message is only "Validation error"; the ``details`` say what to fix."""
    c = emulator.bind(ContentfulConnector, locale="de-DE")  # a locale the space does not have
    with pytest.raises(FatalVendorError) as caught:
        run_sync(push_variants(c, HERO))
    message = str(caught.value)
    assert caught.value.status == 422
    assert "Validation error" in message
    assert "fields.placement: Fields are keyed by locale: en-US" in message
    assert "nothing published" in message
    assert MANAGEMENT_TOKEN not in message
