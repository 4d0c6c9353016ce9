"""Paginators with dlt's three verbs, explicit rather than auto-detected, and loop guards.

A paginator is told about the first request (``init_request``), reads each response
(``update_state``) and rewrites the request for the next page (``update_request``). The
:func:`paginate` driver adds what none of dlt, singer-sdk or Airbyte does together (research §5):
it stops on an empty page, and raises :class:`PaginationLoopError` when a cursor repeats, when a
page's bytes repeat, or when ``max_pages`` is reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import FatalVendorError

if TYPE_CHECKING:
    from .client import HttpClient, Response

DEFAULT_MAX_PAGES = 100_000


class PaginationLoopError(FatalVendorError):
    """The vendor's pages went round in a circle (or never ended); the pull stopped."""


@dataclass
class PageRequest:
    """The request for the next page; paginators edit it in place."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None


@dataclass
class Page:
    """One page: its items, the response, the cursor that fetched it (None for the first) and
    the cursor of the next page (None on the last): persist ``next_token`` to resume."""

    items: list[Any]
    response: Response
    number: int
    token: str | None
    next_token: str | None


def dig(data: Any, path: Sequence[str]) -> Any:
    """``data[path[0]][path[1]]…``, or None when any step is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


class Paginator:
    """Base: no pagination (one page). Subclasses implement the three verbs."""

    has_next_page: bool = True

    def init_request(self, request: PageRequest) -> None:
        self.has_next_page = True

    def update_state(self, response: Response, items: list[Any]) -> None:
        self.has_next_page = False

    def update_request(self, request: PageRequest) -> None:
        pass

    @property
    def token(self) -> str | None:
        """The cursor that the next request will carry, for loop detection and resuming."""
        return None


class CursorPaginator(Paginator):
    """A cursor in the body (HubSpot ``paging.next.after``) sent as a query or body parameter."""

    def __init__(
        self,
        cursor_path: Sequence[str] = ("paging", "next", "after"),
        param: str = "after",
        *,
        in_body: bool = False,
        start: str | None = None,
    ) -> None:
        self.cursor_path = tuple(cursor_path)
        self.param = param
        self.in_body = in_body
        self.cursor: str | None = start

    def init_request(self, request: PageRequest) -> None:
        super().init_request(request)
        if self.cursor is not None:
            self.update_request(request)

    def update_state(self, response: Response, items: list[Any]) -> None:
        value = dig(response.data, self.cursor_path)
        self.cursor = None if value in (None, "") else str(value)
        self.has_next_page = self.cursor is not None

    def update_request(self, request: PageRequest) -> None:
        if self.in_body:
            request.json = {**(request.json or {}), self.param: self.cursor}
        else:
            request.params[self.param] = self.cursor

    @property
    def token(self) -> str | None:
        return self.cursor


class OffsetPaginator(Paginator):
    """``offset``/``count`` + a total (Mailchimp ``total_items``, Contentful ``skip``/``total``)."""

    def __init__(
        self,
        limit: int,
        *,
        offset_param: str = "offset",
        limit_param: str = "count",
        total_path: Sequence[str] | None = ("total_items",),
        offset: int = 0,
    ) -> None:
        self.limit = limit
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.total_path = tuple(total_path) if total_path else None
        self.offset = offset

    def init_request(self, request: PageRequest) -> None:
        super().init_request(request)
        self.update_request(request)

    def update_state(self, response: Response, items: list[Any]) -> None:
        self.offset += len(items)
        total = dig(response.data, self.total_path) if self.total_path else None
        if isinstance(total, int):
            self.has_next_page = self.offset < total and bool(items)
        else:
            self.has_next_page = len(items) >= self.limit

    def update_request(self, request: PageRequest) -> None:
        request.params[self.offset_param] = self.offset
        request.params[self.limit_param] = self.limit

    @property
    def token(self) -> str | None:
        return str(self.offset)


_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*?\brel="?next"?', re.IGNORECASE)


class LinkPaginator(Paginator):
    """Follow a next URL: the ``Link: <…>; rel="next"`` header, or a URL at ``next_path``."""

    def __init__(self, next_path: Sequence[str] | None = None) -> None:
        self.next_path = tuple(next_path) if next_path else None
        self.next_url: str | None = None

    def update_state(self, response: Response, items: list[Any]) -> None:
        url: Any = None
        if self.next_path is not None:
            url = dig(response.data, self.next_path)
        else:
            match = _LINK_NEXT.search(response.headers.get("Link", ""))
            url = match.group(1) if match else None
        self.next_url = str(url) if url else None
        self.has_next_page = self.next_url is not None

    def update_request(self, request: PageRequest) -> None:
        assert self.next_url is not None
        request.path = self.next_url  # the next URL carries its own query
        request.params = {}

    @property
    def token(self) -> str | None:
        return self.next_url


class PageNumberPaginator(Paginator):
    """``page=1,2,…`` until ``X-WP-TotalPages`` (WordPress) or an empty page."""

    def __init__(
        self,
        *,
        param: str = "page",
        start: int = 1,
        total_pages_header: str | None = "X-WP-TotalPages",
        total_pages_path: Sequence[str] | None = None,
    ) -> None:
        self.param = param
        self.page = start
        self.total_pages_header = total_pages_header
        self.total_pages_path = tuple(total_pages_path) if total_pages_path else None

    def init_request(self, request: PageRequest) -> None:
        super().init_request(request)
        request.params[self.param] = self.page

    def update_state(self, response: Response, items: list[Any]) -> None:
        total: Any = None
        if self.total_pages_header and self.total_pages_header in response.headers:
            total = response.headers[self.total_pages_header]
        elif self.total_pages_path:
            total = dig(response.data, self.total_pages_path)
        try:
            self.has_next_page = self.page < int(total) if total is not None else bool(items)
        except (TypeError, ValueError):  # a total that is not a number: go on while items come
            self.has_next_page = bool(items)
        self.page += 1

    def update_request(self, request: PageRequest) -> None:
        request.params[self.param] = self.page

    @property
    def token(self) -> str | None:
        return str(self.page)


def _same_origin(client: HttpClient, path: str, where: str) -> None:
    """Refuse a next-page URL on another origin than the client's base URL.

    The request would carry the client's Authorization header to it. The same host moving from
    http to https is fine; https to http, another host or another port is not.
    """
    if "://" not in path:
        return
    import httpx

    base, url = httpx.URL(client.base_url), httpx.URL(path)
    here, there = base.port or _PORTS.get(base.scheme), url.port or _PORTS.get(url.scheme)
    if url.host == base.host and (
        (url.scheme == base.scheme and there == here)
        or ((base.scheme, url.scheme) == ("http", "https") and there in (here, 443))
    ):
        return
    raise FatalVendorError(
        f"{where}: the next page is on another origin ({url.scheme}://{url.host}"
        f"{'' if url.port is None else f':{url.port}'}); not sending the credentials there",
        vendor=client.vendor,
    )


_PORTS = {"http": 80, "https": 443}


async def paginate(
    client: HttpClient,
    method: str,
    path: str,
    *,
    paginator: Paginator,
    items_path: Sequence[str] | None = ("results",),
    params: dict[str, Any] | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    prefetch: bool = False,
    stop_on_empty: bool = True,
) -> AsyncGenerator[Page, None]:
    """Yield pages until the paginator says stop, a page is empty, or a loop guard trips.

    With ``prefetch``, the next page is requested before this one is handed over, so the
    caller's work on a page overlaps the vendor's time on the next (one request in flight).
    ``stop_on_empty=False`` follows an empty page that still names a next page (Meta's Graph
    API documents such pages: "stop paging when the next link no longer appears"); empty pages
    are not yielded and count towards ``max_pages``. A next URL on another origin (host, port,
    or a switch away from https) is refused: the client's credentials would go with it.
    """
    request = PageRequest(method, path, dict(params or {}), json)
    paginator.init_request(request)
    seen_tokens: set[str] = set()
    seen_pages: set[tuple[int, int]] = set()
    token: str | None = paginator.token
    if token is not None:
        seen_tokens.add(token)
    where = f"{client.vendor}: {method} {client._show(path)}"

    def send() -> Coroutine[Any, Any, Response]:
        return client.request(
            request.method,
            request.path,
            params=dict(request.params) or None,
            json=request.json,
            headers=headers,
        )

    def advance(number: int) -> str | None:
        """Check the next page's cursor and the page count; point ``request`` at the next page."""
        next_token = paginator.token
        if next_token is not None:
            if next_token in seen_tokens:
                raise PaginationLoopError(
                    client.redact(
                        f"{where}: cursor {next_token!r} came back a second time; stopped"
                    ),
                    vendor=client.vendor,
                )
            seen_tokens.add(next_token)
        if number == max_pages:
            raise PaginationLoopError(
                f"{where}: more than {max_pages} pages; stopped "
                "(raise max_pages if this is expected)",
                vendor=client.vendor,
            )
        paginator.update_request(request)
        _same_origin(client, request.path, where)
        return next_token

    ahead: asyncio.Task[Response] | None = None
    try:
        response = await send()
        for number in range(1, max_pages + 1):
            data = response.data
            items = dig(data, items_path) if items_path else data
            if not isinstance(items, list) or (not items and stop_on_empty):
                return
            if not items:  # an empty page that may still name a next one (Graph API)
                paginator.update_state(response, items)
                if not paginator.has_next_page:
                    return
                token = advance(number)
                response = await send()
                continue
            # Fingerprint the items, not the bytes: a looping vendor may vary paging metadata.
            fingerprint = (len(items), hash(orjson.dumps(items[0]) + orjson.dumps(items[-1])))
            if fingerprint in seen_pages:
                raise PaginationLoopError(
                    f"{where}: page {number} repeats the items of an earlier page; stopped",
                    vendor=client.vendor,
                )
            seen_pages.add(fingerprint)
            paginator.update_state(response, items)
            more = paginator.has_next_page
            next_token = None
            if more:
                next_token = advance(number)
                if prefetch:
                    ahead = asyncio.ensure_future(send())
            yield Page(items, response, number, token, next_token)
            if not more:
                return
            token = next_token
            if ahead is not None:
                response, ahead = await ahead, None
            else:
                response = await send()
    finally:
        if ahead is not None:
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead


__all__ = [
    "CursorPaginator",
    "LinkPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "PaginationLoopError",
    "Paginator",
    "dig",
    "paginate",
]
