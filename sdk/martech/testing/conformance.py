"""The connector conformance kit: one pytest class a connector author subclasses.

::

    from martech.testing.conformance import ConnectorConformance
    from martech_acme.connector import AcmeConnector

    class TestAcmeConformance(ConnectorConformance):
        connector = AcmeConnector            # its ``emulator`` import path is used

        def config(self, base_url):
            return AcmeConnector.Config(base_url=base_url, api_key="test-key")

Every check runs offline against the connector's own emulator served on 127.0.0.1 (the real wire
format, real sockets), each in about a second:

- adding the same members twice is idempotent; removing a non-member is a no-op;
- a 429 with ``Retry-After`` in seconds and as an HTTP-date is waited out as asked;
- a burst of 5xx is retried within bounds, and a persistent one gives up with a typed error;
- a partially refused batch is reported item by item;
- a pagination loop is caught (``PaginationLoopError``);
- a sync killed after some batches resumes with no duplicate adds and nothing lost;
- normalization/hashing matches the platform's worked examples (``worked_examples()``);
- no secret and no raw email/phone shows up in captured logs or error messages.

Hooks to override when the vendor needs it: :meth:`config` (required), :meth:`profiles` (the
people used), :meth:`prepare_emulator` (vendor-side records that must exist first, e.g. list
members), :meth:`make_emulator`, :meth:`duplicate_adds` (default: the emulator's
``duplicate_adds`` counter), ``loop_members`` and ``audience``.

Connector hooks the kit reads: ``worked_examples()`` — a classmethod returning
:class:`~martech.testing.reference.WorkedExample` tuples ``(name, func, given, expected)`` from
the vendor's documentation; ``vendor_key(member)`` — what ``read_members`` yields for a member,
when that is not the martech key. Emulators should implement per-item refusals with
``self.fault_state.reject()`` and count re-adds of existing members in ``duplicate_adds``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..connector import AudienceMember, BatchOutcome, Connector, ConnectorConfig
from ..errors import ConfigError, RetriableVendorError
from ..http import RetryPolicy, run_sync
from ..models import Profile
from ..sandbox import Burst, Emulator, Faults, load_emulator
from ..store import Store

_WAIT = re.compile(r"retry \d+ in ([0-9.]+)s")


class SimulatedKill(Exception):
    """Raised by the kit's crashing connector after N batches reached the vendor."""


class ConnectorConformance:
    """Subclass with ``connector = YourConnector`` and a :meth:`config`; pytest does the rest."""

    connector: ClassVar[type[Connector]]
    #: The emulator class; default: the connector's ``emulator`` import path.
    emulator: ClassVar[type[Emulator] | None] = None
    audience: ClassVar[str] = "martech-conformance"
    #: Members added before reading with a looping paginator (more than one page).
    loop_members: ClassVar[int] = 250
    #: Profiles used by the kill-and-resume check (several small batches).
    kill_members: ClassVar[int] = 30

    # -------------------------------------------------------------------------------- hooks

    def config(self, base_url: str) -> ConnectorConfig:
        """The connector's config pointing at ``base_url``. Override (credentials etc.)."""
        return self.connector.Config(base_url=base_url)

    def make_emulator(self, faults: Faults | None = None) -> Emulator:
        cls = self.emulator
        if cls is None:
            if not self.connector.emulator:
                raise ConfigError(f"{self.connector.name}: set `emulator` on the connector")
            cls = load_emulator(self.connector.emulator)
        return cls(faults=faults)

    def profiles(self, n: int, start: int = 0) -> list[Profile]:
        """People with every common identity and every consent."""
        return [
            Profile(
                id=f"conf-{i:05d}",
                identities={
                    "email": f"Conformance.Person{i}@Example.com",
                    "phone": f"+1415555{i % 10000:04d}",
                },
                traits={"first_name": f"Person{i}", "last_name": "Conformance"},
                consent={"email": True, "sms": True, "push": True, "ad": True},
            )
            for i in range(start, start + n)
        ]

    def prepare_emulator(self, emulator: Emulator, profiles: list[Profile]) -> None:
        """Create vendor-side records the audience needs first (e.g. list members)."""

    def duplicate_adds(self, emulator: Emulator) -> int | None:
        value = getattr(emulator, "duplicate_adds", None)
        return None if value is None else int(value)

    # ---------------------------------------------------------------------------- machinery

    def members(self, profiles: list[Profile]) -> list[AudienceMember]:
        from ..identity import normalize_identity

        keys = self.connector.identity_keys
        out = []
        for p in profiles:
            ids = {}
            for k, v in p.identities.items():
                if k in keys:
                    ids[k] = normalize_identity(k, v) or v
            out.append(AudienceMember(key=p.id, identities=ids, traits=p.traits))
        return out

    @contextmanager
    def served(self, faults: Faults | None = None) -> Iterator[tuple[Emulator, Connector]]:
        from ..http.budget import forget_budgets

        forget_budgets()
        emulator = self.make_emulator(faults)
        with emulator.serve() as url:
            connector = self.connector(config=self.config(url))
            try:
                yield emulator, connector
            finally:
                run_sync(connector.aclose())

    def _read(self, connector: Connector, audience_id: str) -> set[str] | None:
        async def go() -> set[str] | None:
            try:
                stream = connector.read_members(audience_id)
            except ConfigError:
                return None
            return {k async for k in stream}

        return run_sync(go())

    def _key(self, connector: Connector, member: AudienceMember) -> str:
        key_of = getattr(connector, "vendor_key", None)
        return str(key_of(member)) if key_of else member.key

    def _add(self, connector: Connector, members: list[AudienceMember]) -> tuple[str, BatchOutcome]:
        async def go() -> tuple[str, BatchOutcome]:
            audience_id = await connector.ensure_audience(self.audience)
            return audience_id, await connector.add_members(audience_id, members)

        return run_sync(go())

    # ------------------------------------------------------------------------------- checks

    def test_adding_the_same_members_twice_is_idempotent(self) -> None:
        profiles = self.profiles(5)
        members = self.members(profiles)
        with self.served() as (emulator, connector):
            self.prepare_emulator(emulator, profiles)
            audience_id, first = self._add(connector, members)
            _, second = self._add(connector, members)
            assert not first.rejected
            assert not second.rejected
            present = self._read(connector, audience_id)
            if present is not None:
                assert {self._key(connector, m) for m in members} <= present
                assert len(present) == len(members)

    def test_removing_a_non_member_is_a_noop(self) -> None:
        profiles = self.profiles(3, start=100)
        members = self.members(profiles)
        with self.served() as (emulator, connector):
            self.prepare_emulator(emulator, profiles)

            async def go() -> BatchOutcome:
                audience_id = await connector.ensure_audience(self.audience)
                return await connector.remove_members(audience_id, members)

            outcome = run_sync(go())
            assert not outcome.rejected

    def _retry_waits(self, caplog: pytest.LogCaptureFixture, faults: Faults) -> list[float]:
        profiles = self.profiles(2, start=200)
        with self.served(faults) as (emulator, connector):
            self.prepare_emulator(emulator, profiles)
            with caplog.at_level(logging.INFO, logger="martech"):
                _, outcome = self._add(connector, self.members(profiles))
            assert not outcome.rejected
            assert emulator.injected["429"] == 1
        return [float(m) for m in _WAIT.findall(caplog.text)]

    def test_429_retry_after_seconds_is_honoured(self, caplog: pytest.LogCaptureFixture) -> None:
        faults = Faults(too_many_requests=Burst(first=1), retry_after="1")
        waits = self._retry_waits(caplog, faults)
        assert waits == [1.0], f"expected one wait of exactly Retry-After=1s, saw {waits}"

    def test_429_retry_after_http_date_is_honoured(self, caplog: pytest.LogCaptureFixture) -> None:
        # Whole seconds, set before the emulator starts: the wait is a little under 4 s.
        when = datetime.now(UTC) + timedelta(seconds=4)
        faults = Faults(too_many_requests=Burst(first=1), retry_after=format_datetime(when, True))
        waits = self._retry_waits(caplog, faults)
        assert len(waits) == 1
        assert 0.0 < waits[0] <= 4.0, f"HTTP-date 4s ahead should mean a wait of <4s, saw {waits}"

    def test_a_5xx_burst_is_retried_and_a_persistent_one_gives_up(self) -> None:
        profiles = self.profiles(2, start=300)
        members = self.members(profiles)
        quick = RetryPolicy(max_attempts=4, backoff_base=0.05, max_wait=0.2)
        with self.served(Faults(server_errors=Burst(first=2))) as (emulator, connector):
            self.prepare_emulator(emulator, profiles)
            connector.http.retry = quick
            _, outcome = self._add(connector, members)
            assert not outcome.rejected
            assert emulator.injected["5xx"] == 2
        with self.served(Faults(server_errors=Burst(first=10_000))) as (emulator, connector):
            self.prepare_emulator(emulator, profiles)
            connector.http.retry = quick
            before = emulator.total_requests
            with pytest.raises(RetriableVendorError):
                self._add(connector, members)
            assert emulator.total_requests - before <= quick.max_attempts

    def test_a_partially_refused_batch_is_reported_per_item(self) -> None:
        profiles = self.profiles(40, start=400)
        members = self.members(profiles)
        with self.served(Faults(reject_rate=0.3, seed=7)) as (emulator, connector):
            self.prepare_emulator(emulator, profiles)
            _, outcome = self._add(connector, members)
        keys = {m.key for m in members}
        assert outcome.rejected, "the emulator refused items but the connector reported none"
        assert set(outcome.rejected) <= keys
        assert not set(outcome.rejected) & set(outcome.accepted)
        assert all(reason for reason in outcome.rejected.values())
        assert len(outcome.rejected) == emulator.injected["rejected"]

    def test_a_pagination_loop_is_caught(self) -> None:
        from ..http import PaginationLoopError

        with self.served(Faults(pages="loop")) as (emulator, connector):
            if connector.supports("pull_profiles"):
                emulator.seed_data(self.loop_members, 1)

                async def pull() -> None:
                    async for _ in connector.pull_profiles():
                        pass

                with pytest.raises(PaginationLoopError):
                    run_sync(pull())
                return
            profiles = self.profiles(self.loop_members, start=1000)
            self.prepare_emulator(emulator, profiles)
            audience_id, _ = self._add(connector, self.members(profiles))
            try:
                self._read(connector, audience_id)
            except PaginationLoopError:
                return
            pytest.skip(f"{self.connector.name} neither pulls profiles nor reads members")

    def test_a_killed_sync_resumes_with_no_duplicates(self, tmp_path: Path) -> None:
        from .. import sync

        profiles = self.profiles(self.kill_members, start=2000)
        small = self.connector.limits.model_copy(update={"batch_count": 5, "concurrency": 2})
        calls = 0

        class Crashing(self.connector):  # type: ignore[name-defined,misc]
            limits = small

            async def add_members(self, audience_id: str, members: Any) -> BatchOutcome:
                nonlocal calls
                outcome: BatchOutcome = await super().add_members(audience_id, members)
                calls += 1
                if calls == 2:
                    raise SimulatedKill("killed after the vendor took batch 2")
                return outcome

        class Small(self.connector):  # type: ignore[name-defined,misc]
            limits = small

        spec = sync.SyncSpec(audience=self.audience, members=[p.id for p in profiles])
        with Store(tmp_path / "kit.duckdb") as store, self.served() as (emulator, connector):
            store.upsert_profiles(profiles)
            self.prepare_emulator(emulator, profiles)
            with pytest.raises(SimulatedKill):
                sync.apply(store, Crashing(config=connector.config), spec)
            result = sync.apply(store, Small(config=connector.config), spec)
            assert result.complete
            assert not result.rejected
            assert not result.invalid
            ledger = store.con.execute(
                "SELECT count(*) FROM sync_ledger WHERE audience = ? AND state = 'present'",
                [self.audience],
            ).fetchall()[0][0]
            assert ledger == len(profiles)
            duplicates = self.duplicate_adds(emulator)
            if duplicates is not None:
                assert duplicates == 0, f"{duplicates} members were added twice"
            audience_id = run_sync(connector.ensure_audience(self.audience))
            present = self._read(connector, audience_id)
            if present is not None:
                assert {self._key(connector, m) for m in self.members(profiles)} == present

    def test_hashing_matches_the_platforms_worked_examples(self) -> None:
        examples = getattr(self.connector, "worked_examples", None)
        if examples is None:
            pytest.skip(f"{self.connector.name} declares no worked_examples()")
        cases = list(examples())
        assert cases, "worked_examples() returned nothing"
        for name, func, given, expected in cases:
            assert func(given) == expected, f"worked example {name!r}: {given!r}"

    def test_no_secret_or_raw_pii_in_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        profiles = self.profiles(4, start=500)
        members = self.members(profiles)
        faults = Faults(too_many_requests=Burst(first=1), retry_after="0", reject_rate=0.5)
        errors: list[str] = []
        with self.served(faults) as (emulator, connector):
            self.prepare_emulator(emulator, profiles)
            with caplog.at_level(logging.DEBUG):
                _, outcome = self._add(connector, members)
                errors.extend(outcome.rejected.values())
            secrets = [
                v.get_secret_value()
                for v in connector.config.__dict__.values()
                if hasattr(v, "get_secret_value")
            ]
        text = caplog.text + "\n".join(errors)
        for secret in secrets:
            assert secret not in text, "a secret leaked into the logs"
        for p in profiles:
            for kind in ("email", "phone"):
                raw = p.identities[kind]
                assert raw not in text, f"a raw {kind} leaked into the logs"
                assert raw.lower() not in text, f"a raw {kind} leaked into the logs"


__all__ = ["ConnectorConformance", "SimulatedKill"]
