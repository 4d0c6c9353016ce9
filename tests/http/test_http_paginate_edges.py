"""Pagination edges a vendor produces: next links to another origin, Graph's empty pages with a
next link, page totals of an unexpected type."""

from __future__ import annotations

import httpx
import pytest
import respx

from martech.errors import FatalVendorError
from martech.http import (
    CursorPaginator,
    HttpClient,
    LinkPaginator,
    PageNumberPaginator,
    PaginationLoopError,
    paginate,
)

pytestmark = pytest.mark.anyio
BASE = "https://api.vendor.test"
TOKEN = "tok_live_0123456789abcdef"


def client() -> HttpClient:
    return HttpClient(base_url=BASE, headers={"Authorization": f"Bearer {TOKEN}"})


async def collect(c: HttpClient, **kw: object) -> list[object]:
    out: list[object] = []
    async for page in paginate(c, "GET", "/items", **kw):  # type: ignore[arg-type]
        out.extend(page.items)
    return out


@pytest.mark.parametrize(
    "next_url",
    [
        "https://elsewhere.test/items?page=2",  # another host
        "http://api.vendor.test/items?page=2",  # the same host without TLS
        "https://api.vendor.test:8443/items?page=2",  # another port
    ],
)
@respx.mock
async def test_a_next_link_to_another_origin_is_refused_before_credentials_go(
    next_url: str,
) -> None:
    respx.get(f"{BASE}/items").respond(200, json=[1], headers={"Link": f'<{next_url}>; rel="next"'})
    elsewhere = respx.get(url__startswith=next_url.split("/items")[0]).respond(200, json=[2])
    with pytest.raises(FatalVendorError, match="another origin") as caught:
        await collect(client(), paginator=LinkPaginator(), items_path=None)
    assert not elsewhere.called
    assert TOKEN not in str(caught.value)


@respx.mock
async def test_a_next_link_on_the_same_origin_is_followed() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        headers = {"Link": f'<{BASE}/items?page={page + 1}>; rel="next"'} if page < 2 else {}
        return httpx.Response(200, json=[page], headers=headers)

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    assert await collect(client(), paginator=LinkPaginator(), items_path=None) == [1, 2]


@respx.mock
async def test_graph_style_empty_page_with_a_next_link_is_followed_when_asked() -> None:
    """Meta documents that a page may be empty yet carry ``paging.next``: keep going."""

    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", "0"))
        data = [] if after in (1, 2) else [after]
        body: dict[str, object] = {"data": data}
        if after < 3:
            body["paging"] = {"cursors": {"after": str(after + 1)}, "next": "x"}
        return httpx.Response(200, json=body)

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    pag = CursorPaginator(cursor_path=("paging", "cursors", "after"))
    got = await collect(client(), paginator=pag, items_path=("data",), stop_on_empty=False)
    assert got == [0, 3]
    # the default still stops at the first empty page
    pag = CursorPaginator(cursor_path=("paging", "cursors", "after"))
    assert await collect(client(), paginator=pag, items_path=("data",)) == [0]


@respx.mock
async def test_endless_empty_pages_still_hit_the_guards() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", "0"))
        return httpx.Response(200, json={"data": [], "paging": {"cursors": {"after": after + 1}}})

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    pag = CursorPaginator(cursor_path=("paging", "cursors", "after"))
    with pytest.raises(PaginationLoopError):
        await collect(
            client(), paginator=pag, items_path=("data",), stop_on_empty=False, max_pages=5
        )


@pytest.mark.parametrize("total", [[3], {"n": 3}, 2.5, True])
@respx.mock
async def test_an_odd_total_pages_value_falls_back_to_stop_on_empty(total: object) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json={"items": [page] if page <= 2 else [], "pages": total})

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    pag = PageNumberPaginator(total_pages_header=None, total_pages_path=("pages",))
    got = await collect(client(), paginator=pag, items_path=("items",))
    assert got[0] == 1
    assert set(got) <= {1, 2}
