"""HubSpot CRM connector: pull contacts, push a segment to a MANUAL list.

Pull (``vendor-apis.md`` §1.1-1.2): a full pull pages ``GET /crm/v3/objects/contacts`` with the
``after`` cursor (no 10k cap, the general burst limit); an incremental pull uses
``POST …/contacts/search`` filtered on ``lastmodifieddate >= anchor`` and sorted ascending. Search
cannot page past 10,000 results, so before the cap the connector re-anchors on the last
``lastmodifieddate`` it saw (re-reading the boundary records is harmless: upserts are
idempotent); search also has its own per-second limit, held by a second shared budget.

The pull cursor is opaque JSON the connector understands: ``{"m": "list", "after", "hw"}``
resumes a full pull, ``{"m": "search", "anchor", "after", "hw"}`` an incremental one, and the
last page carries ``{"m": "done", "hw"}``: handing it back starts the next incremental pull at
the high-water mark ``hw`` (minus a small overlap, since search lags writes by seconds [C3]).

Push (§1.4): lists take HubSpot record ids, so members are resolved first — the ``hubspot``
identity when the profile has one (pulled from HubSpot), else by email through
``POST …/contacts/batch/read`` with ``idProperty=email`` (read-only: nothing is created unless
``create_missing`` is set, which upserts by email instead). Unresolvable members are reported as
rejected with the reason. Adds and removes are idempotent at HubSpot (already-members and
non-members are ignored), so a retried batch never duplicates anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import orjson

from martech.connector import AudienceMember, BatchOutcome, Connector, Limits, PullPage
from martech.errors import ConfigError, FatalVendorError, ValidationError
from martech.identity import normalize_email
from martech.models import Capability

from .config import HubSpotConfig
from .mapping import contacts_to_rows, updated_at

if TYPE_CHECKING:
    from martech.http import HttpClient
    from martech.http.budget import Budget

CONTACTS = "/crm/v3/objects/contacts"
LISTS = "/crm/v3/lists"
CONTACT_OBJECT = "0-1"
SEARCH_OVERLAP_MS = 10_000  # search lags writes by a few seconds [C3]: re-read the last 10 s
MEMBERSHIP_PAGE = 250


def _ms(iso: str) -> int:
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise ValidationError(
            f"hubspot: properties.lastmodifieddate: expected an ISO timestamp, got {iso[:40]!r}",
            field="properties.lastmodifieddate",
        ) from None


def _latest(contacts: list[Any]) -> str | None:
    """The latest ``lastmodifieddate`` (ISO, UTC 'Z': they sort as text) of a page, parsed
    once per page rather than once per contact."""
    return max((u for c in contacts if (u := updated_at(c))), default=None)


def encode_cursor(state: dict[str, Any]) -> str:
    return orjson.dumps(state).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The connector's own cursor, or a ConfigError naming what was expected."""
    if cursor is None:
        return None
    try:
        state = orjson.loads(cursor)
    except orjson.JSONDecodeError:
        state = None
    if not isinstance(state, dict) or state.get("m") not in ("list", "search", "done"):
        raise ConfigError(
            f"hubspot: cursor {cursor[:60]!r} is not a HubSpot pull cursor "
            '(expected JSON with "m": list | search | done); drop the checkpoint to pull fully'
        )
    return state


class HubSpotConnector(Connector):
    """HubSpot CRM v3: contacts in, MANUAL lists out."""

    name = "hubspot"
    kind = "crm"
    Config = HubSpotConfig
    #: Free/Starter private apps: 100 requests per rolling 10 s, 250k a day [C]; batch
    #: read inputs are 100 [U]; a few connections in parallel are fine. The list is found by
    #: name (one GET); a batch resolves emails to record ids first (one batch read of up to
    #: 100), unless every member carries its HubSpot record id.
    limits = Limits(
        requests_per_interval=100,
        interval_seconds=10.0,
        concurrency=4,
        batch_count=100,
        daily_quota=250_000,
        add_extra_requests=1,
        remove_extra_requests=1,
        extras_skipped_with="hubspot",
    )
    emulator = "martech_connectors.hubspot.emulator:HubSpotEmulator"
    identity_keys: ClassVar[tuple[str, ...]] = ("hubspot", "email")
    config: HubSpotConfig

    def __init__(self, *, config: Any, http: HttpClient | None = None) -> None:
        super().__init__(config=config, http=http)
        token = self.config.access_token.get_secret_value()
        self._auth = {"Authorization": f"Bearer {token}"}
        self._key = "hubspot#" + hashlib.sha256(token.encode()).hexdigest()[:16]
        self._search_budget: Budget | None = None
        self._lists: dict[str, str] = {}

    def capabilities(self) -> list[Capability]:
        return [
            Capability(
                name="pull_profiles",
                description="Contacts by after-cursor; incremental by lastmodifieddate (search).",
            ),
            Capability(
                name="push_audience",
                inputs=["identities.hubspot", "identities.email"],
                description="MANUAL list membership (Lists v3), members resolved to record ids.",
            ),
        ]

    @property
    def http(self) -> HttpClient:
        """A client with the token, the declared limits and a budget shared per token."""
        if self._http is None:
            from martech.http import HttpClient

            self._http = HttpClient(
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                limits=self.limits.model_copy(
                    update={"requests_per_interval": self.config.requests_per_10s}
                ),
                headers=self._auth,
                vendor="hubspot",
                budget_key=self._key,
            )
        return self._http

    def _search_slot(self) -> Any:
        if self._search_budget is None:
            from martech.http import budget_for

            self._search_budget = budget_for(
                self._key + "#search",
                Limits(requests_per_interval=self.config.search_per_second, concurrency=1),
            )
        return self._search_budget.slot()

    # ---------------------------------------------------------------------------------- pull

    async def pull_profiles(
        self, *, since: datetime | None = None, cursor: str | None = None
    ) -> AsyncIterator[PullPage]:
        """Pages of contacts as Profiles: a full pull unless ``since`` or a cursor says so."""
        state = decode_cursor(cursor)
        if state is None:
            if since is not None:
                ms = int(since.timestamp() * 1000)
                state = {"m": "search", "anchor": ms, "after": 0, "hw": ms}
            else:
                state = {"m": "list", "after": None, "hw": 0}
        elif state["m"] == "done":
            anchor = max(0, int(state["hw"]) - SEARCH_OVERLAP_MS)
            state = {"m": "search", "anchor": anchor, "after": 0, "hw": int(state["hw"])}
        pages = self._pull_list(state) if state["m"] == "list" else self._pull_search(state)
        async with aclosing(pages):  # a caller stopping early also stops any prefetch
            async for page in pages:
                yield page

    async def _pull_list(self, state: dict[str, Any]) -> AsyncGenerator[PullPage, None]:
        from martech.http import CursorPaginator, paginate

        hw = int(state.get("hw") or 0)
        params = {"limit": self.config.page_size, "properties": ",".join(self.config.properties)}
        pages = paginate(
            self.http,
            "GET",
            CONTACTS,
            paginator=CursorPaginator(start=state.get("after")),
            params=params,
            headers=self._auth,
            prefetch=True,  # map this page while HubSpot serves the next
        )
        async with aclosing(pages):
            async for page in pages:
                rows = contacts_to_rows(page.items)  # validates the page before the cursor
                latest = _latest(page.items)
                if latest is not None:
                    hw = max(hw, _ms(latest))
                nxt = (
                    {"m": "list", "after": page.next_token, "hw": hw}
                    if page.next_token is not None
                    else {"m": "done", "hw": hw}
                )
                yield PullPage(rows=rows, cursor=encode_cursor(nxt))

    async def _pull_search(self, state: dict[str, Any]) -> AsyncGenerator[PullPage, None]:
        anchor, after, hw = int(state["anchor"]), int(state["after"]), int(state["hw"])
        size = self.config.search_page_size
        seen: set[tuple[int, int]] = set()
        while True:
            if (anchor, after) in seen:  # pragma: no cover - defensive; see re-anchor below
                raise FatalVendorError(f"hubspot: search revisited anchor {anchor} offset {after}")
            seen.add((anchor, after))
            body = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "lastmodifieddate",
                                "operator": "GTE",
                                "value": str(anchor),
                            }
                        ]
                    }
                ],
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "properties": list(self.config.properties),
                "limit": size,
                "after": str(after),
            }
            async with self._search_slot():
                response = await self.http.post(f"{CONTACTS}/search", json=body, headers=self._auth)
            data = response.data or {}
            results = data.get("results") or []
            if not results:
                return
            rows = contacts_to_rows(results)
            last = updated_at(results[-1])
            last_ms = _ms(last) if last else anchor
            hw = max(hw, last_ms)
            nxt_token = ((data.get("paging") or {}).get("next") or {}).get("after")
            if nxt_token is None:
                yield PullPage(rows=rows, cursor=encode_cursor({"m": "done", "hw": hw}))
                return
            after = int(nxt_token)
            if after + size > self.config.search_cap:
                if last_ms <= anchor:
                    raise FatalVendorError(
                        f"hubspot: more than {self.config.search_cap} contacts share "
                        f"lastmodifieddate {anchor}; the search API cannot page past them — "
                        "run a full pull",
                        vendor="hubspot",
                    )
                anchor, after = last_ms, 0  # re-anchor before the 10,000-result cap
            state = {"m": "search", "anchor": anchor, "after": after, "hw": hw}
            yield PullPage(rows=rows, cursor=encode_cursor(state))

    # ---------------------------------------------------------------------------------- push

    async def ensure_audience(self, audience: str) -> str:
        """The id of the MANUAL contact list called ``audience``, created if missing."""
        if audience in self._lists:
            return self._lists[audience]
        path = f"{LISTS}/object-type-id/{CONTACT_OBJECT}/name/{quote(audience, safe='')}"
        try:
            response = await self.http.get(path, headers=self._auth)
            found = (response.data or {}).get("list") or {}
        except FatalVendorError as exc:
            if exc.status != 404:
                raise
            found = await self._create_list(audience, path)
        if found.get("processingType") not in ("MANUAL", "SNAPSHOT"):
            raise ConfigError(
                f"hubspot: list {audience!r} is {found.get('processingType')}; martech can only "
                "edit MANUAL or SNAPSHOT lists — pick another audience name"
            )
        list_id = str(found["listId"])
        self._lists[audience] = list_id
        return list_id

    async def _create_list(self, audience: str, path: str) -> dict[str, Any]:
        """Create the MANUAL list once: a create whose answer was lost is found by name (posting
        again would be HubSpot's 409 for a name already taken)."""
        from martech.http import create_once

        async def create() -> dict[str, Any]:
            response = await self.http.request(
                "POST",
                LISTS,
                json={"name": audience, "objectTypeId": CONTACT_OBJECT, "processingType": "MANUAL"},
                headers=self._auth,
                idempotent=False,
            )
            return dict((response.data or {}).get("list") or {})

        async def find() -> dict[str, Any] | None:
            try:
                response = await self.http.get(path, headers=self._auth)
            except FatalVendorError as exc:
                if exc.status == 404:
                    return None
                raise
            return dict((response.data or {}).get("list") or {}) or None

        return await create_once(create, find, attempts=self.http.retry.max_attempts)

    async def _resolve(
        self, members: Sequence[AudienceMember], *, create: bool
    ) -> tuple[dict[str, str], dict[str, str], int]:
        """(member key -> record id, unresolved key -> reason, requests sent)."""
        ids: dict[str, str] = {}
        unresolved: dict[str, str] = {}
        by_email: dict[str, list[str]] = {}
        for m in members:
            rid = m.identities.get("hubspot")
            if rid and str(rid).isdigit():
                ids[m.key] = str(rid)
                continue
            email = normalize_email(m.identities.get("email") or "")
            if email:
                by_email.setdefault(email, []).append(m.key)
            else:
                unresolved[m.key] = "no HubSpot record id and no valid email"
        requests = 0
        emails = list(by_email)
        payload: dict[str, Any]
        for start in range(0, len(emails), self.limits.batch_count):
            chunk = emails[start : start + self.limits.batch_count]
            if create:
                path, payload = (
                    f"{CONTACTS}/batch/upsert",
                    {
                        "inputs": [
                            {"idProperty": "email", "id": e, "properties": {"email": e}}
                            for e in chunk
                        ]
                    },
                )
            else:
                path, payload = (
                    f"{CONTACTS}/batch/read",
                    {
                        "idProperty": "email",
                        "inputs": [{"id": e} for e in chunk],
                        "properties": ["email"],
                    },
                )
            response = await self.http.post(path, json=payload, headers=self._auth)
            requests += 1
            for result in (response.data or {}).get("results") or []:
                email = normalize_email((result.get("properties") or {}).get("email") or "")
                for key in by_email.pop(email or "", []):
                    ids[key] = str(result["id"])
        for keys in by_email.values():
            for key in keys:
                unresolved[key] = "no HubSpot contact with this email"
        return ids, unresolved, requests

    async def add_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        """Add one batch to the list; already-members count as accepted (HubSpot ignores them)."""
        ids, rejected, requests = await self._resolve(members, create=self.config.create_missing)
        if not ids:
            return BatchOutcome(accepted=[], rejected=rejected, requests=requests)
        response = await self.http.put(
            f"{LISTS}/{audience_id}/memberships/add",
            json=sorted(set(ids.values()), key=int),
            headers=self._auth,
        )
        # HubSpot answers {"recordsIdsAdded": [...], "recordIdsMissing": [...]} (sic) — see its
        # "add to list" reference; ids already in the list appear in neither.
        missing = set((response.data or {}).get("recordIdsMissing") or [])
        accepted = [key for key, rid in ids.items() if rid not in missing]
        for key, rid in ids.items():
            if rid in missing:
                rejected[key] = f"HubSpot has no contact with record id {rid}"
        return BatchOutcome(accepted=accepted, rejected=rejected, requests=requests + 1)

    async def remove_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        """Remove one batch; members HubSpot does not know are not in the list: a no-op."""
        ids, _, requests = await self._resolve(members, create=False)
        if ids:
            await self.http.put(
                f"{LISTS}/{audience_id}/memberships/remove",
                json=sorted(set(ids.values()), key=int),
                headers=self._auth,
            )
            requests += 1
        return BatchOutcome(accepted=[m.key for m in members], rejected={}, requests=requests)

    def vendor_key(self, member: AudienceMember) -> str:
        """What :meth:`read_members` yields for ``member``: its normalized email, else its
        HubSpot record id (the sync engine reconciles killed runs with it)."""
        email = normalize_email(member.identities.get("email") or "")
        return email or str(member.identities.get("hubspot") or member.key)

    async def read_members(self, audience_id: str) -> AsyncIterator[str]:
        """The list's members, one key each as :meth:`vendor_key` gives it, by record id.

        Lists answer record ids only (``GET …/memberships``, 250 a page), so each page is
        followed by batch reads of the contacts' emails (100 ids a call).
        """
        from martech.http import CursorPaginator, paginate

        pages = paginate(
            self.http,
            "GET",
            f"{LISTS}/{audience_id}/memberships",
            paginator=CursorPaginator(),
            params={"limit": MEMBERSHIP_PAGE},
            headers=self._auth,
        )
        async with aclosing(pages):
            async for page in pages:
                ids = [
                    str(item["recordId"]) if isinstance(item, dict) else str(item)
                    for item in page.items
                ]
                for start in range(0, len(ids), self.limits.batch_count):
                    chunk = ids[start : start + self.limits.batch_count]
                    response = await self.http.post(
                        f"{CONTACTS}/batch/read",
                        json={"inputs": [{"id": i} for i in chunk], "properties": ["email"]},
                        headers=self._auth,
                    )
                    emails = {
                        str(r["id"]): normalize_email(
                            (r.get("properties") or {}).get("email") or ""
                        )
                        for r in (response.data or {}).get("results") or []
                    }
                    for rid in chunk:
                        yield emails.get(rid) or rid


__all__ = ["HubSpotConnector", "decode_cursor", "encode_cursor"]
