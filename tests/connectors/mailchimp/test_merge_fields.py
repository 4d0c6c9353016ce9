"""The emulator's merge fields on Mailchimp's wire format, and the connector creating its own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from martech.errors import ConfigError, FatalVendorError
from martech.http import HttpClient, run_sync
from martech.http.budget import forget_budgets
from martech_connectors.mailchimp.config import MailchimpConfig
from martech_connectors.mailchimp.connector import MailchimpConnector
from martech_connectors.mailchimp.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_LIST_ID,
    DEFAULT_MERGE_FIELDS,
    MailchimpEmulator,
)

BASE = "http://mailchimp.test/3.0"
PATH = f"/3.0/lists/{DEFAULT_LIST_ID}/merge-fields"


@pytest.fixture
def emulator() -> MailchimpEmulator:
    forget_budgets()
    return MailchimpEmulator()


def call(emulator: MailchimpEmulator, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=emulator.transport(), base_url="http://mailchimp.test"
        ) as client:
            return await client.request(method, path, auth=("any", DEFAULT_API_KEY), **kw)

    return run_sync(go())


def subscribe(emulator: MailchimpEmulator, merge: dict[str, Any]) -> dict[str, Any]:
    body = {
        "members": [{"email_address": "a@example.org", "status": "subscribed",
                     "merge_fields": merge}],
        "update_existing": True,
    }  # fmt: skip
    r = call(emulator, "POST", f"/3.0/lists/{DEFAULT_LIST_ID}", json=body)
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def test_a_new_audience_lists_the_default_fields(emulator: MailchimpEmulator) -> None:
    r = call(emulator, "GET", PATH)
    data = r.json()
    assert r.status_code == 200
    assert data["total_items"] == len(DEFAULT_MERGE_FIELDS)
    assert [f["tag"] for f in data["merge_fields"]] == list(DEFAULT_MERGE_FIELDS)
    first = data["merge_fields"][0]
    assert {"merge_id", "tag", "name", "type", "required", "public", "list_id"} <= set(first)
    assert first["merge_id"] == 1


def test_creating_a_field_answers_the_field_and_lists_it(emulator: MailchimpEmulator) -> None:
    r = call(emulator, "POST", PATH, json={"tag": "rec1", "name": "Item 1", "type": "text"})
    assert r.status_code == 200
    made = r.json()
    assert made["tag"] == "REC1"  # uppercased, as Mailchimp does
    assert made["type"] == "text"
    listed = call(emulator, "GET", PATH, params={"fields": "merge_fields.tag,total_items"}).json()
    assert listed == {
        "merge_fields": [{"tag": t} for t in [*DEFAULT_MERGE_FIELDS, "REC1"]],
        "total_items": len(DEFAULT_MERGE_FIELDS) + 1,
    }


def test_a_field_without_a_tag_gets_mmerge_n(emulator: MailchimpEmulator) -> None:
    r = call(emulator, "POST", PATH, json={"name": "Shoe size", "type": "number"})
    assert r.json()["tag"] == f"MMERGE{len(DEFAULT_MERGE_FIELDS) + 1}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tag": "RECOMMENDED1", "name": "x", "type": "text"}, "tag"),
        ({"tag": "REC-1", "name": "x", "type": "text"}, "tag"),
        ({"tag": "REC1", "name": "", "type": "text"}, "name"),
        ({"tag": "REC1", "name": "x", "type": "colour"}, "type"),
    ],
    ids=["longer-than-10", "hyphen", "blank-name", "unknown-type"],
)
def test_invalid_fields_are_a_problem_document_naming_the_field(
    emulator: MailchimpEmulator, body: dict[str, Any], field: str
) -> None:
    r = call(emulator, "POST", PATH, json=body)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == [field]


@pytest.mark.parametrize("tag", ["FNAME", "fname", "EMAIL"], ids=["default", "lowercase", "email"])
def test_a_duplicate_tag_is_a_400(emulator: MailchimpEmulator, tag: str) -> None:
    r = call(emulator, "POST", PATH, json={"tag": tag, "name": "x", "type": "text"})
    assert r.status_code == 400
    assert r.json()["title"] == "Invalid Resource"
    assert "already exists" in r.json()["detail"]


def test_batch_subscribe_refuses_a_tag_the_audience_lacks_per_item(
    emulator: MailchimpEmulator,
) -> None:
    data = subscribe(emulator, {"FNAME": "Ann", "REC1": "Reel"})
    assert data["error_count"] == 1
    (error,) = data["errors"]
    assert error["field"] == "REC1"
    assert error["error"] == "Your merge fields were invalid."
    assert not emulator.lists[DEFAULT_LIST_ID].members  # nothing stored for that item


def test_batch_subscribe_stores_the_value_once_the_field_exists(
    emulator: MailchimpEmulator,
) -> None:
    emulator.add_merge_field("REC1")
    data = subscribe(emulator, {"FNAME": "Ann", "REC1": "Reel"})
    assert data["total_created"] == 1
    assert emulator.merge_values("a@example.org") == {"FNAME": "Ann", "REC1": "Reel"}


def test_ignore_mode_drops_unknown_tags_silently() -> None:
    forget_budgets()
    emulator = MailchimpEmulator(unknown_merge_fields="ignore")
    data = subscribe(emulator, {"FNAME": "Ann", "REC1": "Reel"})
    assert data["error_count"] == 0
    assert emulator.merge_values("a@example.org") == {"FNAME": "Ann"}


def test_text_longer_than_255_is_refused(emulator: MailchimpEmulator) -> None:
    data = subscribe(emulator, {"FNAME": "x" * 256})
    assert data["errors"][0]["field"] == "FNAME"


def test_put_member_refuses_an_unknown_tag_with_mailchimps_detail(
    emulator: MailchimpEmulator,
) -> None:
    r = call(
        emulator,
        "PUT",
        f"/3.0/lists/{DEFAULT_LIST_ID}/members/a@example.org",
        json={"email_address": "a@example.org", "status": "subscribed",
              "merge_fields": {"NOPE": 1}},
    )  # fmt: skip
    assert r.status_code == 400
    assert r.json()["detail"] == "Your merge fields were invalid."
    assert r.json()["errors"] == [
        {"field": "NOPE", "message": "NOPE is not a merge field of this audience"}
    ]


def connect(emulator: MailchimpEmulator) -> MailchimpConnector:
    config = MailchimpConfig(api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID, base_url=BASE)
    http = HttpClient(base_url=BASE, transport=emulator.transport(), vendor="mailchimp")
    return MailchimpConnector(config=config, http=http)


def test_the_connector_creates_only_the_missing_fields(emulator: MailchimpEmulator) -> None:
    emulator.add_merge_field("REC1")
    connector = connect(emulator)
    created, requests = run_sync(
        connector.ensure_merge_fields([("REC1", "Item 1"), ("REC2", "Item 2")])
    )
    assert created == ["REC2"]
    assert requests == 2  # one read, one create
    again, _ = run_sync(connector.ensure_merge_fields([("REC1", "Item 1"), ("REC2", "Item 2")]))
    assert again == []


def test_the_connector_reads_the_fields_1000_a_page(emulator: MailchimpEmulator) -> None:
    for i in range(30):
        emulator.add_merge_field(f"F{i}")
    tags, requests = run_sync(connect(emulator).merge_tags())
    assert requests == 1
    assert {"FNAME", "F0", "F29"} <= tags


def test_a_field_created_under_another_tag_is_a_config_error(
    emulator: MailchimpEmulator,
) -> None:
    connector = connect(emulator)
    with pytest.raises(ConfigError, match="merge field rec9 returned tag 'REC9'"):
        run_sync(connector.ensure_merge_fields([("rec9", "lower")], existing=set()))


def test_a_refused_field_stops_with_the_vendors_error(emulator: MailchimpEmulator) -> None:
    with pytest.raises(FatalVendorError, match="400 Invalid Resource"):
        run_sync(connect(emulator).ensure_merge_fields([("R-1", "bad")]))


def test_recommendations_go_500_a_call_in_parallel_batches(emulator: MailchimpEmulator) -> None:
    from martech.personalize.recipients import Recipient, RecommendedItem
    from martech_connectors.mailchimp.mapping import recommendation_fields

    members = [
        Recipient(f"p{i:05d}", f"person{i}@example.org", "recs", "picked", "personalization",
                  "co_occurrence", f"For you {i}", (RecommendedItem(f"SKU-{i}", f"Item {i}"),))
        for i in range(1201)
    ]  # fmt: skip
    summary = run_sync(connect(emulator).push_recommendations(members))
    assert summary["sent"] == summary["created"] == 1201
    assert summary["rejected"] == 0
    assert emulator.requests[f"POST /3.0/lists/{DEFAULT_LIST_ID}"] == 3
    assert summary["requests"] == 1 + len(recommendation_fields(urls=False)) + 3
    assert emulator.merge_values("person1200@example.org")["REC1"] == "Item 1200"
    assert emulator.merge_values("person7@example.org")["REC2"] == ""
