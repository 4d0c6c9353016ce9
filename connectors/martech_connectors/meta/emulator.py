"""A Meta Marketing API emulator for Custom Audiences, on the Graph wire format.

Endpoints (``shared/research/vendor-apis.md`` §3.1), under ``/{version}``:

* ``GET|POST /act_{account}/customaudiences`` — list (``data`` + ``paging.cursors``) / create
  (``subtype=CUSTOM`` needs ``customer_file_source``);
* ``GET /{audience_id}`` — the audience with ``approximate_count_lower_bound``;
* ``POST|DELETE /{audience_id}/users`` — add / remove ``payload={schema, data}`` rows, at most
  10,000 per call, with optional ``session``; ``POST /{audience_id}/usersreplace`` — replace in a
  session (``session_id``, ``batch_seq``, ``last_batch_flag``): the audience switches to the
  session's rows when the last batch arrives.

Parameters arrive as a JSON body, a form body (``payload`` as JSON text) or a query string, as
Graph accepts all three. Users are held as hashes: a person is the set of identifiers of the rows
that named them, so removing by email removes someone added by email and phone. Hashed cells must
be 64 lowercase hex characters; anything else is an invalid entry, reported in
``num_invalid_entries`` and ``invalid_entry_samples`` (value -> reason).

Errors use the Graph envelope ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``. Injected throttling answers HTTP 400 (``throttle_status``) with code 80003
(custom-audience business-use-case limit) and an ``X-Business-Use-Case-Usage`` header.
Counters: ``users_added``, ``duplicate_adds`` (rows naming someone already in the audience),
``users_removed``, ``rows_received``.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

import orjson

from martech.sandbox import Emulator, Faults, json_response

from .mapping import MATCH_KEYS, MAX_ROWS, SCHEMA_KEYS, UNHASHED, is_hashed, sha256_hex

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

DEFAULT_TOKEN = "EAAsandboxTOKEN0123456789abcdefXYZ"
DEFAULT_ACCOUNT = "1234567890"
FILE_SOURCES = ("USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED")


@dataclass
class Audience:
    id: str
    account: str
    name: str
    description: str
    customer_file_source: str
    persons: dict[int, set[str]] = field(default_factory=dict)  # person -> identifiers
    index: dict[str, int] = field(default_factory=dict)  # identifier -> person

    def wire(self) -> dict[str, Any]:
        n = len(self.persons)
        return {
            "id": self.id,
            "account_id": self.account,
            "name": self.name,
            "description": self.description,
            "subtype": "CUSTOM",
            "customer_file_source": self.customer_file_source,
            "approximate_count_lower_bound": n,
            "approximate_count_upper_bound": n,
            "operation_status": {"code": 200, "description": "Normal"},
        }


@dataclass
class Session:
    audience_id: str
    seen: set[int] = field(default_factory=set)
    rows: list[set[str]] = field(default_factory=list)
    received: int = 0
    closed: bool = False


class MetaEmulator(Emulator):
    """Meta Custom Audiences in memory: audiences, users as hashes, sessions, Graph errors."""

    name: ClassVar[str] = "meta"

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        access_token: str | None = DEFAULT_TOKEN,
        accounts: Iterable[str] = (DEFAULT_ACCOUNT,),
        throttle_status: int = 400,
        regain_minutes: int = 0,
        latency: float | None = None,
    ) -> None:
        if latency is not None:
            faults = (faults or Faults()).model_copy(update={"latency": latency})
        #: The token requests must carry; None accepts any non-empty token.
        self.access_token = access_token
        self.accounts = {a.removeprefix("act_") for a in accounts}
        self.throttle_status = throttle_status
        self.regain_minutes = regain_minutes
        self.audiences: dict[str, Audience] = {}
        self.sessions: dict[tuple[str, int], Session] = {}
        self.users_added = 0
        self.duplicate_adds = 0
        self.users_removed = 0
        self.rows_received = 0
        self._ids = itertools.count(23851234567890001)
        self._persons = itertools.count(1)
        super().__init__(faults=faults)

    # ------------------------------------------------------------------------------ answers

    def graph_error(
        self,
        status: int,
        message: str,
        code: int,
        *,
        subcode: int | None = None,
        kind: str = "OAuthException",
        headers: dict[str, str] | None = None,
    ) -> Response:
        err: dict[str, Any] = {"message": message, "type": kind, "code": code}
        if subcode is not None:
            err["error_subcode"] = subcode
        err["fbtrace_id"] = secrets.token_urlsafe(8)
        return json_response({"error": err}, status, headers)

    def usage_header(self, account: str = DEFAULT_ACCOUNT) -> str:
        usage = {
            account: [
                {
                    "type": "custom_audience",
                    "call_count": 100,
                    "total_cputime": 12,
                    "total_time": 15,
                    "estimated_time_to_regain_access": self.regain_minutes,
                }
            ]
        }
        return orjson.dumps(usage).decode()

    def rate_limited(self, retry_after: str | None = None) -> Response:
        headers = {"X-Business-Use-Case-Usage": self.usage_header()}
        if retry_after is not None:  # Meta sends none; the conformance kit injects one
            headers["Retry-After"] = retry_after
        return self.graph_error(
            self.throttle_status,
            "(#80003) There have been too many calls to this ad-account. Wait a bit and try again.",
            80003,
            subcode=2446079,
            headers=headers,
        )

    def error(self, status: int, message: str) -> Response:
        return self.graph_error(
            status,
            "An unexpected error has occurred. Please retry your request later.",
            2,
            kind="OAuthException",
        )

    # ------------------------------------------------------------------------------ state API

    def create_audience(self, name: str, account: str = DEFAULT_ACCOUNT) -> str:
        audience_id = str(next(self._ids))
        with self.lock:
            self.audiences[audience_id] = Audience(
                audience_id, account, name, "", "USER_PROVIDED_ONLY"
            )
        return audience_id

    def seed_data(self, records: int, seed: int = 0) -> None:
        """One audience, "sandbox-seeded", holding ``records`` synthetic people (email hashes)."""
        audience_id = self.create_audience("sandbox-seeded")
        rows = [
            {f"EMAIL:{sha256_hex(f'member{i:07d}@sandbox.example.com')}"} for i in range(records)
        ]
        with self.lock:
            self._add(self.audiences[audience_id], rows)

    def identifiers(self, audience_id: str) -> set[str]:
        """Every identifier ("EMAIL:<hash>", …) held in the audience (for assertions)."""
        audience = self.audiences[audience_id]
        return {i for ids in audience.persons.values() for i in ids}

    def size(self, audience_id: str) -> int:
        return len(self.audiences[audience_id].persons)

    # ------------------------------------------------------------------------------- routes

    def connection(self, base_url: str) -> dict[str, str]:
        return {
            "base_url": base_url,
            "ad_account_id": f"act_{next(iter(self.accounts))}",
            "access_token": self.access_token or DEFAULT_TOKEN,
        }

    def routes(self) -> list[BaseRoute]:
        from starlette.routing import Route

        return [
            Route(
                "/{version}/act_{account}/customaudiences",
                self.customaudiences,
                methods=["GET", "POST"],
            ),
            Route("/{version}/{audience_id}/users", self.users, methods=["POST", "DELETE"]),
            Route("/{version}/{audience_id}/usersreplace", self.users, methods=["POST"]),
            Route("/{version}/{audience_id}", self.audience, methods=["GET"]),
        ]

    async def _params(self, request: Request) -> dict[str, Any]:
        """Graph parameters from the query string, a JSON body or a form body, merged."""
        params: dict[str, Any] = dict(request.query_params)
        body = await request.body()
        if body:
            ctype = request.headers.get("content-type", "")
            if "json" in ctype or body[:1] == b"{":
                try:
                    doc = orjson.loads(body)
                except orjson.JSONDecodeError:
                    doc = None
                if isinstance(doc, dict):
                    params.update(doc)
            else:
                for k, v in parse_qs(body.decode("utf-8", "replace")).items():
                    params[k] = v[-1]
        for name in ("payload", "session"):
            if isinstance(params.get(name), str):
                with contextlib.suppress(orjson.JSONDecodeError):
                    params[name] = orjson.loads(params[name])
        return params

    def _denied(self, request: Request, params: dict[str, Any]) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            token = ""
        token = token or str(params.get("access_token") or "")
        if not token:
            return self.graph_error(
                400,
                "An active access token must be used to query information about the current user.",
                2500,
            )
        if self.access_token is not None and token != self.access_token:
            return self.graph_error(
                400, "Invalid OAuth access token - Cannot parse access token", 190
            )
        return None

    async def customaudiences(self, request: Request) -> Response:
        params = await self._params(request)
        if (denied := self._denied(request, params)) is not None:
            return denied
        account = request.path_params["account"]
        if account not in self.accounts:
            return self.graph_error(
                400,
                f"Unsupported get request. Object with ID 'act_{account}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this "
                "operation.",
                100,
                subcode=33,
                kind="GraphMethodException",
            )
        if request.method == "GET":
            return self._list(request, account, params)
        name = params.get("name")
        if not isinstance(name, str) or not name.strip():
            return self.graph_error(400, "(#100) The parameter name is required", 100)
        if params.get("subtype", "CUSTOM") != "CUSTOM":
            return self.graph_error(400, "(#100) Only subtype CUSTOM is emulated", 100)
        source = params.get("customer_file_source")
        if source not in FILE_SOURCES:
            return self.graph_error(
                400,
                "(#100) customer_file_source must be one of " + ", ".join(FILE_SOURCES),
                100,
            )
        audience_id = str(next(self._ids))
        with self.lock:
            self.audiences[audience_id] = Audience(
                audience_id, account, name, str(params.get("description") or ""), str(source)
            )
        return json_response({"id": audience_id})

    def _list(self, request: Request, account: str, params: dict[str, Any]) -> Response:
        try:
            limit = max(1, min(int(params.get("limit", 25)), 500))
            start = int(params.get("after") or 0)
        except ValueError:
            return self.graph_error(400, "(#100) limit and after must be integers", 100)
        with self.lock:
            rows = [a for a in self.audiences.values() if a.account == account]
        page = rows[start : start + limit]
        fields = [f for f in str(params.get("fields") or "id").split(",") if f]
        data = [{k: v for k, v in a.wire().items() if k in fields or k == "id"} for a in page]
        doc: dict[str, Any] = {
            "data": data,
            "paging": {"cursors": {"before": str(start), "after": str(start + len(page))}},
        }
        if start + len(page) < len(rows):
            doc["paging"]["next"] = str(request.url.include_query_params(after=start + len(page)))
        return json_response(doc)

    async def audience(self, request: Request) -> Response:
        params = await self._params(request)
        if (denied := self._denied(request, params)) is not None:
            return denied
        audience = self.audiences.get(request.path_params["audience_id"])
        if audience is None:
            return self._missing(request.path_params["audience_id"])
        return json_response(audience.wire())

    def _missing(self, object_id: str) -> Response:
        return self.graph_error(
            400,
            f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            100,
            subcode=33,
            kind="GraphMethodException",
        )

    def _parse_rows(
        self, payload: Any
    ) -> tuple[list[set[str]], int, dict[str, str], Response | None]:
        """(identifier sets of valid rows, received, invalid samples, error answer)."""
        if not isinstance(payload, dict):
            return [], 0, {}, self.graph_error(400, "(#100) param payload must be an object", 100)
        schema = payload.get("schema")
        data = payload.get("data")
        if isinstance(schema, str):
            schema = [schema]
            data = [[d] for d in data] if isinstance(data, list) else data
        if not isinstance(schema, list) or not schema or not isinstance(data, list):
            return (
                [],
                0,
                {},
                self.graph_error(400, "(#100) payload needs schema and data arrays", 100),
            )
        keys = [str(k).upper().removesuffix("_SHA256") for k in schema]
        unknown = [k for k in keys if k not in SCHEMA_KEYS]
        if unknown:
            return (
                [],
                0,
                {},
                self.graph_error(400, f"(#100) Invalid schema key(s): {', '.join(unknown)}", 100),
            )
        if len(data) > MAX_ROWS:
            return (
                [],
                0,
                {},
                self.graph_error(
                    400,
                    f"(#100) Too many users in one request: {len(data)} given, at most {MAX_ROWS} "
                    "are allowed per call",
                    100,
                ),
            )
        valid: list[set[str]] = []
        samples: dict[str, str] = {}
        for row in data:
            if not isinstance(row, list) or len(row) != len(keys):
                samples[str(row)[:80]] = "row length does not match schema"
                continue
            ids: set[str] = set()
            bad = None
            for key, cell in zip(keys, row, strict=True):
                cell = "" if cell is None else str(cell)
                if not cell:
                    continue
                if key not in UNHASHED and not is_hashed(cell):
                    bad = (cell, f"{key} is not a SHA-256 hash of normalized data")
                    break
                if key in MATCH_KEYS or key == "EXTERN_ID":
                    ids.add(f"{key}:{cell}")
            if bad is None and not ids:
                bad = (str(row[0]), "row has no match key")
            if bad is None and self.fault_state.reject():
                first = next(c for c in row if c)
                bad = (str(first), "invalid entry")
            if bad is not None:
                if len(samples) < 100:
                    samples[bad[0]] = bad[1]
                continue
            valid.append(ids)
        return valid, len(data), samples, None

    def _add(self, audience: Audience, rows: list[set[str]]) -> None:
        for ids in rows:
            owners = {audience.index[i] for i in ids if i in audience.index}
            if owners:
                self.duplicate_adds += 1
                person = min(owners)
                for other in owners - {person}:  # one row joined two people: merge them
                    audience.persons[person] |= audience.persons.pop(other)
            else:
                person = next(self._persons)
                audience.persons[person] = set()
                self.users_added += 1
            audience.persons[person] |= ids
            for i in audience.persons[person]:
                audience.index[i] = person

    def _remove(self, audience: Audience, rows: list[set[str]]) -> None:
        for ids in rows:
            for person in {audience.index[i] for i in ids if i in audience.index}:
                for i in audience.persons.pop(person):
                    audience.index.pop(i, None)
                self.users_removed += 1

    async def users(self, request: Request) -> Response:
        params = await self._params(request)
        if (denied := self._denied(request, params)) is not None:
            return denied
        audience_id = request.path_params["audience_id"]
        audience = self.audiences.get(audience_id)
        if audience is None:
            return self._missing(audience_id)
        replace = request.url.path.endswith("/usersreplace")
        rows, received, samples, bad = self._parse_rows(params.get("payload"))
        if bad is not None:
            return bad
        session = params.get("session")
        if session is not None and not isinstance(session, dict):
            return self.graph_error(400, "(#100) param session must be an object", 100)
        if replace and session is None:
            return self.graph_error(400, "(#100) usersreplace requires a session", 100)
        session_id: int | None = None
        invalid = received - len(rows)
        with self.lock:
            self.rows_received += received
            if session is not None:
                try:
                    session_id = int(session["session_id"])
                    seq = int(session.get("batch_seq", 1))
                except (KeyError, TypeError, ValueError):
                    return self.graph_error(
                        400, "(#100) session needs an integer session_id and batch_seq", 100
                    )
                state = self.sessions.setdefault((audience_id, session_id), Session(audience_id))
                if state.closed:
                    return self.graph_error(
                        400, f"(#100) session {session_id} has already finished", 100
                    )
                replayed = seq in state.seen
                state.seen.add(seq)
                state.received += received
                if replace:
                    if not replayed:
                        state.rows.extend(rows)
                    if session.get("last_batch_flag") is True:
                        audience.persons.clear()
                        audience.index.clear()
                        self._add(audience, state.rows)
                        state.closed = True
                    rows = []  # staged; applied when the last batch arrives
            if request.method == "DELETE":
                self._remove(audience, rows)
            else:
                self._add(audience, rows)
        answer: dict[str, Any] = {
            "audience_id": audience_id,
            "session_id": str(session_id if session_id is not None else uuid.uuid4().int >> 65),
            "num_received": received,
            "num_invalid_entries": invalid,
            "invalid_entry_samples": samples,
        }
        return json_response(answer)


__all__ = ["DEFAULT_ACCOUNT", "DEFAULT_TOKEN", "MetaEmulator"]
