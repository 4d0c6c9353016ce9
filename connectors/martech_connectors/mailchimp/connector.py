"""The Mailchimp connector: pull audience members, push segments as static segments (tags).

Limits: 10 simultaneous connections per user and 500 members per batch call
(``shared/research/vendor-apis.md`` §2.1 and §5); the HTTP budget turns the first into a
semaphore shared by every client using the same key.

Pushing one batch (``add_members``) costs one request when the people are already on the list
and carry no merge-field traits: ``members_to_add`` on the static segment. Mailchimp silently
ignores addresses that are not on the list, so the ones neither added nor refused are subscribed
with ``update_existing: false`` (existing members are left exactly as they are, new ones get
``status_if_new``) and added again. Members with traits that have a merge tag are upserted by
batch subscribe (``update_existing: true``) first, then added: two requests per batch.

Per-person recommendations (``push_recommendations``, for ``martech personalize push --to
mailchimp``) are written to text merge fields REC_LEVEL, REC_TEXT, REC1..REC5 (item label),
REC1ID..REC5ID and, when the catalogue has urls, REC1URL..REC5URL: the fields are created once if
the audience lacks them, then members are upserted by batch subscribe, 500 a request. Every
placement writes the same fields (a template reads ``*|REC1|*`` whichever placement filled it; a
per-placement prefix would leave 3 readable characters within the 10-character tag limit and
multiply the audience's fields), so the last push wins, and the push ledger is kept per audience
and field set (``recommendation_scope``), not per placement: after another placement's push, a
re-push sends everyone whose fields it overwrote.
"""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from martech.connector import (
    AudienceMember,
    BatchOutcome,
    Connector,
    ConnectorKind,
    Limits,
    MemberBatch,
    ProfileRows,
    PullPage,
)
from martech.errors import ConfigError, ValidationError
from martech.models import Capability

from .config import MailchimpConfig
from .mapping import (
    base_url_for,
    decode_cursor,
    email_key,
    encode_cursor,
    incremental_since,
    member_email,
    members_to_rows,
    merge_fields_for,
    parse_time,
    recommendation_fields,
    recommendation_values,
    rejected_by_key,
    split_by_email,
    subscribe_body,
    subscriber_hash,
    values_left_blank,
)

if TYPE_CHECKING:
    from martech.http import HttpClient, Response
    from martech.personalize.recipients import Recipient

#: Members per batch-subscribe and per members_to_add / members_to_remove call.
MAX_BATCH = 500
#: Partial responses (Mailchimp's ``fields``): batch answers list whole member objects otherwise.
SEGMENT_FIELDS = (
    "members_added.email_address,members_removed.email_address,errors,"
    "total_added,total_removed,error_count"
)
SUBSCRIBE_FIELDS = (
    "new_members.email_address,updated_members.email_address,errors,"
    "total_created,total_updated,error_count"
)
_SEG = {"fields": SEGMENT_FIELDS}
_SUB = {"fields": SUBSCRIBE_FIELDS}


def _uniform(stamps: list[str]) -> bool:
    """True when every timestamp has the same shape and offset (so string order is time order)."""
    first = stamps[0]
    return all(len(t) == len(first) and t[19:] == first[19:] for t in stamps)


def _redact(text: str) -> str:
    from martech.http import redact

    return redact(text)


class MailchimpConnector(Connector):
    """Mailchimp Marketing API v3: an ESP that holds one audience (list) per config."""

    name: ClassVar[str] = "mailchimp"
    kind: ClassVar[ConnectorKind] = "esp"
    Config: ClassVar[type[MailchimpConfig]] = MailchimpConfig
    #: The static segment is found by name (one page of 1000 segments). An add batch costs up
    #: to two more requests: subscribing people new to the list and adding them again (or, with
    #: merge-field traits, one batch subscribe first); a remove costs none.
    limits: ClassVar[Limits] = Limits(concurrency=10, batch_count=MAX_BATCH, add_extra_requests=2)
    emulator: ClassVar[str | None] = "martech_connectors.mailchimp.emulator:MailchimpEmulator"
    identity_keys: ClassVar[tuple[str, ...]] = ("email",)
    #: What every recommendation push writes, whatever the placement: the push ledger is keyed by
    #: it, so one placement's push invalidates another's (see the module docstring).
    recommendation_scope: ClassVar[str] = "REC*"

    config: MailchimpConfig

    def ledger_scope(self) -> str:
        """The API's address and the list: the same audience name on another list is another
        audience."""
        return f"{super().ledger_scope()} list {self.config.list_id}"

    def capabilities(self) -> list[Capability]:
        return [
            Capability(
                name="pull_profiles",
                inputs=["identities.email", "traits", "consent.email"],
                description="Audience members with merge fields, status and tags; "
                "incremental by since_last_changed.",
            ),
            Capability(
                name="push_audience",
                inputs=["identities.email", "traits"],
                description="A segment as a static segment (tag); upsert with merge fields "
                "by batch subscribe. Also takes per-person recommendations "
                "(push_recommendations: REC* merge fields, created if missing).",
            ),
        ]

    @classmethod
    def worked_examples(cls) -> list[tuple[str, Any, Any, Any]]:
        """Mailchimp's documented subscriber hash (MD5 of the lowercased address)."""
        return [
            ("subscriber hash", subscriber_hash, "jane.doe@example.com",
             "0cba00ca3da1b283a57287bcceb17e35"),
            ("subscriber hash, trimmed and lowercased first", subscriber_hash,
             "  Jane.Doe@Example.COM ", "0cba00ca3da1b283a57287bcceb17e35"),
            ("datacenter from the key suffix", base_url_for,
             "0123456789abcdef0123456789abcdef-us14", "https://us14.api.mailchimp.com/3.0"),
        ]  # fmt: skip

    def vendor_key(self, member: AudienceMember) -> str | None:
        """What :meth:`read_members` yields for a member: its lowercased email."""
        return member_email(member)

    # ------------------------------------------------------------------------------ plumbing

    def _auth(self) -> dict[str, str]:
        key = self.config.api_key.get_secret_value()
        token = base64.b64encode(f"martech:{key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from martech.http import HttpClient

            self._http = HttpClient(
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                limits=self.limits,
                headers=self._auth(),
                vendor="mailchimp",
            )
        return self._http

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Response:
        # Credentials go on every request, so an injected client (tests, the demo) works too.
        return await self.http.request(
            method, path, params=params, json=json, headers=self._auth(), idempotent=idempotent
        )

    @property
    def _list_path(self) -> str:
        return f"/lists/{self.config.list_id}"

    # ---------------------------------------------------------------------------------- pull

    async def pull_profiles(
        self, *, since: datetime | None = None, cursor: str | None = None
    ) -> AsyncIterator[PullPage]:
        """Pages of members as Profiles, ``count``/``offset`` paged, oldest first.

        Every page's cursor resumes this run; the last page's cursor says "next time, only
        members changed since the newest ``last_changed`` seen", so passing it back makes the
        next pull incremental.
        """
        from martech.http.paginate import PaginationLoopError

        offset = 0
        high: datetime | None = None
        if cursor is not None:
            resume_offset, resume_since, high = decode_cursor(cursor)
            if resume_offset is None:
                since = incremental_since(high) if high is not None else resume_since
            else:
                offset, since = resume_offset, resume_since
        count = self.config.page_size
        params: dict[str, Any] = {
            "count": count,
            "fields": "members.email_address,members.status,members.merge_fields,"
            "members.tags,members.last_changed,total_items",
        }
        if since is not None:
            params["since_last_changed"] = since.isoformat()
        seen_pages: set[bytes] = set()
        pages = 0
        async with aclosing(self._member_pages(params, offset, count)) as fetched:
            async for r, members, total in fetched:
                rows, high = self._member_page(r, members, offset, seen_pages, high)
                pages += 1
                if pages > 100_000:
                    raise PaginationLoopError("mailchimp: more than 100000 member pages; stopped")
                n = len(members)
                offset += n
                done = not n or offset >= total
                next_cursor = encode_cursor(None if done else offset, since, high)
                if n or done:
                    yield PullPage(rows=rows, cursor=next_cursor)
                if done:
                    return

    def _member_page(
        self,
        r: Response,
        members: list[Any],
        offset: int,
        seen_pages: set[bytes],
        high: datetime | None,
    ) -> tuple[ProfileRows, datetime | None]:
        """One page's rows and the newest ``last_changed`` seen so far; a page served again
        is a loop."""
        from martech.http.paginate import PaginationLoopError

        if members and r.content in seen_pages:
            raise PaginationLoopError(
                f"mailchimp: GET {self._list_path}/members served the same page again at "
                f"offset {offset}; stopped",
                vendor="mailchimp",
            )
        seen_pages.add(r.content)
        rows = members_to_rows(members)
        stamps = [c for m in members if isinstance(c := m.get("last_changed"), str)]
        if stamps:
            # Mailchimp writes every last_changed in UTC (+00:00): strings sort as times.
            newest = parse_time(max(stamps) if _uniform(stamps) else None) or max(
                t for t in map(parse_time, stamps) if t is not None
            )
            if high is None or newest > high:
                high = newest
        return rows, high

    async def _member_pages(
        self, params: Mapping[str, Any], offset: int, count: int
    ) -> AsyncGenerator[tuple[Response, list[Any], int], None]:
        """(response, members, total_items) of each member page from ``offset`` on, in order,
        with up to ``limits.concurrency`` requests in flight once the first page has said how
        many members there are.

        Mailchimp pages by offset, so every later page's address is known from the first one:
        with network latency, one round trip per page becomes ten at a time. The connection
        budget (10 per API key) still bounds everything that uses the key. A page shorter than
        ``count`` before the end means the list changed under the pull: the pages guessed past
        it are dropped and reading goes on from where that page ended.
        """
        path = f"{self._list_path}/members"
        window = max(1, self.limits.concurrency)
        inflight: deque[tuple[int, asyncio.Task[Response]]] = deque()

        def start(at: int) -> None:
            call = self._call("GET", path, params={**params, "offset": at})
            inflight.append((at, asyncio.ensure_future(call)))

        start(offset)
        upcoming = offset + count
        try:
            while inflight:
                at, task = inflight.popleft()
                r = await task
                data = r.data if isinstance(r.data, dict) else {}
                members = data.get("members") or []
                total = int(data.get("total_items") or 0)
                got = len(members)
                if got < count and at + got < total:
                    for _, guessed in inflight:
                        guessed.cancel()
                    inflight.clear()
                    upcoming = at + got
                yield r, members, total
                if not got:
                    return
                while len(inflight) < window and upcoming < total:
                    start(upcoming)
                    upcoming += count
        finally:
            for _, left in inflight:
                left.cancel()
            await asyncio.gather(*(t for _, t in inflight), return_exceptions=True)

    # ------------------------------------------------------------------------------- audience

    async def ensure_audience(self, audience: str) -> str:
        """The id of the static segment named ``audience``, created empty if missing (once: a
        create whose answer was lost is found by name, not made twice)."""
        from martech.http import create_once

        name = audience.strip()
        if not name:
            raise ValidationError("audience: expected a non-empty static segment name")
        found = await self._find_segment(name)
        if found is not None:
            return found

        async def create() -> str:
            r = await self._call(
                "POST",
                f"{self._list_path}/segments",
                json={"name": name, "static_segment": []},
                idempotent=False,
            )
            if not isinstance(r.data, dict) or "id" not in r.data:
                raise ConfigError("mailchimp: creating the static segment returned no id")
            return str(r.data["id"])

        return await create_once(
            create, lambda: self._find_segment(name), attempts=self.http.retry.max_attempts
        )

    async def _find_segment(self, name: str) -> str | None:
        """The id of the (first listed) static segment called ``name``, or None."""
        offset = 0
        for _ in range(1000):  # 1000 pages of 1000 segments: far beyond Mailchimp's own caps
            r = await self._call(
                "GET",
                f"{self._list_path}/segments",
                params={
                    "type": "static",
                    "count": 1000,
                    "offset": offset,
                    "fields": "segments.id,segments.name,total_items",
                },
            )
            data = r.data if isinstance(r.data, dict) else {}
            segments = data.get("segments") or []
            for seg in segments:
                if seg.get("name") == name:
                    return str(seg["id"])
            offset += len(segments)
            if not segments or offset >= int(data.get("total_items") or 0):
                break
        return None

    def _check_batch(self, members: Sequence[AudienceMember]) -> None:
        if len(members) > MAX_BATCH:
            raise ValidationError(
                f"members: at most {MAX_BATCH} per Mailchimp call, got {len(members)}",
                field="members",
            )

    async def add_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        """Add one batch (≤ 500) to the static segment, subscribing people not yet on the list.

        Members that carry traits with a merge tag (a sync with ``traits``, or an update in
        upsert mode) are upserted by batch subscribe first, so their merge fields are current.
        """
        self._check_batch(members)
        by_email, rejected = split_by_email(members)
        if not by_email:
            return BatchOutcome(accepted=[], rejected=rejected, requests=0)
        requests = 0
        upserted = (not isinstance(members, MemberBatch) or members.has_traits) and any(
            merge_fields_for(m.traits) for m in members if m.key not in rejected
        )
        if upserted:
            up = await self.upsert_members([m for m in members if m.key not in rejected])
            requests += up.requests
            rejected.update(up.rejected)
            by_email = {e: k for e, k in by_email.items() if k not in rejected}
            if not by_email:
                return BatchOutcome(accepted=[], rejected=rejected, requests=requests)
        path = f"{self._list_path}/segments/{audience_id}"
        r = await self._call("POST", path, json={"members_to_add": list(by_email)}, params=_SEG)
        requests += 1
        rejected.update(self._reasons(r.data, by_email))
        if self._all_added(r.data, len(by_email)):
            unresolved = []  # the common case: no address to look at one by one
        else:
            added = self._emails(r.data, "members_added")
            unresolved = [e for e in by_email if e not in added and by_email[e] not in rejected]
        if unresolved and not upserted:
            # Either already in the segment or not on the list (Mailchimp ignores those).
            keyed = {e: by_email[e] for e in unresolved}
            lookup = {m.key: m for m in members}
            body = {
                "members": [
                    subscribe_body(lookup[keyed[e]], e, self.config.status_if_new)
                    for e in unresolved
                ],
                "update_existing": False,
            }
            s = await self._call("POST", self._list_path, json=body, params=_SUB)
            requests += 1
            created = self._emails(s.data, "new_members")
            for email, reason in self._reason_pairs(s.data):
                if email in keyed and "ERROR_CONTACT_EXISTS" not in reason:
                    rejected[keyed[email]] = reason
            if created:
                r2 = await self._call(
                    "POST", path, json={"members_to_add": sorted(created)}, params=_SEG
                )
                requests += 1
                rejected.update(self._reasons(r2.data, {e: keyed[e] for e in created}))
        accepted = [k for k in by_email.values() if k not in rejected]
        return BatchOutcome(accepted=accepted, rejected=rejected, requests=requests)

    async def remove_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        """Remove one batch from the static segment; non-members are a no-op."""
        self._check_batch(members)
        by_email, rejected = split_by_email(members)
        if not by_email:
            return BatchOutcome(accepted=[], rejected=rejected, requests=0)
        r = await self._call(
            "POST",
            f"{self._list_path}/segments/{audience_id}",
            json={"members_to_remove": list(by_email)},
            params=_SEG,
        )
        rejected.update(self._reasons(r.data, by_email))
        accepted = [k for k in by_email.values() if k not in rejected]
        return BatchOutcome(accepted=accepted, rejected=rejected, requests=1)

    async def upsert_members(self, members: Sequence[AudienceMember]) -> BatchOutcome:
        """Create or update one batch (≤ 500) of list members with their merge fields."""
        self._check_batch(members)
        by_email, rejected = split_by_email(members)
        if not by_email:
            return BatchOutcome(accepted=[], rejected=rejected, requests=0)
        lookup = {m.key: m for m in members}
        r = await self._subscribe(
            [
                subscribe_body(lookup[key], email, self.config.status_if_new)
                for email, key in by_email.items()
            ],
            update_existing=True,
        )
        rejected.update(self._reasons(r.data, by_email))
        accepted = [k for k in by_email.values() if k not in rejected]
        return BatchOutcome(accepted=accepted, rejected=rejected, requests=1)

    async def _subscribe(
        self, entries: Sequence[Mapping[str, Any]], *, update_existing: bool
    ) -> Response:
        """One batch-subscribe call (``POST /lists/{id}``), answered with the partial fields."""
        body = {"members": list(entries), "update_existing": update_existing}
        return await self._call("POST", self._list_path, json=body, params=_SUB)

    # ------------------------------------------------------------------------ recommendations

    async def merge_tags(self) -> tuple[set[str], int]:
        """The audience's merge tags and the requests it took (1000 fields a page)."""
        types, requests = await self._merge_types()
        return set(types), requests

    async def _merge_types(self) -> tuple[dict[str, str], int]:
        """The audience's merge fields as tag -> type (``text``, ``number``, …), and requests."""
        types: dict[str, str] = {}
        offset = requests = 0
        for _ in range(100):  # Mailchimp caps an audience far below 100 pages of fields
            r = await self._call(
                "GET",
                f"{self._list_path}/merge-fields",
                params={
                    "count": 1000,
                    "offset": offset,
                    "fields": "merge_fields.tag,merge_fields.type,total_items",
                },
            )
            requests += 1
            data = r.data if isinstance(r.data, dict) else {}
            fields = data.get("merge_fields") or []
            types.update(
                {
                    str(f["tag"]): str(f.get("type") or "text")
                    for f in fields
                    if isinstance(f, dict) and "tag" in f
                }
            )
            offset += len(fields)
            if not fields or offset >= int(data.get("total_items") or 0):
                break
        return types, requests

    async def ensure_merge_fields(
        self, wanted: Sequence[tuple[str, str]], existing: set[str] | None = None
    ) -> tuple[list[str], int]:
        """Create the text fields in ``wanted`` ((tag, name) pairs) the audience lacks.

        ``existing``: the audience's tags if already read (else they are read first).
        Returns (tags created, requests).
        """
        requests = 0
        if existing is None:
            existing, requests = await self.merge_tags()
        created: list[str] = []
        from martech.http import create_once

        for tag, name in wanted:
            if tag in existing:
                continue

            async def create(tag: str = tag, name: str = name) -> str:
                nonlocal requests
                requests += 1
                r = await self._call(
                    "POST",
                    f"{self._list_path}/merge-fields",
                    json={"tag": tag, "name": name, "type": "text", "required": False},
                    idempotent=False,
                )
                got = r.data.get("tag") if isinstance(r.data, dict) else None
                if got != tag:
                    raise ConfigError(
                        f"mailchimp: creating merge field {tag} returned tag {got!r}; "
                        "rename the audience's field or remove it"
                    )
                return tag

            async def find(tag: str = tag) -> str | None:
                # a create whose answer was lost: the field may be there all the same
                nonlocal requests
                tags, read = await self.merge_tags()
                requests += read
                return tag if tag in tags else None

            await create_once(create, find, attempts=self.http.retry.max_attempts)
            created.append(tag)
        return created, requests

    async def push_recommendations(self, members: Sequence[Recipient]) -> dict[str, Any]:
        """Write each person's recommendations to their REC* merge fields.

        Fields are created first if missing (a second push creates none); then batch subscribe
        (``update_existing: true``, ``status_if_new`` for people not yet on the list), 500 a call.
        Every slot is written, empty past a person's items. Text longer than a merge field holds
        (255) is cut with "…"; a longer item id or url is left blank, never cut, and counted in
        ``values_left_blank``. Per-item errors are reported with
        the profile id and the vendor's reason, addresses masked; they are not retried here
        (429 and 5xx answers are, by the HTTP client).
        """
        types, requests = await self._merge_types()
        existing = set(types)
        # url fields once any item has a url; kept (and blanked) once the audience has them.
        urls = any(item.url for m in members for item in m.items) or any(
            t.startswith("REC") and t.endswith("URL") for t in existing
        )
        wanted = recommendation_fields(urls=urls)
        other = [(t, types[t]) for t, _ in wanted if types.get(t, "text") != "text"]
        if other:
            # Mailchimp would refuse every person's text in that field: say so before writing.
            listed = ", ".join(f"{t} is a {kind} field" for t, kind in other)
            raise ConfigError(
                f"mailchimp: the audience already has fields the recommendations need as text: "
                f"{listed}; rename or delete them in Mailchimp (Audience > Settings > Audience "
                "fields and merge tags), then push again"
            )
        created, n = await self.ensure_merge_fields(wanted, existing)
        requests += n
        status = self.config.status_if_new
        blank = sum(values_left_blank(m, urls=urls) for m in members)

        async def one(chunk: Sequence[Recipient]) -> tuple[int, int, int, list[dict[str, str]]]:
            by_email: dict[str, str] = {}
            entries: list[dict[str, Any]] = []
            for m in chunk:
                if m.email in by_email:
                    continue
                by_email[m.email] = m.profile_id
                entries.append(
                    {
                        "email_address": m.email,
                        "status": status,
                        "merge_fields": recommendation_values(m, urls=urls),
                    }
                )
            async with gate:
                r = await self._subscribe(entries, update_existing=True)
            refused = [
                {"profile_id": key, "reason": reason}
                for key, reason in sorted(self._reasons(r.data, by_email).items())
            ]
            return (
                len(entries),
                len(self._emails(r.data, "new_members")),
                len(self._emails(r.data, "updated_members")),
                refused,
            )

        # Batches in parallel up to the connection cap (the HTTP budget shares it per key).
        gate = asyncio.Semaphore(self.limits.concurrency)
        chunks = [members[i : i + MAX_BATCH] for i in range(0, len(members), MAX_BATCH)]
        results = await asyncio.gather(*(one(c) for c in chunks))
        requests += len(chunks)
        sent = sum(r[0] for r in results)
        new = sum(r[1] for r in results)
        updated = sum(r[2] for r in results)
        errors = [e for r in results for e in r[3]]
        return {
            "connector": self.name,
            "list_id": self.config.list_id,
            "sent": sent,
            "created": new,
            "updated": updated,
            "rejected": len(errors),
            "errors": errors,
            "merge_fields_created": created,
            "values_left_blank": blank,
            "requests": requests,
        }

    async def read_members(self, audience_id: str) -> AsyncIterator[str]:
        """The lowercased email addresses in the static segment, 1000 per page (the engine's
        paginator: a page that repeats an earlier one is a PaginationLoopError, not a loop)."""
        from martech.http import OffsetPaginator, paginate

        pages = paginate(
            self.http,
            "GET",
            f"{self._list_path}/segments/{audience_id}/members",
            paginator=OffsetPaginator(1000),
            items_path=("members",),
            params={"fields": "members.email_address,total_items"},
            headers=self._auth(),
        )
        async with aclosing(pages):
            async for page in pages:
                for m in page.items:
                    email = m.get("email_address") if isinstance(m, dict) else None
                    if isinstance(email, str):
                        yield email_key(email)

    # ------------------------------------------------------------------------------- parsing

    @staticmethod
    def _all_added(data: Any, sent: int) -> bool:
        """True when a segment answer says every one of ``sent`` distinct addresses was added."""
        return (
            isinstance(data, dict)
            and data.get("total_added") == sent
            and not data.get("errors")
            and not data.get("error_count")
        )

    @staticmethod
    def _emails(data: Any, key: str) -> set[str]:
        items = data.get(key) if isinstance(data, dict) else None
        return {
            email_key(str(m["email_address"]))
            for m in items or []
            if isinstance(m, dict) and isinstance(m.get("email_address"), str)
        }

    @staticmethod
    def _reason_pairs(data: Any) -> list[tuple[str, str]]:
        from .mapping import item_errors

        return [(email, _redact(reason)) for email, reason in item_errors(data)]

    @staticmethod
    def _reasons(data: Any, by_email: Mapping[str, str]) -> dict[str, str]:
        """Per-item errors by member key, with addresses masked out of the vendor's text."""
        return {key: _redact(reason) for key, reason in rejected_by_key(data, by_email).items()}


__all__ = ["MAX_BATCH", "MailchimpConnector"]
