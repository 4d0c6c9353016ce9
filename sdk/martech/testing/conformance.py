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

- ``ensure_audience`` twice gives the same audience; adding the same members twice is idempotent;
  removing a non-member is a no-op;
- a 429 with ``Retry-After`` in seconds and as an HTTP-date is waited out as asked;
- a burst of 5xx is retried within bounds, and a persistent one gives up with a typed error;
- a partially refused batch is reported item by item;
- a pagination loop is caught (``PaginationLoopError``) by every read the connector offers;
- a sync killed after some batches resumes with no duplicate adds and nothing lost;
- normalization/hashing matches the platform's worked examples (``worked_examples()``);
- no secret and no raw email/phone shows up in the logs of any operation the kit drives, nor in
  the messages of the errors and per-item refusals the connector reports.

Hooks to override when the vendor needs it: :meth:`config` (default
``connector.Config(base_url=base_url)``; override it whenever the config needs more, e.g.
credentials), :meth:`profiles` (the people used), :meth:`prepare_emulator` (vendor-side records
that must exist first, e.g. list members), :meth:`make_emulator`, :meth:`duplicate_adds`
(default: the emulator's ``duplicate_adds`` counter), :meth:`audience_size`, and the class
attributes ``emulator``, ``audience``, ``loop_members`` and ``kill_members``.

``read_members`` is optional, as it is for :mod:`martech.sync` (which, without it, re-sends the
batches a crash left uncertain instead of reconciling them). Without it (it raises ``ConfigError``,
the base class's "not implemented"), the checks that read membership back count the people the
emulator holds instead (:meth:`audience_size`, by default the emulator's ``size(audience_id)``),
and a resumed sync may re-send at most the batches that were in flight when it was killed; with
neither, those checks are skipped, naming what is missing.

Connector hooks the kit reads: ``worked_examples()`` — a classmethod returning
:class:`~martech.testing.reference.WorkedExample` tuples ``(name, func, given, expected)`` from
the vendor's documentation; ``vendor_key(member)`` — what ``read_members`` yields for a member,
when that is not the martech key. Emulators should implement per-item refusals with
``self.fault_state.reject()`` and count re-adds of existing members in ``duplicate_adds``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
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

    def audience_size(self, emulator: Emulator, audience_id: str) -> int | None:
        """How many people the emulator holds in the audience, or None if it cannot say.

        Used only when the connector cannot read an audience back (no ``read_members``): the
        kit then checks counts on the vendor's side instead of keys. Default: the emulator's
        ``size(audience_id)`` method, when it has one.
        """
        size = getattr(emulator, "size", None)
        return None if size is None else int(size(audience_id))

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
        """The member keys ``read_members`` yields, or None when it is not implemented.

        Same rule as :mod:`martech.sync`: calling ``read_members`` raises ``ConfigError`` when the
        connector cannot read an audience back (the base class does).
        """
        keys = self._read_all(connector, audience_id)
        return None if keys is None else set(keys)

    def _read_all(self, connector: Connector, audience_id: str) -> list[str] | None:
        """Every key ``read_members`` yields, repeats included (None: not implemented)."""

        async def go() -> list[str] | None:
            try:
                stream = connector.read_members(audience_id)
            except ConfigError:
                return None
            return [k async for k in stream]

        return run_sync(go())

    def _read_back(
        self, emulator: Emulator, connector: Connector, audience_id: str, check: str
    ) -> set[str] | int:
        """The audience's member keys (``read_members``), or, when the connector cannot read
        it back, how many people the emulator holds (:meth:`audience_size`); skip, naming
        both, when neither is there."""
        present = self._read(connector, audience_id)
        if present is not None:
            return present
        size = self.audience_size(emulator, audience_id)
        if size is None:
            pytest.skip(
                f"{self.connector.name} does not implement read_members, so the kit cannot read "
                f"the audience back to check {check} (everything else this check asserts "
                "passed), and its emulator has no size(audience_id) to count it instead "
                "(override audience_size). martech.sync then re-sends the batches a crash left "
                "uncertain instead of reconciling them (adds must be idempotent); implement "
                "read_members (and vendor_key) if the vendor can list members"
            )
        return size

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
            again, second = self._add(connector, members)
            assert again == audience_id, (
                f"ensure_audience({self.audience!r}) returned {audience_id!r}, then {again!r}: "
                "called again with the same name it must return the existing audience, not "
                "create another"
            )
            assert not first.rejected, f"adding new members was refused: {first.rejected}"
            assert not second.rejected, (
                f"adding members already in the audience was refused: {second.rejected}"
            )
            present = self._read_back(
                emulator,
                connector,
                audience_id,
                "that adding the same members twice holds each once",
            )
            if isinstance(present, int):
                assert present == len(members), (
                    f"the emulator holds {present} people after the same {len(members)} members "
                    "were added twice"
                )
                return
            expected = {self._key(connector, m) for m in members}
            assert expected <= present, (
                f"read_members misses {len(expected - present)} of the {len(expected)} members "
                "added (vendor_key(member) must be what read_members yields)"
            )
            assert len(present) == len(members), (
                f"read_members yields {len(present)} members after the same {len(members)} "
                "were added twice"
            )

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

        advice = "raise PaginationLoopError (martech.http.paginate does)"
        with self.served(Faults(pages="loop")) as (emulator, connector):
            pulls = connector.supports("pull_profiles")
            pushes = connector.supports("push_audience")
            if pulls:
                emulator.seed_data(self.loop_members, 1)
                try:
                    run_sync(_drain(connector.pull_profiles()))
                except PaginationLoopError:
                    pass
                else:
                    pytest.fail(f"pull_profiles returned while the vendor's pages looped; {advice}")
        if not pushes:
            if pulls:
                return  # pull_profiles is its only read, checked above
            pytest.skip(
                f"{self.connector.name} reads nothing page by page: it claims neither "
                "pull_profiles nor push_audience"
            )
        with self.served(Faults(pages="loop")) as (emulator, connector):
            profiles = self.profiles(self.loop_members, start=1000)
            self.prepare_emulator(emulator, profiles)
            audience_id, _ = self._add(connector, self.members(profiles))
            try:
                keys = self._read_all(connector, audience_id)
            except PaginationLoopError:
                return
        if keys is None:
            if pulls:
                return  # read_members is not implemented; pull_profiles was checked above
            pytest.skip(
                f"{self.connector.name} reads nothing page by page: it does not claim "
                "pull_profiles, and it claims push_audience without implementing read_members"
            )
        if len(keys) > len(set(keys)):
            pytest.fail(
                f"read_members returned while the vendor's pages looped; {advice}. It yielded "
                f"{len(keys)} keys, {len(set(keys))} distinct."
            )
        if not pulls:
            pytest.skip(
                f"the {self.connector.name} emulator served read_members no looping pages (each "
                f"of the {len(keys)} keys came once): set loop_members above read_members' page "
                "size, or make the emulator loop that route when Faults(pages='loop')"
            )

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
            audience_id = run_sync(connector.ensure_audience(self.audience))
            present = self._read_back(
                emulator,
                connector,
                audience_id,
                "that the resumed sync added nobody twice and lost nobody",
            )
            duplicates = self.duplicate_adds(emulator)
            if isinstance(present, int):
                # No read-back: the resume re-sends the batches in flight at the kill (at most
                # `concurrency` of them); the vendor must hold each person once all the same.
                assert present == len(profiles), (
                    f"after the resume the emulator holds {present} people for the "
                    f"{len(profiles)} synced: adds must be idempotent, since without read_members "
                    "the sync re-sends the batches a crash left uncertain"
                )
                in_flight = small.concurrency * small.batch_count
                assert duplicates is None or duplicates <= in_flight, (
                    f"{duplicates} members were sent again after the resume; without "
                    f"read_members only the batches in flight at the kill (at most {in_flight} "
                    "members here) are re-sent"
                )
                return
            if duplicates is not None:
                assert duplicates == 0, (
                    f"{duplicates} members were added twice: on resume the sync reads the "
                    "audience back (read_members) and skips members whose vendor_key(member) it "
                    "finds; check that vendor_key matches what read_members yields"
                )
            expected = {self._key(connector, m) for m in self.members(profiles)}
            assert expected == present, (
                f"after the resume read_members misses {len(expected - present)} of "
                f"{len(expected)} members and yields {len(present - expected)} unexpected keys"
            )

    def test_hashing_matches_the_platforms_worked_examples(self) -> None:
        examples = getattr(self.connector, "worked_examples", None)
        if examples is None:
            pytest.skip(f"{self.connector.name} declares no worked_examples()")
        cases = list(examples())
        assert cases, "worked_examples() returned nothing"
        for name, func, given, expected in cases:
            assert func(given) == expected, f"worked example {name!r}: {given!r}"

    def test_no_secret_or_raw_pii_in_logs(self) -> None:
        """Every operation the kit drives, its error paths included: logs and error messages.

        Log records are held back from pytest's own log capture while the connector runs (a
        failing test would print them verbatim) and handed on afterwards, masked.
        """
        profiles = self.profiles(4, start=500)
        looping = self.profiles(self.loop_members, start=1000)
        secrets = _secrets(self.config("http://127.0.0.1:9"))
        mask = _masker(secrets, profiles + looping)
        watch = _Watch()
        try:
            with watch:
                self._drive_every_operation(watch, profiles, looping)
        finally:
            watch.hand_on(mask)
        leaks = _leaks(watch.texts(), secrets, profiles + looping, mask)
        if len(leaks) > 20:
            leaks[20:] = [f"… and {len(leaks) - 20} more"]
        if leaks:
            pytest.fail("\n".join(leaks), pytrace=False)

    def _drive_every_operation(
        self, watch: _Watch, profiles: list[Profile], looping: list[Profile]
    ) -> None:
        from ..http import PaginationLoopError

        members = self.members(profiles)
        # The ordinary operations, with a 429 on the first request.
        with self.served(Faults(too_many_requests=Burst(first=1), retry_after="0")) as (
            emulator,
            connector,
        ):
            self.prepare_emulator(emulator, profiles)
            with watch.op("ensure_audience"):
                aid = run_sync(connector.ensure_audience(self.audience))
            with watch.op("add_members"):
                watch.refusals(run_sync(connector.add_members(aid, members)))
            with watch.op("read_members"):
                self._read(connector, aid)
            with watch.op("remove_members"):
                watch.refusals(run_sync(connector.remove_members(aid, members)))
        # The error paths the other checks provoke: refusals, persistent 5xx, looping pages.
        with self.served(Faults(reject_rate=0.5, seed=7)) as (emulator, connector):
            self.prepare_emulator(emulator, profiles)
            with watch.op("add_members with refusals"):
                watch.refusals(self._add(connector, members)[1])
        with self.served(Faults(server_errors=Burst(first=10_000))) as (emulator, connector):
            self.prepare_emulator(emulator, profiles)
            connector.http.retry = RetryPolicy(max_attempts=2, backoff_base=0.01, max_wait=0.05)
            with watch.op("ensure_audience/add_members under persistent 5xx", Exception):
                self._add(connector, members)
        with self.served(Faults(pages="loop")) as (emulator, connector):
            if connector.supports("pull_profiles"):
                emulator.seed_data(self.loop_members, 1)
                with watch.op("pull_profiles over looping pages", PaginationLoopError):
                    run_sync(_drain(connector.pull_profiles()))
            self.prepare_emulator(emulator, looping)
            with watch.op("ensure_audience/add_members before reading looping pages"):
                loop_id, _ = self._add(connector, self.members(looping))
            with watch.op("read_members over looping pages", PaginationLoopError):
                self._read(connector, loop_id)


class _Watch(logging.Handler):
    """While entered: the root logger's only handler, keeping every record with the kit's
    operation at the time, plus the error messages and refusal reasons noted. pytest's handlers
    get the records back, masked, from :meth:`hand_on`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.records: list[tuple[str, logging.LogRecord]] = []
        self.errors: list[tuple[str, str]] = []  # (where, text)
        self.current = "the kit's setup"
        self._saved: list[tuple[logging.Logger, list[logging.Handler], int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((self.current, record))

    def __enter__(self) -> _Watch:
        for logger in (logging.getLogger(), logging.getLogger("martech")):
            self._saved.append((logger, logger.handlers[:], logger.level))
            logger.setLevel(logging.DEBUG)
        logging.getLogger().handlers = [self]
        return self

    def __exit__(self, *exc: object) -> None:
        for logger, handlers, level in self._saved:
            logger.handlers = handlers
            logger.setLevel(level)
        self._saved.clear()

    @contextmanager
    def op(self, name: str, *expected: type[BaseException]) -> Iterator[None]:
        """Label what runs inside as ``name``; note the messages of ``expected`` errors."""
        self.current = name
        try:
            yield
        except expected as exc:
            where = f"{name}: the {type(exc).__name__} raised"
            self.errors.extend((where, message) for message in _messages(exc))
        finally:
            self.current = "the kit's setup"

    def refusals(self, outcome: BatchOutcome) -> None:
        where = f"{self.current}: a per-item refusal reason"
        self.errors.extend((where, reason) for reason in outcome.rejected.values())

    def texts(self) -> list[tuple[str, str]]:
        """(where, text) for every record held and every error noted."""
        logs = [
            (f"{op}: a log record at {r.levelname} from {r.name!r}", self.format(r))
            for op, r in self.records
        ]
        return logs + self.errors

    def hand_on(self, mask: Callable[[str], str]) -> None:
        """Pass INFO and above on to the restored handlers, secrets and PII masked."""
        for _, record in self.records:
            if record.levelno < logging.INFO:
                continue
            copy = logging.makeLogRecord(dict(record.__dict__))
            copy.msg, copy.args = mask(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                copy.exc_text, copy.exc_info = mask(record.exc_text), None
            copy.stack_info = mask(record.stack_info) if record.stack_info else None
            logging.getLogger(record.name).handle(copy)


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


def _messages(exc: BaseException) -> list[str]:
    """``exc``'s message and those of the exceptions it was raised from (bounded)."""
    out: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(out) < 10:
        seen.add(id(current))
        out.append(str(current))
        current = current.__cause__ or current.__context__
    return out


def _secrets(config: ConnectorConfig) -> dict[str, str]:
    """The config's secret values by field name (short ones would match anything)."""
    out = {}
    for name, value in config.__dict__.items():
        if hasattr(value, "get_secret_value"):
            secret = value.get_secret_value()
            if isinstance(secret, str) and len(secret) >= 4:
                out[name] = secret
    return out


def _hint(secret: str) -> str:
    """Enough of a secret to recognise it, never the secret itself."""
    if len(secret) >= 12:
        return f"{len(secret)} characters, starting {secret[:3]!r}"
    return f"{len(secret)} characters"


def _pii(people: list[Profile]) -> list[tuple[str, str]]:
    """(kind, text) for each raw form of each person's email and phone the kit looks for."""
    forms: list[tuple[str, str]] = []
    for p in people:
        if email := p.identities.get("email"):
            forms += [("email", email), ("email", email.lower())]
        if phone := p.identities.get("phone"):
            forms += [("phone", phone), ("phone", phone.lstrip("+"))]
    return forms


def _masker(secrets: dict[str, str], people: list[Profile]) -> Callable[[str], str]:
    from ..http import redact

    forms = [raw for _, raw in _pii(people)]

    def mask(text: str) -> str:
        for raw in [*secrets.values(), *forms]:
            if raw in text:
                text = text.replace(raw, "***")
        return redact(text, secrets.values())

    return mask


def _leaks(
    seen: list[tuple[str, str]],
    secrets: dict[str, str],
    people: list[Profile],
    mask: Callable[[str], str],
) -> list[str]:
    """One line per leaking text: where (the operation), what leaked, the text masked."""
    forms = _pii(people)
    found: list[str] = []
    for where, text in seen:
        what = [f"the secret {name!r} ({_hint(v)})" for name, v in secrets.items() if v in text]
        what += sorted({f"a raw {kind}" for kind, raw in forms if raw in text})
        if what:
            masked = mask(text)
            excerpt = masked if len(masked) <= 300 else masked[:300] + "…"
            found.append(f"{where} holds {' and '.join(what)}: {excerpt}")
    return found


__all__ = ["ConnectorConformance", "SimulatedKill"]
