"""The small surface a connector implements.

A connector declares ``name``, ``kind``, ``Config``, ``limits`` and ``capabilities()``, and
implements only the capability methods it claims. Everything else — retries, rate budgets,
batching, ledgers, checkpoints — is the host's job.

Capability methods are ``async``: the sync engine runs batches concurrently within ``limits``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, overload

from pydantic import BaseModel, Field, JsonValue, SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from .errors import ConfigError, ValidationError
from .models import Capability, ContentVariant, Decision, Profile

if TYPE_CHECKING:
    import pyarrow as pa

    from .http import HttpClient

ConnectorKind = Literal["crm", "esp", "cms", "ads", "other"]


class Limits(BaseModel, frozen=True, extra="forbid"):
    """What the vendor allows. The HTTP budget enforces the rate and the concurrency; the sync
    planner reads all of it (batches, request count, time estimate). ``daily_quota`` is not
    counted by the budget, as the vendor counts it across every process using the credential:
    the planner includes it in its estimate and says when a sync needs more than a day's."""

    requests_per_interval: int | None = Field(
        default=None, description="Requests allowed per ``interval_seconds`` (token bucket)."
    )
    interval_seconds: float = Field(default=1.0, gt=0)
    concurrency: int = Field(default=4, ge=1, description="Simultaneous connections allowed.")
    batch_count: int = Field(default=100, ge=1, description="Records per request.")
    batch_bytes: int | None = Field(default=None, description="Bytes per request body.")
    daily_quota: int | None = Field(default=None, description="Requests per day, if capped.")
    # What a sync costs besides one request per batch, for the planner's count and estimate.
    audience_requests: int = Field(
        default=1,
        ge=0,
        description="Requests ``ensure_audience`` makes to find the audience (a lookup by "
        "name), once per sync that sends anything; the planner counts one more to create it "
        "when the ledger has never sent to that audience.",
    )
    add_extra_requests: int = Field(
        default=0,
        ge=0,
        description="Requests one ``add_members`` call (an add or update batch) may make "
        "besides its own, at most: e.g. resolving emails to record ids first (HubSpot: 1), "
        "subscribing people new to the list and adding them again (Mailchimp: 2).",
    )
    remove_extra_requests: int = Field(
        default=0,
        ge=0,
        description="The same for one ``remove_members`` call (HubSpot: 1, resolving ids).",
    )
    extras_skipped_with: str | None = Field(
        default=None,
        description="An identity kind that spares a batch those extra requests when every "
        "member in it carries one (HubSpot's record id: nothing to resolve).",
    )

    @property
    def requests_per_second(self) -> float | None:
        if self.requests_per_interval is None:
            return None
        return self.requests_per_interval / self.interval_seconds


class ConnectorConfig(BaseModel, frozen=True, extra="forbid", hide_input_in_errors=True):
    """Base for connector configs. Secrets are ``SecretStr``; unknown keys are an error.

    ``base_url`` (in every subclass too) must be an http(s) URL with a host, so a typo is a
    ConfigError when the config loads, not a run of retries against an unreachable address.
    A validation error never quotes the input (``hide_input_in_errors``): it may be a secret.
    """

    base_url: str = Field(
        description="Vendor API root; tests and the demo point it at an emulator."
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds per request.")

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            ok = False
        if not ok or any(c.isspace() for c in value):
            # The value is not echoed: a URL can carry credentials (https://user:key@host).
            raise PydanticCustomError(
                "http_url", "expected an http(s) URL with a host, e.g. https://api.vendor.com"
            )
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _usable_secret(cls, value: Any) -> Any:
        """A secret that is empty, or starts or ends with whitespace (a newline pasted with
        it), is refused when the config loads, instead of a request retried until it fails.
        The value is never echoed. (Whitespace inside is allowed: WordPress application
        passwords are written in groups with spaces.)"""
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if not secret:
                raise PydanticCustomError("empty_secret", "is empty")
            if secret != secret.strip():
                raise PydanticCustomError(
                    "secret_whitespace",
                    "starts or ends with whitespace (a stray space or newline from copying it?)",
                )
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A base_url can carry credentials (https://user:key@host): repr and str hide them as
        # they hide SecretStr fields; the value itself is unchanged.
        for name, value in super().__repr_args__():
            if name == "base_url" and isinstance(value, str) and value != without_userinfo(value):
                value = without_userinfo(value).replace("://", "://**********@", 1)
            yield name, value

    @classmethod
    def load(
        cls, connector: str, values: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> ConnectorConfig:
        """Build from ``martech.toml`` values overlaid by ``MARTECH_<CONNECTOR>_<FIELD>`` env; a
        ``MARTECH_<CONNECTOR>_*`` variable naming no field is a ConfigError (it would configure
        nothing)."""
        source: Mapping[str, str] = os.environ if env is None else env
        merged = dict(values or {})
        prefix = f"MARTECH_{connector.upper()}_"
        for name, info in cls.model_fields.items():
            if (key := prefix + name.upper()) in source:
                merged[name] = _from_env(key, source[key], info.annotation)
        from .config import check_connector_variables

        check_connector_variables(connector, cls.model_fields, source)
        try:
            return cls.model_validate(merged)
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            where = f"connectors.{connector}" + (f".{field}" if field else "")
            if err["type"] == "extra_forbidden":
                known = ", ".join(sorted(cls.model_fields))
                raise ConfigError(f"{where}: unknown setting; known: {known}") from None
            top = str(err["loc"][0]).upper() if err["loc"] else ""
            hint = f" (set it in martech.toml or {prefix}{top})" if top else ""
            msg = str(err["msg"]).removeprefix("Value error, ")
            raise ConfigError(f"{where}: {msg}{hint}") from None


def _from_env(key: str, raw: str, annotation: Any) -> Any:
    """An environment value for a field of type ``annotation``: lists and tuples are a JSON
    array or comma-separated values, dicts a JSON object; anything else stays text for pydantic.
    The value is never echoed in an error."""
    import json
    import types
    from typing import Union, get_args, get_origin

    if get_origin(annotation) in (Union, types.UnionType):
        real = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = real[0] if len(real) == 1 else annotation
    kind = get_origin(annotation) or annotation
    if kind in (list, tuple, set, frozenset):
        text = raw.strip()
        if not text.startswith("["):
            return [part.strip() for part in text.split(",") if part.strip()]
        try:
            return json.loads(text)
        except ValueError:
            raise ConfigError(
                f'{key}: expected a JSON array (["a", "b"]) or comma-separated values (a,b)'
            ) from None
    if kind is dict:
        try:
            return json.loads(raw)
        except ValueError:
            raise ConfigError(f'{key}: expected a JSON object, e.g. {{"a": 1}}') from None
    return raw


def without_userinfo(url: str) -> str:
    """``url`` without credentials in it (``https://user:pass@host/x`` -> ``https://host/x``)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class AudienceMember(BaseModel, frozen=True, extra="forbid"):
    """What the sync engine hands a connector for one member: key, identities, traits."""

    key: str = Field(description="The martech profile id; ledgers are keyed on it.")
    identities: dict[str, str] = Field(default_factory=dict)
    traits: dict[str, JsonValue] = Field(default_factory=dict)


_MEMBER_FIELDS = frozenset({"key", "identities", "traits"})
# The slots every pydantic model instance has, set directly (one C call each).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _built_member(key: str, identities: dict[str, str], traits: dict[str, Any]) -> AudienceMember:
    """An AudienceMember from values the store already validated, without re-validating.

    What ``model_construct`` does minus its generic field handling: ~1.5 µs instead of ~30 µs.
    """
    m = object.__new__(AudienceMember)
    _set_dict(m, {"key": key, "identities": identities, "traits": traits})
    _set_fields_set(m, set(_MEMBER_FIELDS))
    _set_extra(m, None)
    _set_private(m, None)
    return m


def _json_objects(texts: list[str | None]) -> list[dict[str, Any]]:
    """JSON object texts parsed in one orjson call; None and ``{}`` give fresh empty dicts."""
    import orjson

    if all(t == "{}" for t in texts):
        return [{} for _ in texts]
    if None in texts:
        texts = [t or "{}" for t in texts]
    out: list[dict[str, Any]] = orjson.loads("[" + ",".join(texts) + "]")  # type: ignore[arg-type]
    return out


class MemberBatch(Sequence[AudienceMember]):
    """One batch of members as columns, as the sync engine hands it to ``add_members`` and
    ``remove_members``: per member its key, and its identities and traits as JSON object text.

    It is a ``Sequence[AudienceMember]`` (the members are built on first use, once), so every
    connector works unchanged. A connector that needs only keys and one identity reads
    :attr:`keys` and :meth:`identity` instead and builds no object per member: at 100k members
    a second those objects cost more CPU than the HTTP calls carrying them.
    """

    __slots__ = ("_identities", "_members", "_parsed", "_traits", "keys")

    def __init__(
        self, keys: list[str], identities: list[str | None], traits: list[str | None]
    ) -> None:
        if not len(keys) == len(identities) == len(traits):
            raise ValueError("keys, identities and traits must have the same length")
        #: The members' keys (martech profile ids), in batch order.
        self.keys = keys
        self._identities = identities
        self._traits = traits
        self._parsed: list[dict[str, str]] | None = None
        self._members: list[AudienceMember] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> AudienceMember: ...
    @overload
    def __getitem__(self, index: slice) -> list[AudienceMember]: ...
    def __getitem__(self, index: int | slice) -> AudienceMember | list[AudienceMember]:
        return self.members[index]

    def __iter__(self) -> Iterator[AudienceMember]:
        return iter(self.members)

    def __repr__(self) -> str:
        return f"<MemberBatch {len(self.keys)} members>"

    @property
    def members(self) -> list[AudienceMember]:
        """The batch as AudienceMember objects (built once)."""
        if self._members is None:
            traits = _json_objects(self._traits)
            self._members = list(map(_built_member, self.keys, self.identities(), traits))
        return self._members

    def identities(self) -> list[dict[str, str]]:
        """Each member's identities, parsed once."""
        if self._parsed is None:
            self._parsed = _json_objects(self._identities)
        return self._parsed

    def identity(self, kind: str) -> list[str | None]:
        """Each member's identity of ``kind`` (as stored), or None where it has none."""
        return [ids.get(kind) for ids in self.identities()]

    @property
    def has_traits(self) -> bool:
        """True when some member carries traits (a sync with ``traits``)."""
        return any(t not in ("{}", None) for t in self._traits)


class BatchOutcome(BaseModel, frozen=True, extra="forbid"):
    """What a vendor said about one batch: which keys it took, which it refused and why."""

    accepted: list[str] = Field(default_factory=list)
    rejected: dict[str, str] = Field(default_factory=dict, description="key -> vendor's reason")
    requests: int = 1


class PublishedContent(BaseModel, frozen=True, extra="forbid"):
    """What publishing one variant did: the vendor's id for it and whether anything was written.

    ``unchanged`` means the vendor already held this exact content, published: no write, no new
    version in the CMS's history. A connector that cannot tell returns ``published``.
    """

    vendor_id: str
    action: Literal["created", "updated", "unchanged", "published"] = "published"


class ProfileRows:
    """Profiles as columns, the shape the store's bulk upsert takes: per profile its id and its
    identities, traits and consent as JSON object text.

    A connector that maps a whole page at once yields these instead of Profile objects (building
    100k pydantic objects only to serialize them again dominated a pull); :meth:`profiles` gives
    validated Profiles back for code that wants them. Identities may be raw: the store normalizes
    and validates them again on upsert.
    """

    __slots__ = ("consent", "identities", "ids", "traits")

    def __init__(
        self, *, ids: list[str], identities: list[str], traits: list[str], consent: list[str]
    ) -> None:
        if not len(ids) == len(identities) == len(traits) == len(consent):
            raise ValueError(
                f"ProfileRows: columns differ in length (ids {len(ids)}, identities "
                f"{len(identities)}, traits {len(traits)}, consent {len(consent)})"
            )
        self.ids = ids
        self.identities = identities
        self.traits = traits
        self.consent = consent

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"<ProfileRows {len(self.ids)} profiles>"

    @classmethod
    def from_profiles(cls, profiles: Iterable[Profile]) -> ProfileRows:
        """Profiles as rows (what a connector yielding Profiles costs the store path)."""
        import orjson

        ids: list[str] = []
        identities: list[str] = []
        traits: list[str] = []
        consent: list[str] = []
        for p in profiles:
            ids.append(p.id)
            identities.append(orjson.dumps(p.identities).decode())
            traits.append(orjson.dumps(p.traits).decode())
            consent.append(orjson.dumps(p.consent).decode())
        return cls(ids=ids, identities=identities, traits=traits, consent=consent)

    @classmethod
    def concat(cls, parts: Sequence[ProfileRows]) -> ProfileRows:
        """One ProfileRows holding ``parts`` in order."""
        if len(parts) == 1:
            return parts[0]
        return cls(
            ids=[v for p in parts for v in p.ids],
            identities=[v for p in parts for v in p.identities],
            traits=[v for p in parts for v in p.traits],
            consent=[v for p in parts for v in p.consent],
        )

    def profiles(self) -> list[Profile]:
        """The rows as validated Profiles (pydantic checks every field)."""
        import orjson

        out: list[Profile] = []
        for pid, i, t, c in zip(self.ids, self.identities, self.traits, self.consent, strict=True):
            try:
                out.append(
                    Profile(
                        id=pid,
                        identities=orjson.loads(i),
                        traits=orjson.loads(t),
                        consent=orjson.loads(c),
                    )
                )
            except orjson.JSONDecodeError as exc:
                raise ValidationError(f"profile {pid!r}: a column is not JSON ({exc})") from None
            except PydanticValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"]) or "?"
                raise ValidationError(
                    f"profile {pid!r}: {field}: {err['msg']}", field=field
                ) from None
        return out

    def to_arrow(self) -> pa.Table:
        """An Arrow table with the store's profile schema (``Store.upsert_profiles`` takes it)."""
        import pyarrow as pa

        from .store import PROFILE_SCHEMA

        return pa.table(
            {
                "id": self.ids,
                "traits": self.traits,
                "consent": self.consent,
                "identities": self.identities,
            },
            schema=PROFILE_SCHEMA(),
        )


class PullPage:
    """One page of a pull: its profiles and the cursor to resume after it.

    Give ``profiles`` or, from a connector that maps pages to columns, ``rows``; the other
    form is derived on first use. :func:`martech.pull` stores ``rows``, so a columnar
    connector never builds a Profile object on the way to the store.

    :param cursor: Opaque; persisted after the page is stored.
    """

    __slots__ = ("_profiles", "_rows", "cursor")

    def __init__(
        self,
        *,
        profiles: Sequence[Profile] | None = None,
        rows: ProfileRows | None = None,
        cursor: str | None,
    ) -> None:
        if (profiles is None) == (rows is None):
            raise TypeError("PullPage takes profiles or rows (exactly one)")
        if profiles is not None and not all(isinstance(p, Profile) for p in profiles):
            raise TypeError("PullPage(profiles=…) takes Profile objects")
        if cursor is not None and not isinstance(cursor, str):
            raise TypeError(f"PullPage cursor must be a str or None, got {type(cursor).__name__}")
        self._profiles = list(profiles) if profiles is not None else None
        self._rows = rows
        self.cursor = cursor

    @property
    def profiles(self) -> list[Profile]:
        """The page's profiles (built and validated from ``rows`` on first use)."""
        if self._profiles is None:
            assert self._rows is not None
            self._profiles = self._rows.profiles()
        return self._profiles

    @property
    def rows(self) -> ProfileRows:
        """The page as columns (serialized from ``profiles`` on first use)."""
        if self._rows is None:
            assert self._profiles is not None
            self._rows = ProfileRows.from_profiles(self._profiles)
        return self._rows

    def __len__(self) -> int:
        return len(self._rows) if self._rows is not None else len(self._profiles or ())

    def __repr__(self) -> str:
        return f"<PullPage {len(self)} profiles, cursor {self.cursor!r}>"


class Connector:
    """Base class. Subclass, set the class attributes, implement the capabilities you claim."""

    name: ClassVar[str]
    kind: ClassVar[ConnectorKind]
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    limits: ClassVar[Limits] = Limits()
    #: Import path "module:Class" of this vendor's emulator (a martech.sandbox.Emulator).
    emulator: ClassVar[str | None] = None
    #: Identity keys this destination can match on, best first (email, phone, hubspot…).
    identity_keys: ClassVar[tuple[str, ...]] = ("email",)

    def __init__(self, *, config: ConnectorConfig, http: HttpClient | None = None) -> None:
        if not isinstance(config, self.Config):
            raise ConfigError(
                f"{self.name}: config must be a {self.Config.__name__}, got {type(config).__name__}"
            )
        self.config = config
        self._http = http

    @property
    def http(self) -> HttpClient:
        """The HTTP client, created on first use from ``config`` unless one was injected."""
        if self._http is None:
            from .http import HttpClient

            self._http = HttpClient(
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                limits=self.limits,
                vendor=self.name,  # names the vendor in errors; selects its reset headers
            )
        return self._http

    def capabilities(self) -> list[Capability]:
        """What this connector offers. Override; the base offers nothing."""
        return []

    def ledger_scope(self) -> str:
        """Where this connector's audiences live (an API, an account, a list), as the sync
        ledger records it. A sync to the same audience name in another place is refused rather
        than trusting a ledger of what the old place holds. The base is the API's address
        (credentials in it left out); override to add the account or list the config names.
        """
        return without_userinfo(self.config.base_url).rstrip("/")

    def supports(self, capability: str) -> bool:
        return any(c.name == capability for c in self.capabilities())

    # --- capability methods: implement the ones ``capabilities()`` claims -------------------

    def pull_profiles(
        self, *, since: datetime | None = None, cursor: str | None = None
    ) -> AsyncIterator[PullPage]:
        """Yield pages of profiles changed since ``since``, resuming after ``cursor``."""
        raise self._unsupported("pull_profiles")

    async def ensure_audience(self, audience: str) -> str:
        """Return the vendor's id for the audience called ``audience``, creating it if missing."""
        raise self._unsupported("push_audience")

    async def add_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        """Add one batch (at most ``limits.batch_count``) to the audience."""
        raise self._unsupported("push_audience")

    async def remove_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        """Remove one batch from the audience; removing a non-member is not an error."""
        raise self._unsupported("push_audience")

    def read_members(self, audience_id: str) -> AsyncIterator[str]:
        """Yield the vendor-side member keys, to reconcile against the ledger."""
        raise self._unsupported("push_audience")

    async def push_content(self, variant: ContentVariant) -> PublishedContent | str:
        """Publish a variant; return what happened (or just the vendor's id for it).

        Publishing content the vendor already holds, published, should write nothing and say
        ``unchanged``: re-running a push must not add versions to a CMS's history.
        """
        raise self._unsupported("push_content")

    async def decide(self, profile: Profile, placement: str) -> Decision | ContentVariant | str:
        """Ask the vendor what it would show this person in this placement."""
        raise self._unsupported("decide")

    def _unsupported(self, capability: str) -> ConfigError:
        return ConfigError(f"connector {self.name!r} does not offer {capability!r}")

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """``async with connector:`` closes its HTTP client however the block ends."""
        await self.aclose()


__all__ = [
    "AudienceMember",
    "BatchOutcome",
    "Connector",
    "ConnectorConfig",
    "ConnectorKind",
    "Limits",
    "MemberBatch",
    "ProfileRows",
    "PullPage",
    "SecretStr",
]
