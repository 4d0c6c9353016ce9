"""A Contentful emulator: CMA entries with versions and publishing, the CDA under ``/cdn``.

Wire format per ``shared/research/vendor-apis.md`` §4.1: locale-keyed fields on the CMA,
single-locale fields (``locale=`` given) on the CDA, ``{"sys": {"type": "Array"}, "total", "skip",
"limit", "items"}`` collections, errors ``{"sys": {"type": "Error", "id": "VersionMismatch"},
"message", "requestId"}``, rate-limit headers ``X-Contentful-RateLimit-Second-Limit`` /
``-Remaining`` / ``-Reset`` and 429 ``RateLimitExceeded`` with ``X-Contentful-RateLimit-Reset``.

Knobs for tests: ``conflicts_on_put`` makes the next N entry PUTs meet a concurrent edit (the
version moves on, the PUT gets 409 VersionMismatch); ``conflicts_on_publish`` does the same to the
next N publish requests (an edit saved between a PUT and its publish); ``cma_rate`` is the CMA
requests per second.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from martech.http.retry import parse_retry_after
from martech.sandbox import Emulator
from martech.sandbox.emulator import FixedWindow, json_response

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from martech.connector import ConnectorConfig
    from martech.http import HttpClient

DEFAULT_SPACE = "sp4ce"
MANAGEMENT_TOKEN = "CFPAT-emulator-management"
DELIVERY_TOKEN = "emulator-delivery"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ContentfulEmulator(Emulator):
    """Entries of one space; every environment name is accepted."""

    name: ClassVar[str] = "contentful"

    def __init__(
        self,
        *,
        space: str = DEFAULT_SPACE,
        management_token: str = MANAGEMENT_TOKEN,
        delivery_token: str = DELIVERY_TOKEN,
        cma_rate: int | None = 7,
        locales: tuple[str, ...] = ("en-US",),
        clock: Callable[[], float] = time.monotonic,
        **kw: Any,
    ) -> None:
        self.space = space
        self.management_token = management_token
        self.delivery_token = delivery_token
        self.locales = locales
        self.entries: dict[str, dict[str, Any]] = {}
        self.published: dict[str, dict[str, Any]] = {}
        self.conflicts_on_put = 0
        self.conflicts_on_publish = 0
        self.writes = 0
        self.window = FixedWindow(cma_rate, 1.0, clock) if cma_rate else None
        self._ids = itertools.count(1)
        super().__init__(**kw)

    def disable_limits(self) -> None:
        super().disable_limits()
        self.window = None

    # ----------------------------------------------------------------------- vendor answers

    def fail(self, status: int, error_id: str, message: str, **extra: Any) -> Response:
        body = {"sys": {"type": "Error", "id": error_id}, "message": message,
                "requestId": uuid.uuid4().hex, **extra}  # fmt: skip
        return json_response(body, status)

    def error(self, status: int, message: str) -> Response:
        ids = {
            400: "BadRequest", 401: "AccessTokenInvalid", 403: "AccessDenied", 404: "NotFound",
            409: "VersionMismatch", 422: "ValidationFailed", 429: "RateLimitExceeded",
        }  # fmt: skip
        return self.fail(status, ids.get(status, "ServerError"), message)

    def rate_limited(self, retry_after: str | None = None) -> Response:
        r = self.fail(
            429, "RateLimitExceeded", "You have exceeded the rate limit of the Organization."
        )
        # Seconds on the wire; an injected value (seconds or an HTTP-date) becomes whole seconds.
        seconds = parse_retry_after(retry_after)
        r.headers["X-Contentful-RateLimit-Reset"] = (
            "1" if seconds is None else str(math.ceil(seconds))
        )
        return r

    # ---------------------------------------------------------------------------- routes

    def connection(self, base_url: str) -> dict[str, str]:
        return {
            "base_url": base_url,
            "delivery_url": f"{base_url}/cdn",
            "space_id": self.space,
            "management_token": self.management_token,
            "delivery_token": self.delivery_token,
        }

    def clients(
        self, config: ConnectorConfig, make: Callable[[str], HttpClient]
    ) -> dict[str, HttpClient]:
        """The management API client, and the delivery API's at ``delivery_url``."""
        from .config import ContentfulConfig

        assert isinstance(config, ContentfulConfig)
        return {**super().clients(config, make), "delivery": make(config.delivery_url)}

    def routes(self) -> list[BaseRoute]:
        from starlette.routing import Route

        env = "/spaces/{space}/environments/{env}"
        return [
            Route(f"{env}/entries/{{entry_id}}", self.entry, methods=["GET", "PUT", "DELETE"]),
            Route(f"{env}/entries/{{entry_id}}/published", self.publish, methods=["PUT", "DELETE"]),
            Route(f"/cdn{env}/entries", self.cda_entries, methods=["GET"]),
        ]

    def _check(self, request: Request, token: str, *, limited: bool) -> Response | None:
        if request.path_params.get("space") != self.space:
            return self.fail(404, "NotFound", "The resource could not be found.")
        if request.headers.get("authorization") != f"Bearer {token}":
            return self.fail(
                401,
                "AccessTokenInvalid",
                "The access token you sent could not be found or is invalid.",
            )
        if limited and self.window is not None:
            ok, _remaining, reset = self.window.hit()
            if not ok:
                return self.rate_limited(str(max(1, round(reset))))
        return None

    def _limit_headers(self, response: Response) -> Response:
        if self.window is not None:
            response.headers["X-Contentful-RateLimit-Second-Limit"] = str(self.window.limit)
            response.headers["X-Contentful-RateLimit-Second-Remaining"] = str(
                max(0, self.window.limit - self.window._count)
            )
            response.headers["X-Contentful-RateLimit-Reset"] = "0"
        return response

    async def entry(self, request: Request) -> Response:
        refused = self._check(request, self.management_token, limited=True)
        if refused is not None:
            return refused
        eid = request.path_params["entry_id"]
        with self.lock:
            current = self.entries.get(eid)
        if request.method == "GET":
            if current is None:
                return self.fail(404, "NotFound", "The resource could not be found.")
            return self._limit_headers(json_response(current))
        if request.method == "DELETE":
            with self.lock:
                self.entries.pop(eid, None)
                self.published.pop(eid, None)
            return self._limit_headers(json_response(None, 204))
        body = await self.read_json(request)
        problem = self._validate(body)
        if problem:
            return self.fail(
                422, "ValidationFailed", "Validation error", details={"errors": [problem]}
            )
        sent = request.headers.get("x-contentful-version")
        with self.lock:
            current = self.entries.get(eid)
            if current is None:
                ctype = request.headers.get("x-contentful-content-type")
                if not ctype:
                    return self.fail(
                        422,
                        "ValidationFailed",
                        "Missing X-Contentful-Content-Type header for a new entry",
                    )
                now = _now()
                current = {
                    "metadata": {"tags": []},
                    "sys": {
                        "id": eid, "type": "Entry", "version": 1,
                        "createdAt": now, "updatedAt": now,
                        "space": {"sys": {"type": "Link", "linkType": "Space", "id": self.space}},
                        "contentType": {
                            "sys": {"type": "Link", "linkType": "ContentType", "id": ctype}
                        },
                    },
                    "fields": body["fields"],
                }  # fmt: skip
                self.entries[eid] = current
                self.writes += 1
                return self._limit_headers(json_response(current, 201))
            if self.conflicts_on_put > 0:
                # Someone else saved the entry a moment ago.
                self.conflicts_on_put -= 1
                current["sys"]["version"] += 1
            if sent is None or not sent.isdigit() or int(sent) != current["sys"]["version"]:
                return self.fail(
                    409,
                    "VersionMismatch",
                    "The version number you supplied is invalid or out of date.",
                )
            current["fields"] = body["fields"]
            current["sys"]["version"] += 1
            current["sys"]["updatedAt"] = _now()
            self.writes += 1
            return self._limit_headers(json_response(current))

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            return {"name": "required", "path": ["fields"], "details": "The body needs fields"}
        for name, value in body["fields"].items():
            if not isinstance(value, dict) or not value or set(value) - set(self.locales):
                locales = ", ".join(self.locales)
                return {
                    "name": "unknownLocale",
                    "path": ["fields", name],
                    "details": f"Fields are keyed by locale: {locales}",
                }
        return None

    async def publish(self, request: Request) -> Response:
        refused = self._check(request, self.management_token, limited=True)
        if refused is not None:
            return refused
        eid = request.path_params["entry_id"]
        sent = request.headers.get("x-contentful-version")
        with self.lock:
            current = self.entries.get(eid)
            if current is None:
                return self.fail(404, "NotFound", "The resource could not be found.")
            if self.conflicts_on_publish > 0 and request.method == "PUT":
                # Someone else saved the entry between our save and this publish.
                self.conflicts_on_publish -= 1
                current["sys"]["version"] += 1
            if sent is None or not sent.isdigit() or int(sent) != current["sys"]["version"]:
                return self.fail(
                    409,
                    "VersionMismatch",
                    "The version number you supplied is invalid or out of date.",
                )
            if request.method == "DELETE":  # unpublish: the entry stays, as a draft
                if eid not in self.published:
                    return self.fail(400, "BadRequest", "Not published")
                self.published.pop(eid)
                current["sys"].pop("publishedVersion", None)
                current["sys"].pop("publishedAt", None)
                current["sys"]["version"] += 1
                return self._limit_headers(json_response(current))
            current["sys"]["publishedVersion"] = current["sys"]["version"]
            current["sys"]["version"] += 1
            current["sys"]["publishedAt"] = _now()
            self.published[eid] = copy.deepcopy(current)
            return self._limit_headers(json_response(current))

    async def cda_entries(self, request: Request) -> Response:
        refused = self._check(request, self.delivery_token, limited=False)
        if refused is not None:
            return refused
        q = request.query_params
        try:
            skip = int(q.get("skip", "0"))
            limit = int(q.get("limit", "100"))
        except ValueError:
            return self.fail(400, "InvalidQuery", "skip and limit must be integers")
        if limit > 1000 or limit < 0 or skip < 0:
            return self.fail(
                400,
                "InvalidQuery",
                "The query you sent was invalid: skip >= 0 and 0 <= limit <= 1000",
            )
        locale = q.get("locale", self.locales[0])
        ctype = q.get("content_type")
        filters = {k[len("fields.") :]: v for k, v in q.items() if k.startswith("fields.")}
        with self.lock:
            items = []
            for eid in sorted(self.published):
                e = self.published[eid]
                if ctype and e["sys"]["contentType"]["sys"]["id"] != ctype:
                    continue
                fields = {n: v.get(locale) for n, v in e["fields"].items() if locale in v}
                if any(str(fields.get(k)) != v for k, v in filters.items()):
                    continue
                sys = {
                    k: v for k, v in e["sys"].items() if k not in ("version", "publishedVersion")
                }
                sys["revision"] = e["sys"]["publishedVersion"]
                sys["locale"] = locale
                items.append({"metadata": e["metadata"], "sys": sys, "fields": fields})
        page = items[skip : skip + limit]
        body = {
            "sys": {"type": "Array"},
            "total": len(items),
            "skip": skip,
            "limit": limit,
            "items": page,
        }
        r = json_response(body)
        r.headers["x-contentful-ratelimit-second-limit"] = "55"
        return r

    # ----------------------------------------------------------------------------- helpers

    def bump(self, entry_id: str) -> None:
        """Simulate an edit by someone else: the entry's version moves on."""
        with self.lock:
            self.entries[entry_id]["sys"]["version"] += 1


__all__ = ["DEFAULT_SPACE", "DELIVERY_TOKEN", "MANAGEMENT_TOKEN", "ContentfulEmulator"]
