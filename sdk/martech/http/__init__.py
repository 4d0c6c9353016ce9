"""martech.http: the HTTP engine every connector uses.

``HttpClient`` (retries, Retry-After, budgets, deadline, typed errors, one orjson parse),
paginators with loop guards, ``create_once`` for creates a retry must not repeat, ``batches`` by
count and bytes, and ``redact`` for logs and errors.
Importing this package is cheap: httpx loads with ``client``, tenacity only when a request runs.
"""

from __future__ import annotations

from .batching import batches
from .budget import Budget, RateLimiter, budget_for
from .client import HttpClient, Response, run_sync
from .create import create_once
from .paginate import (
    CursorPaginator,
    LinkPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    PaginationLoopError,
    Paginator,
    paginate,
)
from .redact import redact
from .retry import RetryPolicy, parse_retry_after

__all__ = [
    "Budget",
    "CursorPaginator",
    "HttpClient",
    "LinkPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "PaginationLoopError",
    "Paginator",
    "RateLimiter",
    "Response",
    "RetryPolicy",
    "batches",
    "budget_for",
    "create_once",
    "paginate",
    "parse_retry_after",
    "redact",
    "run_sync",
]
