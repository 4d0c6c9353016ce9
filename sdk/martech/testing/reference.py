"""A reference audience connector and its emulator: the smallest thing that passes the kit.

The "reference" vendor speaks a deliberately plain wire format (JSON over HTTP, bearer token):

- ``GET /v1/audiences?name=N`` -> ``{"audiences": [{"id", "name"}]}``; ``POST /v1/audiences``
  ``{"name"}`` -> 201 ``{"id", "name"}``;
- ``POST /v1/audiences/{id}/add`` ``{"members": [{"email", "traits"}]}`` -> ``{"added": n,
  "errors": [{"email", "reason"}]}`` (per-item refusals; with ``strict_batches`` a batch holding
  one bad address is refused whole with 400, which is what bisecting is for);
- ``POST /v1/audiences/{id}/remove`` ``{"emails": [...]}`` -> ``{"removed": n}`` (a non-member is
  ignored);
- ``GET /v1/audiences/{id}/members?cursor=C&limit=L`` -> ``{"members": [...], "next": C2}``.

The sync engine tests, the conformance kit's own tests and ``martech new connector``'s template
all build on it. It is not registered as a plugin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from pydantic import Field, SecretStr

from ..connector import AudienceMember, BatchOutcome, Connector, ConnectorConfig, Limits
from ..http import create_once
from ..identity import normalize_email
from ..models import Capability
from ..sandbox import Emulator, json_response

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from ..http import HttpClient


class WorkedExample(NamedTuple):
    """A platform's documented normalization/hash example: ``func(given) == expected``."""

    name: str
    func: Any
    given: Any
    expected: Any


def reference_key(email: str) -> str:
    """The reference vendor's member key: the trimmed, lowercased email."""
    return email.strip().lower()


def _email(member: AudienceMember) -> str:
    return reference_key(member.identities["email"])


class ReferenceConfig(ConnectorConfig, frozen=True):
    api_key: SecretStr = Field(description="Bearer token.")


class ReferenceConnector(Connector):
    """Pushes audiences to the reference vendor, matching members on email."""

    name = "reference"
    kind = "esp"
    Config = ReferenceConfig
    #: What the vendor allows, and what a sync costs besides one request per batch (the
    #: planner counts it): ``audience_requests`` to find the audience by name (the default, 1;
    #: one more to create it), and per batch ``add_extra_requests`` / ``remove_extra_requests``
    #: when a call needs others first, e.g. resolving emails to the vendor's ids (default 0).
    limits = Limits(concurrency=4, batch_count=100, batch_bytes=100_000, audience_requests=1)
    emulator = "martech.testing.reference:ReferenceEmulator"
    identity_keys = ("email",)
    page_size: ClassVar[int] = 100

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from ..http import HttpClient

            assert isinstance(self.config, ReferenceConfig)
            self._http = HttpClient(
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                limits=self.limits,
                headers={"Authorization": f"Bearer {self.config.api_key.get_secret_value()}"},
                vendor=self.name,
            )
        return self._http

    def capabilities(self) -> list[Capability]:
        return [Capability(name="push_audience", description="Static audiences keyed by email.")]

    @classmethod
    def worked_examples(cls) -> list[WorkedExample]:
        given, expected = "  Jane.Doe@Example.COM ", "jane.doe@example.com"
        return [WorkedExample("member key", reference_key, given, expected)]

    def vendor_key(self, member: AudienceMember) -> str:
        """What :meth:`read_members` yields for ``member``."""
        return _email(member)

    async def ensure_audience(self, audience: str) -> str:
        found = await self._find_audience(audience)
        if found is not None:
            return found

        async def create() -> str:
            # not idempotent: after a lost answer, create_once looks before creating again
            body = {"name": audience}
            created = await self.http.request("POST", "/v1/audiences", json=body, idempotent=False)
            return str(created.data["id"])

        return await create_once(
            create, lambda: self._find_audience(audience), attempts=self.http.retry.max_attempts
        )

    async def _find_audience(self, audience: str) -> str | None:
        found = await self.http.get("/v1/audiences", params={"name": audience})
        for row in found.data.get("audiences", []):
            if row["name"] == audience:
                return str(row["id"])
        return None

    async def add_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        by_email = {_email(m): m.key for m in members}
        body = [{"email": _email(m), "traits": m.traits} for m in members]
        r = await self.http.post(f"/v1/audiences/{audience_id}/add", json={"members": body})
        rejected = {by_email[e["email"]]: e["reason"] for e in r.data.get("errors", [])}
        accepted = [m.key for m in members if m.key not in rejected]
        return BatchOutcome(accepted=accepted, rejected=rejected)

    async def remove_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        emails = [_email(m) for m in members]
        await self.http.post(f"/v1/audiences/{audience_id}/remove", json={"emails": emails})
        return BatchOutcome(accepted=[m.key for m in members])

    async def read_members(self, audience_id: str) -> AsyncIterator[str]:
        from ..http import CursorPaginator, paginate

        pages = paginate(
            self.http,
            "GET",
            f"/v1/audiences/{audience_id}/members",
            paginator=CursorPaginator(cursor_path=("next",), param="cursor"),
            items_path=("members",),
            params={"limit": self.page_size},
        )
        async for page in pages:
            for email in page.items:
                yield email


class ReferenceEmulator(Emulator):
    """The reference vendor in memory. Counts adds and *duplicate* adds (already members)."""

    name = "reference"

    def __init__(self, *, strict_batches: bool = False, **kw: Any) -> None:
        self.audiences: dict[str, dict[str, Any]] = {}
        self.adds = 0
        self.duplicate_adds = 0
        self.removes = 0
        self.strict_batches = strict_batches
        super().__init__(**kw)

    def members(self, audience_name: str) -> set[str]:
        """The emails in the audience called ``audience_name`` (empty if there is none)."""
        for aud in self.audiences.values():
            if aud["name"] == audience_name:
                return set(aud["members"])
        return set()

    def connection(self, base_url: str) -> dict[str, str]:
        """Settings that reach this emulator (it takes any bearer token)."""
        return {"base_url": base_url, "api_key": "reference-sandbox-token"}

    def routes(self) -> list[BaseRoute]:
        from starlette.routing import Route

        return [
            Route("/v1/audiences", self._audiences, methods=["GET", "POST"]),
            Route("/v1/audiences/{aid}/add", self._add, methods=["POST"]),
            Route("/v1/audiences/{aid}/remove", self._remove, methods=["POST"]),
            Route("/v1/audiences/{aid}/members", self._members, methods=["GET"]),
        ]

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "").startswith("Bearer ")

    async def _audiences(self, request: Request) -> Response:
        if not self._authorized(request):
            return self.error(401, "missing bearer token")
        if request.method == "GET":
            name = request.query_params.get("name")
            rows = [
                {"id": aid, "name": a["name"]}
                for aid, a in self.audiences.items()
                if name is None or a["name"] == name
            ]
            return json_response({"audiences": rows})
        body = await self.read_json(request) or {}
        if not isinstance(body.get("name"), str):
            return self.error(400, "name: expected a string")
        with self.lock:
            aid = str(len(self.audiences) + 1)
            self.audiences[aid] = {"name": body["name"], "members": {}}
        return json_response({"id": aid, "name": body["name"]}, 201)

    async def _add(self, request: Request) -> Response:
        aud = self.audiences.get(request.path_params["aid"])
        if aud is None:
            return self.error(404, "no such audience")
        body = await self.read_json(request) or {}
        members = body.get("members")
        if not isinstance(members, list):
            return self.error(400, "members: expected a list")
        bad = [m.get("email", "") for m in members if not normalize_email(m.get("email") or "")]
        if self.strict_batches and bad:
            return self.error(400, "the batch holds an invalid email address")
        errors = [{"email": e, "reason": "invalid email address"} for e in bad]
        with self.lock:
            for m in members:
                email = m.get("email", "")
                if email in bad:
                    continue
                if self.fault_state.reject():
                    errors.append({"email": email, "reason": "refused by policy"})
                    continue
                if email in aud["members"]:
                    self.duplicate_adds += 1
                else:
                    self.adds += 1
                aud["members"][email] = m.get("traits") or {}
        return json_response({"added": len(members) - len(errors), "errors": errors})

    async def _remove(self, request: Request) -> Response:
        aud = self.audiences.get(request.path_params["aid"])
        if aud is None:
            return self.error(404, "no such audience")
        body = await self.read_json(request) or {}
        removed = 0
        with self.lock:
            for email in body.get("emails") or []:
                if aud["members"].pop(email, None) is not None:
                    removed += 1
            self.removes += removed
        return json_response({"removed": removed})

    async def _members(self, request: Request) -> Response:
        aud = self.audiences.get(request.path_params["aid"])
        if aud is None:
            return self.error(404, "no such audience")
        emails = sorted(aud["members"])
        start = int(request.query_params.get("cursor") or 0)
        limit = int(request.query_params.get("limit") or 100)
        page = emails[start : start + limit]
        nxt: str | None = str(start + limit) if start + limit < len(emails) else None
        if self.faults.pages == "loop":
            nxt = "0" if start else str(limit)  # page 2 points back to page 1
        return json_response({"members": page, "next": nxt})


__all__ = [
    "ReferenceConfig",
    "ReferenceConnector",
    "ReferenceEmulator",
    "WorkedExample",
    "reference_key",
]
