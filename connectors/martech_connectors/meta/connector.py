"""The Meta Custom Audiences connector: push a segment as a customer-file custom audience.

People leave as multi-key rows (``EMAIL, PHONE, FN, LN, CT, COUNTRY`` by default), each cell
normalized and SHA-256 hashed per Meta's rules (:mod:`.mapping`); at most 10,000 rows per call.
``add_members`` / ``remove_members`` are ``POST`` / ``DELETE /{audience_id}/users``;
``replace_members`` uploads a whole audience through ``/usersreplace`` in one session
(``session_id``, ``batch_seq``, ``last_batch_flag``, ``estimated_num_total``).

Before an upload, :meth:`MetaConnector.preflight` reports match quality (valid emails and phones,
duplicates after normalization, keys per row) and refuses audiences under
``min_audience_size`` matchable people. Meta throttles with HTTP 400 and Graph codes 17, 613,
80003/80004; :func:`.mapping.classify_graph` is registered with the HTTP engine so those are
retried like 429s, waiting as ``X-Business-Use-Case-Usage`` says.

Meta does not let anyone read a custom audience's members back, so ``read_members`` is not
offered; reconciliation relies on the ledger.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from martech.connector import AudienceMember, BatchOutcome, Connector, ConnectorKind, Limits
from martech.errors import ConfigError, ValidationError
from martech.http.retry import CLASSIFY_HOOKS
from martech.models import Capability

from .config import MetaConfig
from .mapping import (
    MAX_ROWS,
    MatchQuality,
    build_rows,
    check_minimum,
    classify_graph,
    hash_value,
    invalid_keys,
    match_quality,
)

if TYPE_CHECKING:
    from martech.http import HttpClient, Response

CLASSIFY_HOOKS.setdefault("meta", classify_graph)  # type: ignore[arg-type]


class MetaConnector(Connector):
    """Meta Marketing API custom audiences (subtype CUSTOM, customer file)."""

    name: ClassVar[str] = "meta"
    kind: ClassVar[ConnectorKind] = "ads"
    Config: ClassVar[type[MetaConfig]] = MetaConfig
    # Business-use-case limits are per ad account and not published as a fixed rate; keep a few
    # calls in flight and let throttling answers (X-Business-Use-Case-Usage) drive the waits.
    # The audience is found by name (one page of 500); each batch is one call, nothing more.
    limits: ClassVar[Limits] = Limits(concurrency=4, batch_count=MAX_ROWS)
    emulator: ClassVar[str | None] = "martech_connectors.meta.emulator:MetaEmulator"
    identity_keys: ClassVar[tuple[str, ...]] = ("email", "phone")

    config: MetaConfig

    def __init__(self, *, config: Any, http: HttpClient | None = None) -> None:
        super().__init__(config=config, http=http)
        if self.config.batch_rows < self.limits.batch_count:
            # The sync engine cuts batches by limits.batch_count: make batch_rows the rows per
            # /users call there too, not only in replace_members.
            self.limits = self.limits.model_copy(  # type: ignore[misc]
                update={"batch_count": self.config.batch_rows}
            )
        if http is not None and http.vendor == "vendor":
            # Graph throttling arrives as HTTP 400 + code: name the vendor so the engine's
            # classify and wait hooks for Meta apply to an injected client too.
            http.vendor = "meta"

    def ledger_scope(self) -> str:
        """The Graph API's address and the ad account the audiences belong to."""
        return f"{super().ledger_scope()} account {self.config.ad_account_id}"

    def capabilities(self) -> list[Capability]:
        return [
            Capability(
                name="push_audience",
                inputs=[
                    "identities.email",
                    "identities.phone",
                    "traits.first_name",
                    "traits.last_name",
                    "traits.city",
                    "traits.country",
                ],
                description="Customer-file custom audience; SHA-256 multi-key rows, 10,000 per "
                "call, sessions for replace, match-quality pre-flight and minimum size guard.",
            )
        ]

    # ------------------------------------------------------------------------------ plumbing

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.access_token.get_secret_value()}"}

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from martech.http import HttpClient

            self._http = HttpClient(
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                limits=self.limits,
                headers=self._auth(),
                vendor="meta",
            )
        return self._http

    def _path(self, tail: str) -> str:
        return f"/{self.config.api_version}/{tail.lstrip('/')}"

    async def _call(
        self, method: str, tail: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Response:
        return await self.http.request(
            method, self._path(tail), params=params, json=json, headers=self._auth()
        )

    # ------------------------------------------------------------------------------ hashing

    @classmethod
    def worked_examples(cls) -> list[tuple[str, Any, Any, Any]]:
        """Meta's multi-key example (``vendor-apis.md`` §3.1): raw inputs -> documented hashes."""

        def cell(key: str) -> Any:
            return lambda value: hash_value(key, value)

        return [
            ("EMAIL", cell("EMAIL"), " Jane.Doe@Example.com ",
             "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"),
            ("PHONE, digits with country code and no +", cell("PHONE"), "+1 (650) 555-1212",
             "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
            ("FN", cell("FN"), "Jane",
             "81f8f6dde88365f3928796ec7aa53f72820b06db8664f5fe76a7eb13e24546a2"),
            ("LN", cell("LN"), "Doe",
             "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f"),
        ]  # fmt: skip

    @staticmethod
    def hash_identity(kind: str, value: str, *, country: str | None = None) -> str:
        """The hash Meta matches on for one identity (``email``, ``phone``, or a schema key)."""
        key = {"email": "EMAIL", "phone": "PHONE", "first_name": "FN", "last_name": "LN"}.get(
            kind, kind.upper()
        )
        return hash_value(key, value, country=country)

    def match_quality(self, members: Sequence[AudienceMember]) -> MatchQuality:
        """What Meta will be able to match, counted before anything is sent."""
        return match_quality(
            members, self.config.schema_keys, minimum=self.config.min_audience_size
        )

    def preflight(self, members: Sequence[AudienceMember]) -> MatchQuality:
        """The match-quality report; raises ValidationError below ``min_audience_size``."""
        report = self.match_quality(members)
        check_minimum(report)
        return report

    # ------------------------------------------------------------------------------ audience

    async def ensure_audience(self, audience: str) -> str:
        """The id of the account's custom audience named ``audience``, created if missing.

        The create is made once: after a 5xx or timeout (Meta may have made it and only the
        answer was lost) the audience is looked up by name before trying again, so a second
        audience of the same name is never made.
        """
        from martech.http import create_once

        name = audience.strip()
        if not name:
            raise ValidationError("audience: expected a non-empty custom audience name")
        found = await self._find_audience(name)
        if found is not None:
            return found

        async def create() -> str:
            r = await self.http.request(
                "POST",
                self._path(f"{self.config.account}/customaudiences"),
                json={
                    "name": name,
                    "subtype": "CUSTOM",
                    "description": "Synced by martech",
                    "customer_file_source": self.config.customer_file_source,
                },
                headers=self._auth(),
                idempotent=False,
            )
            if not isinstance(r.data, dict) or "id" not in r.data:
                raise ConfigError("meta: creating the custom audience returned no id")
            return str(r.data["id"])

        return await create_once(
            create, lambda: self._find_audience(name), attempts=self.http.retry.max_attempts
        )

    async def _find_audience(self, name: str) -> str | None:
        """The id of the account's custom audience called ``name``, or None."""
        after: str | None = None
        for _ in range(1000):
            params: dict[str, Any] = {"fields": "id,name", "limit": 500}
            if after is not None:
                params["after"] = after
            r = await self._call("GET", f"{self.config.account}/customaudiences", params=params)
            data = r.data if isinstance(r.data, dict) else {}
            for item in data.get("data") or []:
                if isinstance(item, dict) and item.get("name") == name:
                    return str(item["id"])
            paging = data.get("paging") or {}
            nxt = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not nxt or nxt == after:
                break
            after = str(nxt)
        return None

    async def _send(
        self,
        method: str,
        audience_id: str,
        members: Sequence[AudienceMember],
        *,
        endpoint: str = "users",
        session: dict[str, Any] | None = None,
    ) -> BatchOutcome:
        if len(members) > MAX_ROWS:
            raise ValidationError(
                f"members: at most {MAX_ROWS} rows per Meta call, got {len(members)}",
                field="members",
            )
        schema = self.config.schema_keys
        rows, keys, rejected = build_rows(members, schema)
        if not rows and session is None:
            return BatchOutcome(accepted=[], rejected=rejected, requests=0)
        # is_raw: true marks a multi-key payload of individually hashed keys (Meta's example
        # and the official SDK, which refuses multi-key schemas without it).
        body: dict[str, Any] = {"payload": {"schema": list(schema), "is_raw": True, "data": rows}}
        if session is not None:
            body["session"] = session
        r = await self._call(method, f"{audience_id}/{endpoint}", json=body)
        data = r.data if isinstance(r.data, dict) else {}
        rejected.update(invalid_keys(data.get("invalid_entry_samples"), rows, keys))
        accepted = [k for k in keys if k not in rejected]
        return BatchOutcome(accepted=accepted, rejected=rejected, requests=1)

    async def add_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        """Add one batch (≤ 10,000 rows): ``POST /{audience_id}/users``."""
        return await self._send("POST", audience_id, members)

    async def remove_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        """Remove one batch: ``DELETE /{audience_id}/users``; non-members are a no-op."""
        return await self._send("DELETE", audience_id, members)

    async def replace_members(
        self, audience_id: str, members: Sequence[AudienceMember], *, session_id: int | None = None
    ) -> BatchOutcome:
        """Replace the whole audience in one ``/usersreplace`` session of 10,000-row batches.

        Runs :meth:`preflight` first, so an audience under the minimum size is never sent.
        """
        self.preflight(members)
        session_id = session_id or random.SystemRandom().randrange(1, 2**62)
        size = self.config.batch_rows
        chunks = [members[i : i + size] for i in range(0, len(members), size)] or [[]]
        accepted: list[str] = []
        rejected: dict[str, str] = {}
        requests = 0
        for seq, chunk in enumerate(chunks, start=1):
            outcome = await self._send(
                "POST",
                audience_id,
                chunk,
                endpoint="usersreplace",
                session={
                    "session_id": session_id,
                    "batch_seq": seq,
                    "last_batch_flag": seq == len(chunks),
                    "estimated_num_total": len(members),
                },
            )
            accepted.extend(outcome.accepted)
            rejected.update(outcome.rejected)
            requests += outcome.requests
        return BatchOutcome(accepted=accepted, rejected=rejected, requests=requests)

    async def audience_size(self, audience_id: str) -> int:
        """Meta's approximate count for the audience (lower bound)."""
        r = await self._call("GET", audience_id, params={"fields": "approximate_count_lower_bound"})
        data = r.data if isinstance(r.data, dict) else {}
        return int(data.get("approximate_count_lower_bound") or 0)


__all__ = ["MetaConnector"]
