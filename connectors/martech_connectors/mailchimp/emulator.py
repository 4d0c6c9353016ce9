"""A Mailchimp Marketing API v3 emulator: lists, members, static segments, on the real wire format.

What it speaks (``shared/research/vendor-apis.md`` §2.1), under ``/3.0`` and at the root:

* ``GET /lists/{id}/members`` — ``count`` (max 1000) / ``offset`` paging with ``total_items``,
  ``status``, ``since_last_changed``, ``fields`` / ``exclude_fields``;
* ``GET|PUT /lists/{id}/members/{subscriber_hash}``;
* ``POST /lists/{id}`` — batch subscribe, at most 500 members, per-item ``errors``;
* ``GET|POST /lists/{id}/merge-fields`` — the audience's fields (FNAME, LNAME, ADDRESS, PHONE
  exist from the start, as on a new audience); a tag is at most 10 characters of A-Z, 0-9 and
  ``_`` (uppercased on the way in), a duplicate tag is a 400;
* ``GET|POST /lists/{id}/segments``, ``GET|POST /lists/{id}/segments/{seg}`` (``members_to_add``
  / ``members_to_remove``, at most 500 each), ``GET /lists/{id}/segments/{seg}/members``.

Errors are ``application/problem+json`` (type, title, status, detail, instance). At most 10
requests in flight (Mailchimp's simultaneous-connection cap): the 11th gets a 429 without
Retry-After, as the real API does. Per-item refusals: malformed addresses, addresses that "look
fake" (``fake_domains``), people in a compliance state (unsubscribed or cleaned) being
re-subscribed, merge fields whose tag the audience does not have (``unknown_merge_fields=
"reject"``, the default: either way Mailchimp stores no value for such a tag, and refusing it
catches a connector that forgot to create its fields; ``"ignore"`` drops them silently), text
values over 255 characters, and ``Faults.reject_rate``. Counters: ``segment_adds`` (effective
adds), ``duplicate_adds`` (an add of someone already in the segment), ``merge_fields_created``.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache, wraps
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from martech.sandbox import Emulator, Faults, json_response

from .mapping import STATUSES, parse_time, subscriber_hash

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

DEFAULT_LIST_ID = "5e1a0b2c3d"
DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef-us21"
MAX_COUNT = 1000
MAX_BATCH = 500
ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,.]+$")
#: Member keys a partial response can build straight from the stored member.
_STORED_KEYS = frozenset({"email_address", "status", "last_changed"})
#: A member's wire keys, each from (list id, subscriber hash, stored member): a partial response
#: (``fields=members.x,…``) builds only the keys it names.
_WIRE: dict[str, Callable[[str, str, dict[str, Any]], Any]] = {
    "id": lambda lid, h, m: h,
    "email_address": lambda lid, h, m: m["email_address"],
    "unique_email_id": lambda lid, h, m: h[:10],
    "email_type": lambda lid, h, m: "html",
    "status": lambda lid, h, m: m["status"],
    "merge_fields": lambda lid, h, m: m["merge_fields"],
    "interests": lambda lid, h, m: {},
    "stats": lambda lid, h, m: {"avg_open_rate": 0, "avg_click_rate": 0},
    "timestamp_opt": lambda lid, h, m: m["timestamp_opt"],
    "last_changed": lambda lid, h, m: m["last_changed"],
    "tags_count": lambda lid, h, m: len(m["tags"]),
    "tags": lambda lid, h, m: m["tags"],
    "list_id": lambda lid, h, m: lid,
}
#: ``last_changed`` text -> time, remembered: a ``since_last_changed`` page compares every member.
_parsed = lru_cache(maxsize=1 << 16)(parse_time)
_TAG = re.compile(r"^[A-Z0-9_]{1,10}$")
#: Merge field types Mailchimp accepts on ``POST /lists/{id}/merge-fields``.
MERGE_TYPES = (
    "text", "number", "address", "phone", "date", "url", "imageurl", "radio", "dropdown",
    "birthday", "zip",
)  # fmt: skip
#: The fields a new audience has (Mailchimp's merge-fields guide): tag -> (name, type).
DEFAULT_MERGE_FIELDS = {
    "FNAME": ("First Name", "text"),
    "LNAME": ("Last Name", "text"),
    "ADDRESS": ("Address", "address"),
    "PHONE": ("Phone Number", "phone"),
}
#: Longest value a text merge field holds.
MAX_TEXT = 255


@dataclass
class Segment:
    id: int
    name: str
    created_at: str
    updated_at: str
    members: set[str] = field(default_factory=set)  # subscriber hashes
    _sorted: list[str] | None = field(default=None, repr=False, compare=False)

    def sorted_members(self) -> list[str]:
        """The member hashes in paging order, sorted once per change (not once per page)."""
        if self._sorted is None or len(self._sorted) != len(self.members):
            self._sorted = sorted(self.members)
        return self._sorted

    def wire(self, list_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "member_count": len(self.members),
            "type": "static",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "options": {},
            "list_id": list_id,
        }


@dataclass
class MergeField:
    merge_id: int
    tag: str
    name: str
    type: str
    required: bool = False
    default_value: str = ""
    public: bool = False
    display_order: int = 0
    help_text: str = ""

    def wire(self, list_id: str) -> dict[str, Any]:
        options: dict[str, Any] = {"size": 25} if self.type == "text" else {}
        return {
            "merge_id": self.merge_id,
            "tag": self.tag,
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default_value": self.default_value,
            "public": self.public,
            "display_order": self.display_order,
            "options": options,
            "help_text": self.help_text,
            "list_id": list_id,
            "_links": [],
        }


def _default_fields() -> dict[str, MergeField]:
    return {
        tag: MergeField(i, tag, name, kind, display_order=i + 1)
        for i, (tag, (name, kind)) in enumerate(DEFAULT_MERGE_FIELDS.items(), start=1)
    }


@dataclass
class ListState:
    id: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # hash -> stored member
    segments: dict[int, Segment] = field(default_factory=dict)
    merge_fields: dict[str, MergeField] = field(default_factory=_default_fields)  # by tag

    def fields_in_order(self) -> list[MergeField]:
        """The audience's merge fields in merge_id order (as Mailchimp lists them)."""
        return sorted(self.merge_fields.values(), key=lambda f: f.merge_id)

    def next_merge_id(self) -> int:
        return max((f.merge_id for f in self.merge_fields.values()), default=0) + 1

    def declare(self, tag: str, name: str | None = None, kind: str = "text") -> MergeField:
        """The field ``tag``, created if the audience lacks it (test setup; no validation)."""
        existing = self.merge_fields.get(tag)
        if existing is not None:
            return existing
        merge_id = self.next_merge_id()
        made = MergeField(merge_id, tag, name or tag, kind, display_order=merge_id + 1)
        self.merge_fields[tag] = made
        return made


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat()


ListHandler = Callable[["MailchimpEmulator", "Request", ListState], Awaitable["Response"]]
SegmentHandler = Callable[
    ["MailchimpEmulator", "Request", ListState, Segment], Awaitable["Response"]
]
Route_ = Callable[["MailchimpEmulator", "Request"], Awaitable["Response"]]


def _on_list(handler: ListHandler) -> Route_:
    """A route on one list: the API key checked and the list found first, answered 401 or 404
    as Mailchimp does, so the handler starts from the list."""

    @wraps(handler)
    async def route(self: MailchimpEmulator, request: Request) -> Response:
        lst, denied = self._list(request)
        if lst is None:
            assert denied is not None
            return denied
        return await handler(self, request, lst)

    return route


def _on_segment(handler: SegmentHandler) -> Route_:
    """A route on one segment of a list: as :func:`_on_list`, then the segment found (404)."""

    @_on_list
    @wraps(handler)
    async def route(self: MailchimpEmulator, request: Request, lst: ListState) -> Response:
        seg, missing = self._segment(request, lst)
        if seg is None:
            assert missing is not None
            return missing
        return await handler(self, request, lst, seg)

    return route


class MailchimpEmulator(Emulator):
    """Mailchimp's lists, members and static segments, in memory."""

    name: ClassVar[str] = "mailchimp"

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        api_key: str | None = DEFAULT_API_KEY,
        list_ids: Iterable[str] = (DEFAULT_LIST_ID,),
        concurrency_limit: int | None = 10,
        latency: float | None = None,
        fake_domains: Iterable[str] = ("fake.invalid",),
        unknown_merge_fields: Literal["reject", "ignore"] = "reject",
    ) -> None:
        if latency is not None:
            faults = (faults or Faults()).model_copy(update={"latency": latency})
        #: The key Basic auth must carry; None accepts any non-empty key.
        self.api_key = api_key
        self.lists: dict[str, ListState] = {i: ListState(i) for i in list_ids}
        self.fake_domains = frozenset(d.lower() for d in fake_domains)
        self.unknown_merge_fields = unknown_merge_fields
        self.merge_fields_created = 0
        self.segment_adds = 0
        self.duplicate_adds = 0
        self.segment_removes = 0
        self._next_segment = 1000
        self.now: Callable[[], datetime] = _utcnow
        super().__init__(faults=faults, concurrency_limit=concurrency_limit)

    # ------------------------------------------------------------------------------ answers

    def problem(self, status: int, title: str, detail: str, **extra: Any) -> Response:
        """A problem+json answer with the headers Mailchimp sends."""
        import orjson
        from starlette.responses import Response

        instance = str(uuid.uuid4())
        body = {"type": ERROR_DOCS, "title": title, "status": status, "detail": detail}
        body["instance"] = instance
        body.update(extra)
        headers = {
            "X-Request-Id": instance,
            "Link": "<https://us21.api.mailchimp.com/schema/3.0/Definitions/"
            'ProblemDetailDocument.json>; rel="describedBy"',
        }
        return Response(
            orjson.dumps(body),
            status_code=status,
            headers=headers,
            media_type="application/problem+json; charset=utf-8",
        )

    def rate_limited(self, retry_after: str | None = None) -> Response:
        response = self.problem(
            429,
            "Too Many Requests",
            "You have exceeded the limit of 10 simultaneous connections.",
        )
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response

    def too_many_in_flight(self) -> Response:
        return self.rate_limited(None)  # Mailchimp sends no Retry-After [C3]

    def error(self, status: int, message: str) -> Response:
        return self.problem(status, message, "An injected or internal error occurred.")

    # ------------------------------------------------------------------------------ state API

    def add_member(
        self,
        email: str,
        *,
        list_id: str = DEFAULT_LIST_ID,
        status: str = "subscribed",
        merge_fields: dict[str, Any] | None = None,
        last_changed: datetime | None = None,
    ) -> str:
        """Put a member on a list directly (test setup); returns its subscriber hash.

        Merge tags the audience lacks are created first, as if someone had set them up.
        """
        h = subscriber_hash(email)
        when = _iso(last_changed or self.now())
        with self.lock:
            for tag in merge_fields or {}:
                self.lists[list_id].declare(tag)
            self.lists[list_id].members[h] = {
                "email_address": email.strip(),
                "status": status,
                "merge_fields": dict(merge_fields or {}),
                "tags": [],
                "timestamp_opt": when,
                "last_changed": when,
            }
        return h

    def touch(self, email: str, list_id: str = DEFAULT_LIST_ID, **merge: Any) -> None:
        """Change a member's merge fields now, as a person editing their profile would."""
        with self.lock:
            for tag in merge:
                self.lists[list_id].declare(tag)
            member = self.lists[list_id].members[subscriber_hash(email)]
            member["merge_fields"].update(merge)
            member["last_changed"] = _iso(self.now())

    def add_merge_field(
        self,
        tag: str,
        *,
        name: str | None = None,
        type: str = "text",
        list_id: str = DEFAULT_LIST_ID,
    ) -> int:
        """Give the audience a merge field directly (test setup); returns its merge_id."""
        with self.lock:
            return self.lists[list_id].declare(tag.upper(), name, type).merge_id

    def merge_tags(self, list_id: str = DEFAULT_LIST_ID) -> list[str]:
        """The audience's merge tags, in merge_id order (for assertions)."""
        return [f.tag for f in self.lists[list_id].fields_in_order()]

    def merge_values(self, email: str, list_id: str = DEFAULT_LIST_ID) -> dict[str, Any]:
        """A member's stored merge fields (for assertions); KeyError if not on the list."""
        return dict(self.lists[list_id].members[subscriber_hash(email)]["merge_fields"])

    def segment_emails(self, segment_id: int | str, list_id: str = DEFAULT_LIST_ID) -> set[str]:
        """The lowercased addresses in a static segment (for assertions)."""
        lst = self.lists[list_id]
        seg = lst.segments[int(segment_id)]
        return {lst.members[h]["email_address"].lower() for h in seg.members}

    def segment_by_name(self, name: str, list_id: str = DEFAULT_LIST_ID) -> Segment | None:
        return next((s for s in self.lists[list_id].segments.values() if s.name == name), None)

    def seed_data(self, records: int, seed: int = 0) -> None:
        """``records`` members on the default list with names and an unknown merge field."""
        rng = random.Random(seed)
        first = ["Ana", "Ben", "Chloé", "Dev", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jun"]
        last = ["Silva", "Okafor", "Müller", "Nguyen", "Smith", "Kowalski", "Haddad", "Ito"]
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(records):
            status = "subscribed" if rng.random() < 0.9 else rng.choice(STATUSES[1:4])
            self.add_member(
                f"member{i:07d}@sandbox.example.com",
                status=status,
                merge_fields={
                    "FNAME": rng.choice(first),
                    "LNAME": rng.choice(last),
                    "INTEREST": rng.choice(["fishing", "camping", "hiking"]),
                },
                last_changed=start + timedelta(minutes=i),
            )

    # --------------------------------------------------------------------------------- wire

    def _wire_member(
        self, list_id: str, h: str, m: dict[str, Any], only: set[str] | None = None
    ) -> dict[str, Any]:
        if only is not None and only <= _STORED_KEYS:
            return {k: m[k] for k in only}  # a partial response: build only what was asked
        wire = _WIRE if only is None else {k: _WIRE[k] for k in only if k in _WIRE}
        return {k: get(list_id, h, m) for k, get in wire.items()}  # unknown names: left out

    def _merge_problem(self, lst: ListState, merge: Any) -> tuple[str, str] | None:
        """(tag, why) for the first merge field value the audience would refuse, or None."""
        if merge is None:
            return None
        if not isinstance(merge, dict):
            return "merge_fields", "merge_fields must be an object"
        for tag, value in merge.items():
            known = lst.merge_fields.get(str(tag))
            if known is None:
                if self.unknown_merge_fields == "reject":
                    return str(tag), f"{tag} is not a merge field of this audience"
                continue
            if known.type == "text" and isinstance(value, str) and len(value) > MAX_TEXT:
                return known.tag, f"Please enter a value of at most {MAX_TEXT} characters"
        return None

    def _known_merge(self, lst: ListState, merge: dict[str, Any]) -> dict[str, Any]:
        """The values the audience keeps: unknown tags are dropped (``ignore`` mode)."""
        return {k: v for k, v in merge.items() if k in lst.merge_fields}

    def _wire_for(
        self, list_id: str, only: set[str] | None
    ) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
        """``_wire_member`` for one answer's ``only``, with the common partial shape inlined."""
        if only is not None and len(only) == 1 and only <= _STORED_KEYS:
            (key,) = only
            return lambda h, m: {key: m[key]}
        return lambda h, m: self._wire_member(list_id, h, m, only)

    def _item_problem(self, email: str) -> str | None:
        """Why Mailchimp would refuse this address outright, or None."""
        if (
            _EMAIL.match(email) is None
            or email.rpartition("@")[2].lower() in self.fake_domains
            or (self.faults.reject_rate and self.fault_state.reject())
        ):
            return f"{email} looks fake or invalid, please enter a real email address."
        return None

    # ------------------------------------------------------------------------------- routes

    def connection(self, base_url: str) -> dict[str, str]:
        return {
            "base_url": f"{base_url}/3.0",
            "list_id": next(iter(self.lists)),
            "api_key": self.api_key or DEFAULT_API_KEY,
        }

    def routes(self) -> list[BaseRoute]:
        from starlette.routing import Mount, Route

        endpoints = [
            Route("/lists/{list_id}", self.batch_subscribe, methods=["POST"]),
            Route("/lists/{list_id}/members", self.list_members, methods=["GET"]),
            Route("/lists/{list_id}/members/{hash}", self.member, methods=["GET", "PUT"]),
            Route("/lists/{list_id}/merge-fields", self.merge_fields, methods=["GET", "POST"]),
            Route("/lists/{list_id}/segments", self.segments, methods=["GET", "POST"]),
            Route(
                "/lists/{list_id}/segments/{segment_id}",
                self.segment,
                methods=["GET", "POST"],
            ),
            Route(
                "/lists/{list_id}/segments/{segment_id}/members",
                self.segment_members,
                methods=["GET"],
            ),
        ]
        return [Mount("/3.0", routes=list(endpoints)), *endpoints]

    def _authorized(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        key = ""
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(value).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                key = ""
        elif scheme.lower() in ("bearer", "apikey"):
            key = value
        if not key:
            return self.problem(
                401,
                "API Key Missing",
                "Your request did not include an API key.",
            )
        if self.api_key is not None and key != self.api_key:
            return self.problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        return None

    def _list(self, request: Request) -> tuple[ListState | None, Response | None]:
        if (denied := self._authorized(request)) is not None:
            return None, denied
        lst = self.lists.get(request.path_params["list_id"])
        if lst is None:
            return None, self.problem(
                404, "Resource Not Found", "The requested resource could not be found."
            )
        return lst, None

    def _paging(self, request: Request) -> tuple[int, int, Response | None]:
        try:
            count = int(request.query_params.get("count", "10"))
            offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            return 0, 0, self.problem(400, "Invalid Resource", "count and offset are integers.")
        if count < 1 or count > MAX_COUNT or offset < 0:
            return (
                0,
                0,
                self.problem(
                    400,
                    "Invalid Resource",
                    f"count must be between 1 and {MAX_COUNT}; offset must be >= 0.",
                ),
            )
        pages = self.faults.pages if self.fault_state.applies(request.url.path) else "normal"
        if (pages == "loop" and offset >= count) or (pages == "duplicate" and offset == count):
            offset = 0
        return count, offset, None

    @staticmethod
    def _fields(request: Request, name: str) -> tuple[set[str], dict[str, set[str]]]:
        """(top-level keys, collection -> inner keys) named in ``fields``/``exclude_fields``."""
        top: set[str] = set()
        inner: dict[str, set[str]] = {}
        for f in request.query_params.get(name, "").split(","):
            if not f:
                continue
            head, _, rest = f.partition(".")
            top.add(head)
            if rest:
                inner.setdefault(head, set()).add(rest)
        return top, inner

    def _only(self, request: Request, collection: str) -> set[str] | None:
        """The member keys ``fields`` asks for in ``collection``, or None for all of them."""
        _, inner = self._fields(request, "fields")
        return inner.get(collection)

    def _select(
        self, doc: dict[str, Any], request: Request, projected: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Apply Mailchimp's partial responses (``fields`` / ``exclude_fields``, dotted).

        ``projected`` names collections whose items were already built with exactly the keys
        ``fields`` asks for, so they are not filtered a second time.
        """
        top, inner = self._fields(request, "fields")
        if top:
            doc = {k: v for k, v in doc.items() if k in top}
            for name, keys in inner.items():
                if name not in projected and isinstance(doc.get(name), list):
                    doc[name] = [{k: v for k, v in i.items() if k in keys} for i in doc[name]]
        top_x, inner_x = self._fields(request, "exclude_fields")
        if top_x:
            doc = {k: v for k, v in doc.items() if k not in top_x or k in inner_x}
            for name, keys in inner_x.items():
                if isinstance(doc.get(name), list):
                    doc[name] = [{k: v for k, v in i.items() if k not in keys} for i in doc[name]]
        return doc

    @_on_list
    async def list_members(self, request: Request, lst: ListState) -> Response:
        count, offset, bad = self._paging(request)
        if bad is not None:
            return bad
        status = request.query_params.get("status")
        since = parse_time(request.query_params.get("since_last_changed"))
        only = self._only(request, "members")
        with self.lock:
            if status is None and since is None:
                # Unfiltered (a full pull): walk to the offset without copying the list per page.
                total = len(lst.members)
                rows = list(islice(lst.members.items(), offset, offset + count))
            else:
                matching = [
                    (h, m)
                    for h, m in lst.members.items()
                    if (status is None or m["status"] == status)
                    and (since is None or (_parsed(m["last_changed"]) or since) > since)
                ]
                total, rows = len(matching), matching[offset : offset + count]
            page = [self._wire_member(lst.id, h, m, only) for h, m in rows]
        doc = {"members": page, "list_id": lst.id, "total_items": total, "_links": []}
        return json_response(self._select(doc, request, projected=("members",) if only else ()))

    @_on_list
    async def member(self, request: Request, lst: ListState) -> Response:
        key = request.path_params["hash"]
        h = subscriber_hash(key) if "@" in key else key
        if request.method == "GET":
            m = lst.members.get(h)
            if m is None:
                return self.problem(
                    404, "Resource Not Found", "The requested resource could not be found."
                )
            return json_response(self._wire_member(lst.id, h, m))
        body = await self.read_json(request) or {}
        email = body.get("email_address")
        if not isinstance(email, str) or subscriber_hash(email) != h:
            return self.problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                errors=[{"field": "email_address", "message": "must match the subscriber hash"}],
            )
        if (why := self._item_problem(email)) is not None:
            return self.problem(400, "Invalid Resource", why)
        if (bad := self._merge_problem(lst, body.get("merge_fields"))) is not None:
            return self.problem(
                400,
                "Invalid Resource",
                "Your merge fields were invalid.",
                errors=[{"field": bad[0], "message": bad[1]}],
            )
        with self.lock:
            existing = lst.members.get(h)
            status = body.get("status") or (
                existing["status"] if existing else body.get("status_if_new", "subscribed")
            )
        self._upsert(lst, email, status, self._known_merge(lst, body.get("merge_fields") or {}))
        return json_response(self._wire_member(lst.id, h, lst.members[h]))

    def _upsert(
        self, lst: ListState, email: str, status: str, merge: dict[str, Any]
    ) -> tuple[bool, dict[str, Any]]:
        """Create or update a member; (created, stored member)."""
        h = subscriber_hash(email)
        now = _iso(self.now())
        with self.lock:
            existing = lst.members.get(h)
            if existing is None:
                lst.members[h] = existing = {
                    "email_address": email.strip(),
                    "status": status,
                    "merge_fields": dict(merge),
                    "tags": [],
                    "timestamp_opt": now,
                    "last_changed": now,
                }
                return True, existing
            existing["merge_fields"].update(merge)
            existing["status"] = status
            existing["last_changed"] = now
            return False, existing

    @_on_list
    async def batch_subscribe(self, request: Request, lst: ListState) -> Response:
        body = await self.read_json(request)
        members = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members, list):
            return self.problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                errors=[{"field": "members", "message": "Schema describes array, NULL found"}],
            )
        if len(members) > MAX_BATCH:
            return self.problem(
                400,
                "Invalid Resource",
                f"Up to {MAX_BATCH} members may be added or updated with each API call; "
                f"got {len(members)}.",
            )
        update_existing = bool(body.get("update_existing", False))
        only_created = self._only(request, "new_members")
        only_updated = self._only(request, "updated_members")
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in members:
            email = item.get("email_address") if isinstance(item, dict) else None
            status = item.get("status") if isinstance(item, dict) else None
            if not isinstance(email, str):
                errors.append(
                    {
                        "email_address": "",
                        "error": "email_address is required",
                        "error_code": "ERROR_GENERIC",
                        "field": "email_address",
                        "field_message": "required",
                    }
                )
                continue
            if status not in STATUSES:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"Invalid status {status!r}",
                        "error_code": "ERROR_GENERIC",
                        "field": "status",
                        "field_message": "",
                    }
                )
                continue
            if (why := self._item_problem(email)) is not None:
                errors.append(
                    {
                        "email_address": email,
                        "error": why,
                        "error_code": "ERROR_GENERIC",
                        "field": "email_address",
                        "field_message": "",
                    }
                )
                continue
            if (bad := self._merge_problem(lst, item.get("merge_fields"))) is not None:
                errors.append(
                    {
                        "email_address": email,
                        "error": "Your merge fields were invalid.",
                        "error_code": "ERROR_GENERIC",
                        "field": bad[0],
                        "field_message": bad[1],
                    }
                )
                continue
            h = subscriber_hash(email)
            existing = lst.members.get(h)
            if existing is not None and not update_existing:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is already a list member, do you want to update? "
                        "please provide update_existing:true in the request body",
                        "error_code": "ERROR_CONTACT_EXISTS",
                        "field": "",
                        "field_message": "",
                    }
                )
                continue
            if (
                existing is not None
                and existing["status"] in ("unsubscribed", "cleaned")
                and status == "subscribed"
            ):
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is in a compliance state due to unsubscribe, bounce, "
                        "or compliance review and cannot be subscribed.",
                        "error_code": "ERROR_GENERIC",
                        "field": "",
                        "field_message": "",
                    }
                )
                continue
            merge = self._known_merge(lst, item.get("merge_fields") or {})
            was_new, stored = self._upsert(lst, email, status, merge)
            (created if was_new else updated).append(
                self._wire_member(lst.id, h, stored, only_created if was_new else only_updated)
            )
        doc = {
            "new_members": created,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(created),
            "total_updated": len(updated),
            "error_count": len(errors),
            "_links": [],
        }
        return json_response(self._select(doc, request))

    def _collection(
        self,
        request: Request,
        lst: ListState,
        key: str,
        rows_of_type: Callable[[str | None], Sequence[Any]],
    ) -> Response:
        """A paged GET of a list's sub-resources (``count``/``offset``, ``?type=``, ``fields``)."""
        count, offset, bad = self._paging(request)
        if bad is not None:
            return bad
        with self.lock:
            rows = rows_of_type(request.query_params.get("type"))
            page = [r.wire(lst.id) for r in rows[offset : offset + count]]
        doc = {key: page, "list_id": lst.id, "total_items": len(rows), "_links": []}
        return json_response(self._select(doc, request))

    @_on_list
    async def merge_fields(self, request: Request, lst: ListState) -> Response:
        if request.method == "GET":
            return self._collection(
                request,
                lst,
                "merge_fields",
                lambda kind: [f for f in lst.fields_in_order() if kind in (None, f.type)],
            )
        body = await self.read_json(request)
        if not isinstance(body, dict):
            return self.problem(400, "Invalid Resource", "Expected a JSON object.")
        name, kind, tag = body.get("name"), body.get("type"), body.get("tag")
        errors = []
        if not isinstance(name, str) or not name.strip():
            errors.append({"field": "name", "message": "This value should not be blank."})
        if kind not in MERGE_TYPES:
            errors.append(
                {"field": "type", "message": f"Value must be one of: {', '.join(MERGE_TYPES)}"}
            )
        if tag is not None and (not isinstance(tag, str) or not _TAG.match(tag.upper())):
            errors.append(
                {
                    "field": "tag",
                    "message": "Merge tags are 1-10 characters: letters, digits and underscores.",
                }
            )
        if errors:
            return self.problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated. For field-specific details, "
                "see the 'errors' array.",
                errors=errors,
            )
        with self.lock:
            merge_id = lst.next_merge_id()
            final = tag.upper() if isinstance(tag, str) else f"MMERGE{merge_id}"
            if final in lst.merge_fields or final == "EMAIL":
                return self.problem(
                    400,
                    "Invalid Resource",
                    f'A Merge Field with the tag "{final}" already exists for this list.',
                )
            made = MergeField(
                merge_id,
                final,
                str(name).strip(),
                str(kind),
                required=bool(body.get("required", False)),
                default_value=str(body.get("default_value") or ""),
                public=bool(body.get("public", False)),
                display_order=int(body.get("display_order") or merge_id + 1),
                help_text=str(body.get("help_text") or ""),
            )
            lst.merge_fields[final] = made
            self.merge_fields_created += 1
        return json_response(made.wire(lst.id))

    @_on_list
    async def segments(self, request: Request, lst: ListState) -> Response:
        if request.method == "GET":
            return self._collection(
                request,
                lst,
                "segments",
                lambda kind: [s for s in lst.segments.values() if kind in (None, "static")],
            )
        body = await self.read_json(request)
        name = body.get("name") if isinstance(body, dict) else None
        emails = body.get("static_segment") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            return self.problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                errors=[{"field": "name", "message": "This value should not be blank."}],
            )
        if emails is not None and not isinstance(emails, list):
            return self.problem(400, "Invalid Resource", "static_segment must be an array.")
        if isinstance(body, dict) and "options" in body and emails is not None:
            return self.problem(
                400, "Invalid Resource", "static_segment cannot be provided with options."
            )
        now = _iso(self.now())
        with self.lock:
            self._next_segment += 1
            seg = Segment(self._next_segment, name, now, now)
            for email in emails or []:
                h = subscriber_hash(str(email))
                if h in lst.members:  # addresses not on the list are ignored
                    seg.members.add(h)
            lst.segments[seg.id] = seg
        return json_response(seg.wire(lst.id))

    def _segment(self, request: Request, lst: ListState) -> tuple[Segment | None, Response | None]:
        try:
            seg = lst.segments.get(int(request.path_params["segment_id"]))
        except ValueError:
            seg = None
        if seg is None:
            return None, self.problem(
                404, "Resource Not Found", "The requested resource could not be found."
            )
        return seg, None

    @_on_segment
    async def segment(self, request: Request, lst: ListState, seg: Segment) -> Response:
        if request.method == "GET":
            return json_response(seg.wire(lst.id))
        body = await self.read_json(request)
        if not isinstance(body, dict):
            return self.problem(400, "Invalid Resource", "Expected a JSON object.")
        to_add = body.get("members_to_add") or []
        to_remove = body.get("members_to_remove") or []
        if not isinstance(to_add, list) or not isinstance(to_remove, list):
            return self.problem(
                400, "Invalid Resource", "members_to_add and members_to_remove are arrays."
            )
        if len(to_add) > MAX_BATCH or len(to_remove) > MAX_BATCH:
            # The real text, as captured in hitobito/hitobito_sac_cas#1487.
            return self.problem(
                400,
                "Invalid Resource",
                "Maximum allowed member items exceeded, please provide at most 500 items in "
                "members_to_add field or members_to_remove field",
            )
        added: list[dict[str, Any]] = []
        removed: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        only_added = self._only(request, "members_added")
        only_removed = self._only(request, "members_removed")
        wire_added = self._wire_for(lst.id, only_added)
        wire_removed = self._wire_for(lst.id, only_removed)
        problem = self._item_problem
        md5 = hashlib.md5
        duplicates = 0
        # A benchmark must measure the client, not this loop: per address one MD5 (the
        # subscriber hash, inlined) and set/dict lookups, the lock taken once per call.
        with self.lock:
            members, current = lst.members, seg.members
            for raw in to_add:
                email = str(raw)
                h = md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()
                m = members.get(h)
                if m is None:
                    continue  # "emails … not present on the list will be ignored" (the spec)
                if (why := problem(email)) is not None:
                    errors.append({"email_addresses": [email], "error": why})
                    continue
                if h in current:
                    duplicates += 1
                    continue
                current.add(h)
                added.append(wire_added(h, m))
            for raw in to_remove:
                email = str(raw)
                h = md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()
                if h not in current:
                    continue
                current.discard(h)
                removed.append(wire_removed(h, members[h]))
            self.segment_adds += len(added)
            self.duplicate_adds += duplicates
            self.segment_removes += len(removed)
            if added or removed:
                seg._sorted = None
            seg.updated_at = _iso(self.now())
        projected = [
            name
            for name, only in (("members_added", only_added), ("members_removed", only_removed))
            if only is not None and len(only) == 1 and only <= _STORED_KEYS
        ]
        doc = {
            "members_added": added,
            "members_removed": removed,
            "errors": errors,
            "total_added": len(added),
            "total_removed": len(removed),
            "error_count": len(errors),
            "_links": [],
        }
        return json_response(self._select(doc, request, projected))

    @_on_segment
    async def segment_members(self, request: Request, lst: ListState, seg: Segment) -> Response:
        count, offset, bad = self._paging(request)
        if bad is not None:
            return bad
        with self.lock:
            hashes = seg.sorted_members()
            only = self._only(request, "members")
            page = [
                self._wire_member(lst.id, h, lst.members[h], only)
                for h in hashes[offset : offset + count]
            ]
        doc = {"members": page, "total_items": len(hashes), "_links": []}
        return json_response(self._select(doc, request))


__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_LIST_ID",
    "DEFAULT_MERGE_FIELDS",
    "MailchimpEmulator",
    "MergeField",
    "Segment",
]
