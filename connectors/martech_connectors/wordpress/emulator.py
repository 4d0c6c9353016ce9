"""A WordPress REST API emulator (wp/v2 posts and blocks) with application-password auth.

Wire format per ``shared/research/vendor-apis.md`` §4.2: post objects with ``title.rendered`` /
``content.rendered``, ``X-WP-Total`` / ``X-WP-TotalPages`` and a ``Link`` header on lists, 400
``rest_post_invalid_page_number`` past the last page, errors ``{"code", "message", "data":
{"status"}}`` (401 ``rest_not_logged_in`` / ``incorrect_password``).

``kses=True`` saves as for a user without ``unfiltered_html`` (an Author; anyone but a super
admin on multisite): outside tags and comments a bare ``&``, ``<`` or ``>`` in the title, content
or excerpt is stored as an entity (a simplified ``wp_kses``).
"""

from __future__ import annotations

import base64
import itertools
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from martech.sandbox import Emulator
from martech.sandbox.emulator import json_response

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

USERNAME = "editor"
APP_PASSWORD = "abcd EFGH 1234 ijkl MNOP 6789"


class WordPressEmulator(Emulator):
    """One site; posts and reusable blocks share an id sequence, as in WordPress."""

    name: ClassVar[str] = "wordpress"

    def __init__(
        self,
        *,
        username: str = USERNAME,
        app_password: str = APP_PASSWORD,
        kses: bool = False,
        **kw: Any,
    ):
        self.username, self.app_password = username, app_password
        self.kses = kses
        self.items: dict[str, dict[int, dict[str, Any]]] = {"posts": {}, "blocks": {}}
        self._ids = itertools.count(1)
        self.writes = 0
        super().__init__(**kw)

    def error(self, status: int, message: str) -> Response:
        codes = {400: "rest_invalid_param", 401: "rest_not_logged_in", 403: "rest_forbidden",
                 404: "rest_post_invalid_id"}  # fmt: skip
        return self.fail(status, codes.get(status, "internal_server_error"), message)

    def fail(self, status: int, code: str, message: str) -> Response:
        return json_response({"code": code, "message": message, "data": {"status": status}}, status)

    def connection(self, base_url: str) -> dict[str, str]:
        return {
            "base_url": f"{base_url}/wp-json",
            "username": self.username,
            "app_password": self.app_password,
        }

    def routes(self) -> list[BaseRoute]:
        from starlette.routing import Route

        return [
            Route("/wp-json/wp/v2/{kind:str}", self.collection, methods=["GET", "POST"]),
            Route(
                "/wp-json/wp/v2/{kind:str}/{post_id:int}", self.one, methods=["GET", "POST", "PUT"]
            ),
        ]

    def _user(self, request: Request) -> str | Response | None:
        header = request.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        try:
            user, _, password = base64.b64decode(token).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        # WordPress accepts application passwords with or without their spaces.
        if (
            scheme != "Basic"
            or user != self.username
            or password.replace(" ", "") != self.app_password.replace(" ", "")
        ):
            return self.fail(
                401,
                "incorrect_password",
                "The provided password is an invalid application password.",
            )
        return user

    def _kind(self, request: Request) -> dict[int, dict[str, Any]] | None:
        return self.items.get(request.path_params["kind"])

    async def collection(self, request: Request) -> Response:
        items = self._kind(request)
        if items is None:
            return self.fail(
                404, "rest_no_route", "No route was found matching the URL and request method."
            )
        user = self._user(request)
        if not isinstance(user, str | None):
            return user
        if request.method == "POST":
            if user is None:
                return self.fail(
                    401,
                    "rest_cannot_create",
                    "Sorry, you are not allowed to create posts as this user.",
                )
            body = await self.read_json(request) or {}
            with self.lock:
                post_id = next(self._ids)
                items[post_id] = self._post(post_id, request.path_params["kind"], body, {})
                self.writes += 1
                return json_response(items[post_id], 201)
        q = request.query_params
        status = q.get("status", "publish")
        if status != "publish" and user is None:
            return self.fail(400, "rest_invalid_param", "Invalid parameter(s): status")
        try:
            page = int(q.get("page", "1"))
            per_page = int(q.get("per_page", "10"))
        except ValueError:
            return self.fail(400, "rest_invalid_param", "Invalid parameter(s): page")
        if not 1 <= per_page <= 100:
            return self.fail(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        with self.lock:
            rows = [p for _, p in sorted(items.items(), reverse=True)]
        if status != "any":
            rows = [p for p in rows if p["status"] == status]
        if q.get("slug"):
            rows = [p for p in rows if p["slug"] == q["slug"]]
        if q.get("search"):
            rows = [
                p for p in rows if q["search"] in p["slug"] or q["search"] in p["title"]["rendered"]
            ]
        total = len(rows)
        pages = max(1, -(-total // per_page))
        if page > pages and total > 0:
            return self.fail(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        r = json_response(rows[(page - 1) * per_page : page * per_page])
        r.headers["X-WP-Total"] = str(total)
        r.headers["X-WP-TotalPages"] = str(pages)
        links = []
        if page < pages:
            links.append(f'<{request.url.include_query_params(page=page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{request.url.include_query_params(page=page - 1)}>; rel="prev"')
        if links:
            r.headers["Link"] = ", ".join(links)
        return r

    async def one(self, request: Request) -> Response:
        items = self._kind(request)
        user = self._user(request)
        if items is None:
            return self.fail(
                404, "rest_no_route", "No route was found matching the URL and request method."
            )
        if not isinstance(user, str | None):
            return user
        post_id = int(request.path_params["post_id"])
        with self.lock:
            current = items.get(post_id)
        if current is None:
            return self.fail(404, "rest_post_invalid_id", "Invalid post ID.")
        if request.method == "GET":
            return json_response(current)
        if user is None:
            return self.fail(
                401, "rest_cannot_edit", "Sorry, you are not allowed to edit this post."
            )
        body = await self.read_json(request) or {}
        with self.lock:
            items[post_id] = self._post(post_id, request.path_params["kind"], body, current)
            self.writes += 1
            return json_response(items[post_id])

    def _post(
        self, post_id: int, kind: str, body: dict[str, Any], old: dict[str, Any]
    ) -> dict[str, Any]:
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")

        def text(key: str) -> str:
            value = body.get(key)
            if value is None:
                return str(old.get(key, {}).get("raw", ""))
            return _kses(str(value)) if self.kses else str(value)

        title, content, excerpt = text("title"), text("content"), text("excerpt")
        slug = str(body.get("slug") or old.get("slug") or f"post-{post_id}")
        return {
            "id": post_id, "date": old.get("date", now), "date_gmt": old.get("date_gmt", now),
            "guid": {"rendered": f"https://example.test/?p={post_id}"},
            "modified": now, "modified_gmt": now, "slug": slug,
            "status": str(body.get("status") or old.get("status") or "draft"),
            "type": "wp_block" if kind == "blocks" else "post",
            "link": f"https://example.test/{slug}/",
            "title": {"rendered": title, "raw": title},
            "content": {"rendered": content, "raw": content, "protected": False},
            "excerpt": {"rendered": f"<p>{excerpt}</p>\n", "raw": excerpt, "protected": False},
            "author": 1, "featured_media": 0, "comment_status": "open", "ping_status": "open",
            "sticky": False, "template": "", "format": "standard", "meta": {},
            "categories": body.get("categories", old.get("categories", [1])), "tags": [],
        }  # fmt: skip


_MARKUP = re.compile(r"(<!--.*?-->|</?[a-zA-Z][^<>]*>)", re.S)
_BARE_AMP = re.compile(r"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|[a-zA-Z][a-zA-Z0-9]*;)")


def _kses(text: str) -> str:
    """Tags and comments kept; a bare ``&``, ``<``, ``>`` between them stored as an entity."""
    parts = _MARKUP.split(text)
    for i in range(0, len(parts), 2):  # the text between tags
        parts[i] = _BARE_AMP.sub("&amp;", parts[i]).replace("<", "&lt;").replace(">", "&gt;")
    return "".join(parts)


__all__ = ["APP_PASSWORD", "USERNAME", "WordPressEmulator"]
