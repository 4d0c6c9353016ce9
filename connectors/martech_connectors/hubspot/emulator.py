"""A HubSpot CRM v3 emulator speaking HubSpot's wire format for the endpoints martech uses.

Shapes and limits follow ``shared/research/vendor-apis.md`` §1: contacts list with ``after``
cursor and ``paging.next.after``; search with filterGroups/sorts, ``total``, body ``after`` and
the 10,000-result cap; batch read/upsert by ``idProperty``; Lists v3 with ``PUT`` membership
add/remove taking bare id arrays and answering ``recordsIdsAdded`` (sic); the
``TEN_SECONDLY_ROLLING`` burst limit (100 or 190 per 10 s) with ``X-HubSpot-RateLimit-*`` headers
and the documented 429 body; the error body ``{status, message, correlationId, category}``.
Marked [U] below: details the research could not confirm, kept plausible and configurable.
"""

from __future__ import annotations

import bisect
import itertools
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from martech.sandbox import Emulator, Faults, RollingWindow, json_response

CONTACTS = "/crm/v3/objects/contacts"
LISTS = "/crm/v3/lists"
MAX_PAGE = 100  # GET contacts `limit` [C3]
MAX_SEARCH_PAGE = 200  # [U]
SEARCH_CAP = 10_000  # [C3]
MAX_BATCH = 100  # batch read/upsert inputs [U, treated as 100]
MAX_MEMBERSHIP_PAGE = 250  # [C]
DEFAULT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
DATE_PROPERTIES = frozenset({"createdate", "lastmodifieddate"})
FIRST_ID = 1001
BASE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z

Handler = Callable[[Request], Awaitable[Response]]


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as HubSpot writes timestamps: ``2024-01-10T08:30:15.234Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}Z"
    )


def parse_ms(value: Any) -> int | None:
    """A filter value for a date property: epoch ms (HubSpot's form) or an ISO timestamp."""
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


class HubSpotEmulator(Emulator):
    """In-memory HubSpot portal: contacts, MANUAL lists, rate limits, faults, counters."""

    name = "hubspot"

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        burst_limit: int | None = 100,
        search_per_second: int | None = 5,
        token: str | None = None,
        search_cap: int = SEARCH_CAP,
    ) -> None:
        self.burst_limit = burst_limit
        self.search_cap = search_cap
        self.window = RollingWindow(burst_limit, 10.0) if burst_limit else None
        self.search_window = RollingWindow(search_per_second, 1.0) if search_per_second else None
        self.token = token
        self.contacts: dict[int, dict[str, Any]] = {}
        self._ids: list[int] = []
        self._modified: dict[int, int] = {}
        self._by_email: dict[str, int] = {}
        self._next_id = FIRST_ID
        self._next_list = 1
        self._clock_ms = BASE_MS
        self.lists: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[int, str]] = {}  # listId -> record id -> timestamp
        self.adds = 0  # ids sent to memberships/add
        self.duplicate_adds = 0  # of which were already members
        self.removes = 0
        self._pages: dict[tuple[Any, ...], bytes] = {}
        super().__init__(faults=faults)

    # -------------------------------------------------------------------------------- state

    def _now_ms(self) -> int:
        # Strictly increasing, so lastmodifieddate orders writes even within one millisecond.
        self._clock_ms = max(self._clock_ms + 1, int(datetime.now(UTC).timestamp() * 1000))
        return self._clock_ms

    def add_contacts(
        self, properties: Iterable[Mapping[str, Any]], *, modified_ms: Iterable[int] | None = None
    ) -> list[str]:
        """Create contacts from property maps (values become strings); return their ids."""
        stamps = iter(modified_ms) if modified_ms is not None else None
        created: list[str] = []
        with self.lock:
            for props in properties:
                cid = self._next_id
                self._next_id += 1
                ms = next(stamps) if stamps is not None else self._now_ms()
                self._store(
                    cid, {k: _string(v) for k, v in props.items() if v is not None}, ms, created=ms
                )
                created.append(str(cid))
            self._pages.clear()
        return created

    def _store(
        self, cid: int, props: dict[str, str], ms: int, *, created: int | None = None
    ) -> None:
        old = self.contacts.get(cid)
        if old is None:
            if self._ids and cid < self._ids[-1]:
                bisect.insort(self._ids, cid)
            else:
                self._ids.append(cid)
            created_iso = iso_ms(created if created is not None else ms)
            merged = dict(props)
        else:
            created_iso = old["createdAt"]
            merged = {**old["properties"], **props}
            email = old["properties"].get("email")
            if email and merged.get("email") != email:
                self._by_email.pop(email.lower(), None)
        updated = iso_ms(ms)
        merged.update(hs_object_id=str(cid), createdate=created_iso, lastmodifieddate=updated)
        self.contacts[cid] = {
            "id": str(cid),
            "properties": merged,
            "createdAt": created_iso,
            "updatedAt": updated,
            "archived": False,
        }
        self._modified[cid] = ms
        if merged.get("email"):
            self._by_email[merged["email"].lower()] = cid

    def update_contact(self, record_id: str, properties: Mapping[str, Any]) -> None:
        """Change a contact as a HubSpot user would; bumps ``lastmodifieddate``."""
        with self.lock:
            self._store(
                int(record_id), {k: _string(v) for k, v in properties.items()}, self._now_ms()
            )
            self._pages.clear()

    def contact_id(self, email: str) -> str | None:
        cid = self._by_email.get(email.lower())
        return None if cid is None else str(cid)

    def seed_data(self, records: int, seed: int = 0) -> None:
        """``records`` contacts from martech's synthetic population (same traits and consent)."""
        from martech.population import generate

        flat = generate(records, seed=seed, as_of=datetime(2025, 1, 1, tzinfo=UTC)).flat
        rows = flat.to_pylist()
        props = []
        for row in rows:
            p = {
                "martech_id": row.pop("id"),
                "firstname": row.pop("first_name"),
                "lastname": row.pop("last_name"),
            }
            for column in [c for c in row if c.startswith("consent_")]:
                p[column] = row.pop(column)  # consent_<channel>, martech's channel names
            p.update(row)
            props.append(p)
        # Spread modification times one second apart, oldest first, like an aged portal.
        self.add_contacts(props, modified_ms=(BASE_MS + i * 1000 for i in range(len(props))))

    def disable_limits(self) -> None:
        super().disable_limits()
        self.burst_limit = None
        self.window = self.search_window = None

    def list_members(self, list_id: str) -> set[str]:
        return {str(r) for r in self.members.get(list_id, {})}

    # ----------------------------------------------------------------------- vendor answers

    def _headers(self, remaining: int | None) -> dict[str, str]:
        if self.burst_limit is None:
            return {}
        return {
            "X-HubSpot-RateLimit-Max": str(self.burst_limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining if remaining is not None else 0),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": "250000",
            "X-HubSpot-RateLimit-Daily-Remaining": "249000",
        }

    def rate_limited(
        self,
        retry_after: str | None = None,
        policy: str = "TEN_SECONDLY_ROLLING",
        remaining: int = 0,
    ) -> Response:
        """HubSpot's 429 body [C3]; Retry-After only when a fault asks for one [U].

        ``remaining`` is the burst window's: 0 when the burst limit refused, what is left of it
        when another policy (the search limit) did, so a client can tell the two apart.
        """
        headers = self._headers(remaining)
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit."
            if policy == "TEN_SECONDLY_ROLLING"
            else "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        }
        return json_response(body, 429, headers)

    def error(
        self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra: Any
    ) -> Response:
        """HubSpot's error body [C: hubspot-api-python ``Error`` model]."""
        if status >= 500:
            category = "INTERNAL_ERROR"
        body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }
        return json_response(body, status)

    def _limited(self, handler: Handler, *, search: bool = False) -> Handler:
        async def endpoint(request: Request) -> Response:
            auth = request.headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token or (self.token and token != self.token):
                return self.error(
                    401,
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at https://developers.hubspot.com",
                    "INVALID_AUTHENTICATION",
                )
            remaining = None
            if self.window is not None:
                allowed, remaining, _ = self.window.hit()
                if not allowed:
                    return self.rate_limited(None)
            if search and self.search_window is not None:
                allowed, _, _ = self.search_window.hit()
                if not allowed:
                    # [U] policy name
                    return self.rate_limited(None, policy="SECONDLY", remaining=remaining or 0)
            response = await handler(request)
            response.headers.update(self._headers(remaining))
            return response

        return endpoint

    def connection(self, base_url: str) -> dict[str, str]:
        return {"base_url": base_url, "access_token": self.token or "pat-na1-sandbox-token"}

    def routes(self) -> list[BaseRoute]:
        lim = self._limited
        return [
            Route(CONTACTS, lim(self._list_contacts), methods=["GET"]),
            Route(f"{CONTACTS}/search", lim(self._search, search=True), methods=["POST"]),
            Route(f"{CONTACTS}/batch/read", lim(self._batch_read), methods=["POST"]),
            Route(f"{CONTACTS}/batch/upsert", lim(self._batch_upsert), methods=["POST"]),
            Route(LISTS, lim(self._create_list), methods=["POST"]),
            Route(
                LISTS + "/object-type-id/{otype}/name/{name}",
                lim(self._list_by_name),
                methods=["GET"],
            ),
            Route(LISTS + "/{list_id}", lim(self._get_list), methods=["GET"]),
            Route(LISTS + "/{list_id}/memberships/add", lim(self._add), methods=["PUT"]),
            Route(LISTS + "/{list_id}/memberships/remove", lim(self._remove), methods=["PUT"]),
            Route(LISTS + "/{list_id}/memberships", lim(self._memberships), methods=["GET"]),
        ]

    # ----------------------------------------------------------------------------- contacts

    def _render(self, cid: int, props: tuple[str, ...]) -> dict[str, Any]:
        contact = self.contacts[cid]
        have = contact["properties"]
        return {
            "id": contact["id"],
            "properties": {p: have.get(p) for p in props},
            "createdAt": contact["createdAt"],
            "updatedAt": contact["updatedAt"],
            "archived": False,
        }

    def _properties(self, raw: Any) -> tuple[str, ...]:
        if not raw:
            return DEFAULT_PROPERTIES
        if isinstance(raw, str):
            raw = raw.split(",")
        return tuple(dict.fromkeys(p.strip() for p in raw if p and p.strip()))

    async def _list_contacts(self, request: Request) -> Response:
        q = request.query_params
        try:
            limit = int(q.get("limit", "10"))
        except ValueError:
            return self.error(400, "limit must be an integer")
        if not 1 <= limit <= MAX_PAGE:
            return self.error(400, f"limit must be between 1 and {MAX_PAGE}")  # [U] clamp or 400
        raw_after = q.get("after") or "0"
        if not raw_after.isdigit():
            return self.error(400, f"Invalid after token: {raw_after}")
        props = self._properties(q.getlist("properties") and ",".join(q.getlist("properties")))
        key = (raw_after, limit, props, self.faults.pages)
        body = self._pages.get(key)
        if body is None:
            body = self._contacts_page(int(raw_after), raw_after, limit, props, request)
            with self.lock:
                self._pages[key] = body
        return json_response(body)

    def _contacts_page(
        self, after: int, raw_after: str, limit: int, props: tuple[str, ...], request: Request
    ) -> bytes:
        with self.lock:
            start = bisect.bisect_left(self._ids, after)
            chunk = self._ids[start : start + limit]
            results = [self._render(cid, props) for cid in chunk]
            nxt = self._ids[start + limit] if start + limit < len(self._ids) else None
            pages = self.faults.pages if self.fault_state.applies(CONTACTS) else "normal"
            if pages == "loop" and nxt is None and self._ids:
                nxt = self._ids[0]  # the last page points back to the first
            token = None if nxt is None else str(nxt)
            if pages == "duplicate" and start == limit and raw_after == str(after):
                token = "0" + raw_after  # page 2 again, under a different-looking cursor
        body: dict[str, Any] = {"results": results}
        if token is not None:
            link = str(request.url.replace(query=f"limit={limit}&after={token}"))
            body["paging"] = {"next": {"after": token, "link": link}}
        return orjson.dumps(body)

    def _matches(self, cid: int, flt: Mapping[str, Any]) -> bool:
        name, op = flt.get("propertyName"), flt.get("operator", "EQ")
        props = self.contacts[cid]["properties"]
        if op == "HAS_PROPERTY":
            return bool(props.get(name))
        if op == "NOT_HAS_PROPERTY":
            return not props.get(name)
        have: Any = props.get(name)
        if name in DATE_PROPERTIES:
            have = self._modified[cid] if name == "lastmodifieddate" else parse_ms(have)
            conv: Callable[[Any], Any] = parse_ms
        else:
            conv = str
        if have is None:
            return False
        if op == "IN":
            return any(have == conv(v) for v in flt.get("values", []))
        value = conv(flt.get("value"))
        if value is None:
            return False
        if op == "BETWEEN":
            high = conv(flt.get("highValue"))
            return high is not None and value <= have <= high
        if name == "email" and op == "EQ":
            return str(have).lower() == str(value).lower()
        ops: dict[str, Callable[[Any, Any], bool]] = {
            "EQ": lambda a, b: a == b,
            "NEQ": lambda a, b: a != b,
            "LT": lambda a, b: a < b,
            "LTE": lambda a, b: a <= b,
            "GT": lambda a, b: a > b,
            "GTE": lambda a, b: a >= b,
        }
        fn = ops.get(str(op))
        return bool(fn and fn(have, value))

    async def _search(self, request: Request) -> Response:
        body = await self.read_json(request) or {}
        limit = int(body.get("limit") or 10)
        if not 1 <= limit <= MAX_SEARCH_PAGE:
            return self.error(400, f"limit must be between 1 and {MAX_SEARCH_PAGE}")
        after = int(body.get("after") or 0)
        if after + limit > self.search_cap:
            # [C3] past 10,000 results the search API answers 400; wording [U]
            return self.error(400, f"The search API can return at most {self.search_cap} results")
        groups = body.get("filterGroups") or []
        with self.lock:
            ids = [
                cid
                for cid in self._ids
                if not groups
                or any(all(self._matches(cid, f) for f in g.get("filters", [])) for g in groups)
            ]
            sorts = body.get("sorts") or []
            if sorts:
                sort = sorts[0]
                name = sort if isinstance(sort, str) else sort.get("propertyName")
                desc = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"
                if name == "lastmodifieddate":
                    ids.sort(key=lambda c: (self._modified[c], c), reverse=desc)
                else:
                    ids.sort(
                        key=lambda c: (self.contacts[c]["properties"].get(name) or "", c),
                        reverse=desc,
                    )
            props = self._properties(body.get("properties"))
            results = [self._render(cid, props) for cid in ids[after : after + limit]]
        out: dict[str, Any] = {"total": len(ids), "results": results}
        if after + limit < len(ids):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return json_response(out)

    def _inputs(self, body: Any) -> list[Any] | Response:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            return self.error(400, "Invalid input JSON: 'inputs' is required")
        if len(inputs) > MAX_BATCH:
            return self.error(400, f"Batch size of {len(inputs)} exceeds the limit of {MAX_BATCH}")
        return inputs

    async def _batch_read(self, request: Request) -> Response:
        body = await self.read_json(request)
        inputs = self._inputs(body)
        if isinstance(inputs, Response):
            return inputs
        id_property = body.get("idProperty") or "hs_object_id"
        props = self._properties(body.get("properties"))
        results, missing = [], []
        with self.lock:
            for item in inputs:
                key = str(item.get("id", ""))
                if id_property == "email":
                    cid = self._by_email.get(key.lower())
                else:
                    cid = int(key) if key.isdigit() and int(key) in self.contacts else None
                if cid is None:
                    missing.append(key)
                else:
                    results.append(self._render(cid, props))
        now = iso_ms(self._now_ms())
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        if not missing:
            return json_response(out)
        # [U] the multi-status shape for ids that do not exist
        out["numErrors"] = 1
        out["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                "context": {"ids": missing},
            }
        ]
        return json_response(out, 207)

    async def _batch_upsert(self, request: Request) -> Response:
        body = await self.read_json(request)
        inputs = self._inputs(body)
        if isinstance(inputs, Response):
            return inputs
        results = []
        with self.lock:
            for item in inputs:
                if item.get("idProperty", "email") != "email":
                    return self.error(400, "Only idProperty=email is emulated")
                email = str(item.get("id", ""))
                props = {k: _string(v) for k, v in (item.get("properties") or {}).items()}
                props["email"] = email
                cid = self._by_email.get(email.lower())
                new = cid is None
                if cid is None:
                    cid = self._next_id
                    self._next_id += 1
                self._store(cid, props, self._now_ms())
                results.append({**self._render(cid, tuple(props)), "new": new})
            self._pages.clear()
        now = iso_ms(self._now_ms())
        return json_response(
            {
                "status": "COMPLETE",
                "results": results,
                "requestedAt": now,
                "startedAt": now,
                "completedAt": now,
                "numErrors": 0,
                "errors": [],
                "links": {},
            }
        )

    # -------------------------------------------------------------------------------- lists

    def _list_body(self, lst: Mapping[str, Any]) -> dict[str, Any]:
        return {"list": {**lst, "size": len(self.members.get(lst["listId"], {}))}}

    async def _create_list(self, request: Request) -> Response:
        body = await self.read_json(request) or {}
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return self.error(400, "name is required")
        if body.get("processingType") not in ("MANUAL", "DYNAMIC", "SNAPSHOT"):
            return self.error(400, "processingType must be one of MANUAL, DYNAMIC, SNAPSHOT")
        with self.lock:
            if any(lst["name"] == name for lst in self.lists.values()):
                return self.error(409, f"A list named {name!r} already exists", "CONFLICT")  # [U]
            list_id = str(self._next_list)
            self._next_list += 1
            lst = {
                "listId": list_id,
                "listVersion": 1,
                "name": name,
                "objectTypeId": body.get("objectTypeId", "0-1"),
                "processingType": body["processingType"],
                "processingStatus": "COMPLETE",
                "createdAt": iso_ms(self._now_ms()),
                "createdById": "1",
            }
            self.lists[list_id] = lst
            self.members[list_id] = {}
        return json_response(self._list_body(lst))

    async def _list_by_name(self, request: Request) -> Response:
        name = request.path_params["name"]
        otype = request.path_params["otype"]
        for lst in self.lists.values():
            if lst["name"] == name and lst["objectTypeId"] == otype:
                return json_response(self._list_body(lst))
        return self.error(404, f"List does not exist with name {name}", "OBJECT_NOT_FOUND")

    def _find(self, request: Request) -> dict[str, Any] | Response:
        lst = self.lists.get(request.path_params["list_id"])
        if lst is None:
            return self.error(404, "List does not exist", "OBJECT_NOT_FOUND")
        return lst

    async def _get_list(self, request: Request) -> Response:
        lst = self._find(request)
        return lst if isinstance(lst, Response) else json_response(self._list_body(lst))

    async def _membership_ids(self, request: Request) -> list[int] | Response:
        body = await self.read_json(request)
        # A bare JSON array of record ids; strings in current docs, ints in older SDKs [C].
        if not isinstance(body, list) or not all(isinstance(x, str | int) for x in body):
            return self.error(400, "Request body must be a JSON array of record ids")
        out = []
        for x in body:
            text = str(x)
            if not text.isdigit():
                return self.error(400, f"Invalid record id: {text[:40]}")
            out.append(int(text))
        return out

    async def _add(self, request: Request) -> Response:
        lst = self._find(request)
        if isinstance(lst, Response):
            return lst
        if lst["processingType"] == "DYNAMIC":
            return self.error(400, "Memberships of DYNAMIC lists cannot be edited manually")
        ids = await self._membership_ids(request)
        if isinstance(ids, Response):
            return ids
        added, missing = [], []
        with self.lock:
            members = self.members[lst["listId"]]
            now = iso_ms(self._now_ms())
            for rid in ids:
                self.adds += 1
                if rid not in self.contacts or self.fault_state.reject():
                    missing.append(str(rid))  # a refused item looks like an unknown id
                elif rid in members:
                    self.duplicate_adds += 1  # ignored by HubSpot, counted here
                else:
                    members[rid] = now
                    added.append(str(rid))
        # HubSpot answers {"recordsIdsAdded": [...]} (sic) — see its "add to list" reference
        return json_response(
            {"recordsIdsAdded": added, "recordIdsRemoved": [], "recordIdsMissing": missing}
        )

    async def _remove(self, request: Request) -> Response:
        lst = self._find(request)
        if isinstance(lst, Response):
            return lst
        if lst["processingType"] == "DYNAMIC":
            return self.error(400, "Memberships of DYNAMIC lists cannot be edited manually")
        ids = await self._membership_ids(request)
        if isinstance(ids, Response):
            return ids
        removed, missing = [], []
        with self.lock:
            members = self.members[lst["listId"]]
            for rid in ids:
                if rid not in self.contacts:
                    missing.append(str(rid))
                elif members.pop(rid, None) is not None:
                    self.removes += 1
                    removed.append(str(rid))
        return json_response(
            {"recordsIdsAdded": [], "recordIdsRemoved": removed, "recordIdsMissing": missing}
        )

    async def _memberships(self, request: Request) -> Response:
        lst = self._find(request)
        if isinstance(lst, Response):
            return lst
        q = request.query_params
        limit = int(q.get("limit", "100"))
        if not 1 <= limit <= MAX_MEMBERSHIP_PAGE:
            return self.error(400, f"limit must be between 1 and {MAX_MEMBERSHIP_PAGE}")
        after = int(q.get("after") or 0)
        with self.lock:
            ordered = sorted(self.members[lst["listId"]].items())
        page = list(itertools.islice((m for m in ordered if m[0] > after), limit + 1))
        out: dict[str, Any] = {
            "results": [{"recordId": str(r), "membershipTimestamp": ts} for r, ts in page[:limit]]
        }
        if len(page) > limit:
            out["paging"] = {"next": {"after": str(page[limit - 1][0])}}
        return json_response(out)


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["HubSpotEmulator", "iso_ms", "parse_ms"]
