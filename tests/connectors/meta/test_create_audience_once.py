"""Creating the custom audience is not idempotent: a 5xx or timeout after Meta made it must not
make a second audience of the same name (later runs would find one or the other, and the
ledger would describe the wrong one)."""

from __future__ import annotations

import httpx
import pytest

from martech.errors import RetriableVendorError
from martech.http import HttpClient, RetryPolicy, run_sync
from martech.http.budget import forget_budgets
from martech_connectors.meta.config import MetaConfig
from martech_connectors.meta.connector import MetaConnector
from martech_connectors.meta.emulator import DEFAULT_ACCOUNT, DEFAULT_TOKEN, MetaEmulator

BASE = "http://graph.test"
SUFFIX = f"/act_{DEFAULT_ACCOUNT}/customaudiences"


class LostAnswers(httpx.AsyncBaseTransport):
    """The first ``lose`` POSTs to a path ending in ``suffix`` reach Meta (unless ``drop``), and
    their answers are replaced by a 504."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, suffix: str, *, lose: int, drop: bool = False
    ) -> None:
        self.inner, self.suffix, self.lose, self.drop = inner, suffix, lose, drop
        self.creates = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith(self.suffix):
            self.creates += 1
            if self.lose > 0:
                self.lose -= 1
                if not self.drop:
                    await self.inner.handle_async_request(request)  # made by Meta
                return httpx.Response(504, text="<html>Gateway Time-out</html>")
        return await self.inner.handle_async_request(request)


async def no_sleep(_: float) -> None:
    return None


def connect(transport: LostAnswers) -> MetaConnector:
    forget_budgets()
    config = MetaConfig(access_token=DEFAULT_TOKEN, ad_account_id=DEFAULT_ACCOUNT, base_url=BASE)
    http = HttpClient(
        base_url=BASE,
        transport=transport,
        vendor="meta",
        retry=RetryPolicy(max_attempts=3),
        sleep=no_sleep,
    )
    return MetaConnector(config=config, http=http)


@pytest.mark.parametrize("drop", [False, True])
def test_a_lost_answer_to_the_create_makes_one_audience(drop: bool) -> None:
    emulator = MetaEmulator()
    transport = LostAnswers(emulator.transport(), SUFFIX, lose=1, drop=drop)
    audience_id = run_sync(connect(transport).ensure_audience("vip"))
    assert [a.id for a in emulator.audiences.values() if a.name == "vip"] == [audience_id]
    assert transport.creates == (2 if drop else 1)


def test_creates_that_keep_failing_raise_after_the_attempts() -> None:
    emulator = MetaEmulator()
    transport = LostAnswers(emulator.transport(), SUFFIX, lose=10, drop=True)
    with pytest.raises(RetriableVendorError):
        run_sync(connect(transport).ensure_audience("vip"))
    assert transport.creates == 3
    assert not emulator.audiences
