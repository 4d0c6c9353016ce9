"""Paginators (cursor, offset, link, page number) and their loop guards, against respx."""

from __future__ import annotations

import httpx
import pytest
import respx

from martech.http import (
    CursorPaginator,
    HttpClient,
    LinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PaginationLoopError,
    paginate,
)

pytestmark = pytest.mark.anyio
BASE = "https://api.vendor.test"


def client() -> HttpClient:
    return HttpClient(base_url=BASE)


async def collect(**kw: object) -> list[object]:
    out: list[object] = []
    async for page in paginate(client(), "GET", "/items", **kw):  # type: ignore[arg-type]
        out.extend(page.items)
    return out


@pytest.mark.parametrize("prefetch", [False, True], ids=["sequential", "prefetch"])
@respx.mock
async def test_cursor_paginator_follows_paging_next_after(prefetch: bool) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", "0"))
        body: dict[str, object] = {"results": list(range(after, min(after + 3, 8)))}
        if after + 3 < 8:
            body["paging"] = {"next": {"after": str(after + 3)}}
        return httpx.Response(200, json=body)

    route = respx.get(f"{BASE}/items").mock(side_effect=answer)
    assert await collect(paginator=CursorPaginator(), prefetch=prefetch) == list(range(8))
    assert route.call_count == 3


@respx.mock
async def test_cursor_in_the_body_for_search_style_endpoints() -> None:
    seen: list[object] = []

    def answer(request: httpx.Request) -> httpx.Response:
        import orjson

        after = int(orjson.loads(request.content).get("after") or 0)
        seen.append(after)
        body: dict[str, object] = {"results": [after]}
        if after < 2:
            body["paging"] = {"next": {"after": str(after + 1)}}
        return httpx.Response(200, json=body)

    respx.post(f"{BASE}/search").mock(side_effect=answer)
    pages = [
        p.items
        async for p in paginate(
            client(), "POST", "/search", paginator=CursorPaginator(in_body=True), json={"q": 1}
        )
    ]
    assert pages == [[0], [1], [2]]
    assert seen == [0, 1, 2]


@respx.mock
async def test_offset_paginator_stops_at_total_items() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        offset, count = int(request.url.params["offset"]), int(request.url.params["count"])
        items = list(range(offset, min(offset + count, 7)))
        return httpx.Response(200, json={"members": items, "total_items": 7})

    route = respx.get(f"{BASE}/items").mock(side_effect=answer)
    items = await collect(paginator=OffsetPaginator(3), items_path=("members",))
    assert items == list(range(7))
    assert route.call_count == 3


@respx.mock
async def test_link_paginator_follows_the_link_header() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        headers = {"Link": f'<{BASE}/items?page={page + 1}>; rel="next"'} if page < 3 else {}
        return httpx.Response(200, json=[page], headers=headers)

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    assert await collect(paginator=LinkPaginator(), items_path=None) == [1, 2, 3]


@respx.mock
async def test_page_number_paginator_reads_x_wp_totalpages() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json=[page * 10], headers={"X-WP-TotalPages": "4"})

    route = respx.get(f"{BASE}/items").mock(side_effect=answer)
    assert await collect(paginator=PageNumberPaginator(), items_path=None) == [10, 20, 30, 40]
    assert route.call_count == 4


@respx.mock
async def test_an_empty_page_stops_even_if_a_cursor_is_given() -> None:
    route = respx.get(f"{BASE}/items").respond(
        200, json={"results": [], "paging": {"next": {"after": "9"}}}
    )
    assert await collect(paginator=CursorPaginator()) == []
    assert route.call_count == 1


@respx.mock
async def test_a_repeated_cursor_raises_a_loop_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after", "0")
        nxt = {"0": "a", "a": "b", "b": "a"}[after]
        return httpx.Response(200, json={"results": [after], "paging": {"next": {"after": nxt}}})

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    with pytest.raises(PaginationLoopError, match="came back a second time"):
        await collect(paginator=CursorPaginator())


@respx.mock
async def test_a_repeated_page_under_a_new_cursor_raises_a_loop_error() -> None:
    counter = iter(range(100))

    def answer(request: httpx.Request) -> httpx.Response:
        token = str(next(counter))
        return httpx.Response(200, json={"results": [1, 2], "paging": {"next": {"after": token}}})

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    with pytest.raises(PaginationLoopError, match="repeats the items"):
        await collect(paginator=CursorPaginator())


@respx.mock
async def test_max_pages_bounds_an_endless_pagination() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", "0"))
        return httpx.Response(
            200, json={"results": [after], "paging": {"next": {"after": str(after + 1)}}}
        )

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    with pytest.raises(PaginationLoopError, match="more than 5 pages"):
        await collect(paginator=CursorPaginator(), max_pages=5)


@respx.mock
async def test_pages_report_the_cursor_to_resume_from() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", "0"))
        body: dict[str, object] = {"results": [after]}
        if after < 2:
            body["paging"] = {"next": {"after": str(after + 1)}}
        return httpx.Response(200, json=body)

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    pages = [p async for p in paginate(client(), "GET", "/items", paginator=CursorPaginator())]
    assert [(p.token, p.next_token) for p in pages] == [(None, "1"), ("1", "2"), ("2", None)]
    resumed = [
        p.items
        async for p in paginate(client(), "GET", "/items", paginator=CursorPaginator(start="2"))
    ]
    assert resumed == [[2]]


@respx.mock
async def test_prefetch_stops_cleanly_when_the_caller_stops_early() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", "0"))
        return httpx.Response(
            200, json={"results": [after], "paging": {"next": {"after": str(after + 1)}}}
        )

    respx.get(f"{BASE}/items").mock(side_effect=answer)
    pages = paginate(client(), "GET", "/items", paginator=CursorPaginator(), prefetch=True)
    first = await anext(pages)
    await pages.aclose()
    assert first.items == [0]
