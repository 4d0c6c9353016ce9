"""A Mailchimp recommendation push that fails part-way (5xx past the retries on one batch) says
so, records nobody as sent, and a re-run sends everyone again: writing the same values twice is
harmless, leaving someone out is not."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from martech.errors import RetriableVendorError
from martech.http import HttpClient
from martech.http.budget import forget_budgets
from martech.personalize import push as push_module
from martech.personalize.batch import decide_batch
from martech.personalize.decide import DecideContext
from martech.personalize.neighbours import refresh_neighbours
from martech.personalize.placements import example_placements
from martech.personalize.push import push_placement
from martech.population import generate, write_store
from martech.store import Store
from martech_connectors.mailchimp import connector as mc_module
from martech_connectors.mailchimp.config import MailchimpConfig
from martech_connectors.mailchimp.connector import MailchimpConnector
from martech_connectors.mailchimp.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_LIST_ID,
    MailchimpEmulator,
)

from .conftest import AS_OF

BASE = "http://mailchimp.test/3.0"
PLACEMENT = "recs_email"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "martech.duckdb") as store:
        write_store(store, generate(120, seed=4, as_of=AS_OF))
        refresh_neighbours(store)
        ctx = DecideContext.from_store(store, example_placements(), now=AS_OF)
        decide_batch(store, PLACEMENT, context=ctx)
        yield store


def connect(emulator: MailchimpEmulator, *, fail_call: int | None) -> MailchimpConnector:
    """A connector whose ``fail_call``-th batch-subscribe request fails past the retries."""
    config = MailchimpConfig(api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID, base_url=BASE)
    http = HttpClient(base_url=BASE, transport=emulator.transport(), vendor="mailchimp")
    c = MailchimpConnector(config=config, http=http)
    real = c._subscribe
    calls = {"n": 0}

    async def subscribe(entries: Sequence[Mapping[str, Any]], *, update_existing: bool) -> Any:
        calls["n"] += 1
        if calls["n"] == fail_call:
            raise RetriableVendorError(
                f"mailchimp: POST /3.0/lists/{DEFAULT_LIST_ID}: 503 Service Unavailable",
                vendor="mailchimp",
                status=503,
            )
        return await real(entries, update_existing=update_existing)

    c._subscribe = subscribe  # type: ignore[method-assign]
    return c


def test_a_failed_batch_is_reported_and_a_re_run_sends_everyone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    forget_budgets()
    emulator = MailchimpEmulator()
    monkeypatch.setattr(mc_module, "MAX_BATCH", 20)
    monkeypatch.setattr(push_module, "connector_for", lambda name: connect(emulator, fail_call=2))
    with pytest.raises(RetriableVendorError) as caught:
        push_placement(store, example_placements()[PLACEMENT], "mailchimp")
    message = str(caught.value)
    assert "503" in message
    assert "the push of recs_email to mailchimp stopped part-way" in message
    assert "re-run the push" in message
    assert DEFAULT_API_KEY not in message
    monkeypatch.setattr(
        push_module, "connector_for", lambda name: connect(emulator, fail_call=None)
    )
    again = push_placement(store, example_placements()[PLACEMENT], "mailchimp")
    assert again["unchanged"] == 0  # nobody was recorded as sent by the failed run
    assert again["sent"] == again["recipients"] > 20
    assert again["rejected"] == 0
