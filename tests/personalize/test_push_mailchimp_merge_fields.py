"""The REC* merge fields a recommendation push writes, at their limits.

Values longer than a Mailchimp text merge field holds (255 characters): a label is cut with a
visible ellipsis; an id or url is never cut (a cut url is a broken link, a cut id names another
item): it is left blank and counted in the push summary. A REC* field the audience already has
with another type stops the push before anyone is written."""

from __future__ import annotations

import pytest

from martech.http import HttpClient, run_sync
from martech.http.budget import forget_budgets
from martech.personalize.recipients import Recipient, RecommendedItem
from martech_connectors.mailchimp.config import MailchimpConfig
from martech_connectors.mailchimp.connector import MailchimpConnector
from martech_connectors.mailchimp.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_LIST_ID,
    MailchimpEmulator,
)
from martech_connectors.mailchimp.mapping import MAX_TEXT, recommendation_values

BASE = "http://mailchimp.test/3.0"
LONG_URL = "https://shop.example/p/reel?" + "utm=x&" * 60  # > 255 characters
assert len(LONG_URL) > MAX_TEXT


def recipient(*items: RecommendedItem, content: str | None = None) -> Recipient:
    return Recipient("p1", "gary@example.com", "recs_email", "v", "personalization", "t",
                     content, items)  # fmt: skip


def test_a_long_label_is_cut_with_an_ellipsis_that_fits() -> None:
    values = recommendation_values(recipient(RecommendedItem("I1", "n" * 300)), urls=False)
    assert len(values["REC1"]) == MAX_TEXT
    assert values["REC1"].endswith("…")
    assert values["REC1"][:-1] == "n" * (MAX_TEXT - 1)
    short = recommendation_values(recipient(RecommendedItem("I1", "n" * MAX_TEXT)), urls=False)
    assert short["REC1"] == "n" * MAX_TEXT  # exactly 255 fits whole


def test_a_long_url_or_id_is_left_blank_not_cut() -> None:
    items = (
        RecommendedItem("I1", "Reel", LONG_URL),
        RecommendedItem("x" * 300, "Rod", "https://s/r"),
    )
    values = recommendation_values(recipient(*items), urls=True)
    assert values["REC1"] == "Reel"
    assert values["REC1URL"] == ""  # not a broken link
    assert values["REC2ID"] == ""
    assert values["REC2URL"] == "https://s/r"


@pytest.fixture
def emulator() -> MailchimpEmulator:
    forget_budgets()
    return MailchimpEmulator()


def test_the_push_counts_the_values_left_blank_and_mailchimp_accepts_the_rest(
    emulator: MailchimpEmulator,
) -> None:
    config = MailchimpConfig(api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID, base_url=BASE)
    http = HttpClient(base_url=BASE, transport=emulator.transport(), vendor="mailchimp")
    c = MailchimpConnector(config=config, http=http)
    items = (
        RecommendedItem("I1", "r" * 400, LONG_URL),
        RecommendedItem("I2", "Rod", "https://s/r"),
    )
    summary = run_sync(c.push_recommendations([recipient(*items, content="c" * 999)]))
    assert summary["rejected"] == 0  # nothing longer than 255 was sent
    assert summary["values_left_blank"] == 1
    stored = emulator.merge_values("gary@example.com")
    assert stored["REC1URL"] == ""
    assert stored["REC2URL"] == "https://s/r"
    assert stored["REC1"].endswith("…")
    assert len(stored["REC_TEXT"]) == MAX_TEXT


def test_a_rec_field_of_another_type_stops_the_push_before_any_write(
    emulator: MailchimpEmulator,
) -> None:
    """An audience that already has REC2 as a number field would refuse every person's text;
    the push says which field before writing anyone."""
    from martech.errors import ConfigError

    emulator.lists[DEFAULT_LIST_ID].declare("REC2", "Score", kind="number")
    config = MailchimpConfig(api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID, base_url=BASE)
    http = HttpClient(base_url=BASE, transport=emulator.transport(), vendor="mailchimp")
    c = MailchimpConnector(config=config, http=http)
    with pytest.raises(ConfigError, match=r"REC2 is a number field"):
        run_sync(c.push_recommendations([recipient(RecommendedItem("I1", "Reel"))]))
    assert emulator.merge_fields_created == 0
    assert emulator.requests[f"POST /3.0/lists/{DEFAULT_LIST_ID}"] == 0
