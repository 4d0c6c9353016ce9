"""Computed traits: per-profile values derived in SQL from the store (RFM, CLV, lifecycle, …).

A :class:`ComputedTrait` knows its ``name``, what it means, the type of its value and how to
compute it: ``sql(as_of, params)`` returns one SELECT yielding ``profile_id, value`` over the
store's ``events`` and ``profiles`` tables. Plugins register traits through the
``martech_register_traits`` hook (the built-in ones live in ``martech_plugins.traits``);
:func:`compute_traits` materializes them into the ``computed_traits`` table, one set-based
``INSERT … SELECT`` per trait, so segments can use them like stored traits (pass
:func:`computed_names` as ``computed=`` to :func:`martech.segments.compile_sql`).

Everything is computed *as of* one moment (default: now). Events after it are ignored, so a
recomputation with the same ``as_of`` gives the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from ..errors import ConfigError, StoreError

if TYPE_CHECKING:
    from ..store import Store

ValueKind = Literal["number", "integer", "string", "boolean"]


#: Longest span a day parameter may give (a century: further back is no date in SQL or Python).
CENTURY = 36_500


class TraitParams(BaseModel, frozen=True, extra="forbid"):
    """The knobs of the built-in traits; every threshold is in days unless said otherwise."""

    new_days: int = Field(
        default=30,
        gt=0,
        le=CENTURY,
        description="lifecycle 'new': first purchase at most this many days ago.",
    )
    active_days: int = Field(
        default=90,
        gt=0,
        le=CENTURY,
        description="lifecycle 'active': last purchase at most this long ago.",
    )
    lapsing_days: int = Field(
        default=180,
        gt=0,
        le=CENTURY,
        description="lifecycle 'lapsing' up to this; beyond it 'lapsed'.",
    )
    opener_days: int = Field(
        default=90,
        gt=0,
        le=CENTURY,
        description="An active email opener opened at least once in this window.",
    )
    engagement_days: int = Field(
        default=90,
        gt=0,
        le=CENTURY,
        description="Events older than this do not count for engagement_score.",
    )
    engagement_half_life_days: float = Field(
        default=30.0, gt=0, le=CENTURY, description="An event's weight halves every this many days."
    )
    engagement_scale: float = Field(
        default=10.0, gt=0, description="Weighted activity giving a score of 63 (1 - 1/e)."
    )
    clv_horizon_days: int = Field(
        default=365, gt=0, le=CENTURY, description="predicted_clv looks this far ahead."
    )
    default_gap_days: float = Field(
        default=90.0,
        gt=0,
        le=CENTURY,
        description="Expected days between orders for one-order customers when no repeat "
        "customer exists to learn it from.",
    )
    min_gap_days: float = Field(
        default=7.0, gt=0, le=CENTURY, description="Floor on a customer's mean days between orders."
    )

    @model_validator(mode="after")
    def _ordered(self) -> TraitParams:
        if not self.new_days <= self.active_days < self.lapsing_days:
            raise ValueError(
                "lifecycle thresholds must satisfy new_days <= active_days < lapsing_days "
                f"(got {self.new_days}, {self.active_days}, {self.lapsing_days})"
            )
        return self


class ComputedTrait:
    """A per-profile value computed in SQL. Subclass it, or use :class:`SqlTrait`.

    ``values`` lists the possible values of a categorical trait (documentation, and the order
    reports show them in); empty for numbers.
    """

    name: str
    description: str
    kind: ValueKind
    values: tuple[str, ...] = ()

    def sql(self, as_of: datetime, params: TraitParams) -> str:
        """A SELECT over ``events`` / ``profiles`` yielding ``profile_id, value``.

        One row per profile at most; a NULL value (or no row) means the trait does not apply.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.kind}>"


@dataclass(frozen=True, repr=False)
class SqlTrait(ComputedTrait):
    """A computed trait whose SQL comes from a function of ``(as_of, params)``."""

    name: str
    description: str
    kind: ValueKind
    build: Callable[[datetime, TraitParams], str] = field(compare=False)
    values: tuple[str, ...] = ()

    def sql(self, as_of: datetime, params: TraitParams) -> str:
        return self.build(as_of, params)


# ------------------------------------------------------------------------------ SQL helpers


def ts_literal(moment: datetime) -> str:
    """A DuckDB TIMESTAMPTZ literal for an aware datetime (UTC), safe to embed in SQL."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigError("as_of: expected a timezone-aware datetime (add +00:00 or Z)")
    return f"TIMESTAMPTZ '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"


def days_ago(column: str, as_of: datetime) -> str:
    """SQL for how many days (fractional) before ``as_of`` the timestamp ``column`` lies."""
    return f"(epoch({ts_literal(as_of)}) - epoch({column})) / 86400.0"


# ------------------------------------------------------------------------------- registry


def registered_traits() -> dict[str, ComputedTrait]:
    """Every computed trait plugins registered, by name (built-ins come from martech_plugins)."""
    from ..plugins import registry

    return dict(sorted(registry().traits.items()))


def resolve_params(
    params: TraitParams | Mapping[str, Any] | None = None,
) -> TraitParams:
    """``TraitParams`` from a mapping (e.g. ``--set active_days=60``); errors name the key."""
    if params is None:
        return TraitParams()
    if isinstance(params, TraitParams):
        return params
    try:
        return TraitParams.model_validate(dict(params))
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "params"
        raise ConfigError(f"trait params: {where}: {err['msg']}") from None


@dataclass(frozen=True)
class TraitRun:
    """What :func:`compute_traits` did for one trait."""

    name: str
    profiles: int
    seconds: float


def compute_traits(
    store: Store,
    names: Collection[str] | None = None,
    *,
    as_of: datetime | None = None,
    params: TraitParams | Mapping[str, Any] | None = None,
    traits: Mapping[str, ComputedTrait] | None = None,
) -> list[TraitRun]:
    """Materialize computed traits into ``computed_traits``: one INSERT … SELECT per trait.

    ``names`` picks traits (default: all registered); ``traits`` replaces the plugin registry
    (tests, scripts). Each trait's old rows are replaced in the same transaction, so readers
    see either the old or the new values, never a mix. ``computed_at`` records ``as_of``. When
    a trait fails, the traits before it keep their new values and those after it their old
    ones; the :class:`StoreError` names both.
    """
    import time

    available = dict(traits) if traits is not None else registered_traits()
    wanted = list(available) if names is None else list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in available]
    if unknown:
        known = ", ".join(sorted(available)) or "none registered"
        raise ConfigError(f"trait {unknown[0]!r}: not registered; known traits: {known}")
    if as_of is not None and as_of.tzinfo is None:
        raise ConfigError(
            "as_of: expected a datetime with a time zone (e.g. datetime(..., tzinfo=UTC)); a "
            "naive one would be read in this machine's zone"
        )
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    settings = resolve_params(params)
    runs: list[TraitRun] = []
    for name in wanted:
        trait = available[name]
        query = trait.sql(moment, settings)
        started = time.perf_counter()
        try:
            with store.transaction() as con:
                # Upsert, then drop the rows of profiles the trait no longer applies to: deleting
                # every row first costs ~20x more (each delete maintains the primary-key index).
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE _martech_trait AS SELECT profile_id, "
                    f"to_json(value) AS value FROM ({query}) AS t WHERE value IS NOT NULL"
                )
                dups = con.execute(
                    "SELECT count(*) - count(DISTINCT profile_id) FROM _martech_trait"
                ).fetchall()[0][0]
                if dups:
                    raise StoreError(
                        f"trait {name!r}{_partial(runs, wanted, moment)}: its SQL gave {dups} "
                        "extra rows for profiles that already had one; expected at most one row "
                        "per profile"
                    )
                con.execute(
                    "INSERT OR REPLACE INTO computed_traits (profile_id, name, value, computed_at) "
                    "SELECT profile_id, ?, value, ? FROM _martech_trait",
                    [name, moment],
                )
                con.execute(
                    "DELETE FROM computed_traits WHERE name = ? AND profile_id NOT IN "
                    "(SELECT profile_id FROM _martech_trait)",
                    [name],
                )
                count = con.execute("SELECT count(*) FROM _martech_trait").fetchall()[0][0]
                con.execute("DROP TABLE _martech_trait")
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(
                f"trait {name!r}: computing it failed{_partial(runs, wanted, moment)}: {exc}"
            ) from exc
        runs.append(TraitRun(name, int(count), time.perf_counter() - started))
    return runs


def _partial(runs: list[TraitRun], wanted: list[str], moment: datetime) -> str:
    """Which traits of a failed run were replaced (each in its own transaction) and which not."""
    done, left = [r.name for r in runs], wanted[len(runs) + 1 :]
    parts = []
    if done:
        verb = "was" if len(done) == 1 else "were"
        parts.append(f"{', '.join(done)} {verb} updated as of {moment:%Y-%m-%d %H:%M} UTC")
    if left:
        keeps = "keeps its" if len(left) == 1 else "keep their"
        parts.append(f"{', '.join(left)} {keeps} earlier values")
    return f" ({'; '.join(parts)})" if parts else ""


def computed_names(store: Store) -> list[str]:
    """Names of the traits materialized in ``store`` (what segments may use as computed)."""
    rows = store.con.execute("SELECT DISTINCT name FROM computed_traits ORDER BY name").fetchall()
    return [r[0] for r in rows]


def trait_values(store: Store, name: str) -> dict[str, Any]:
    """``profile_id -> value`` of one materialized trait (small stores, tests, recipes)."""
    import orjson

    rows = store.con.execute(
        "SELECT profile_id, value::VARCHAR FROM computed_traits WHERE name = ?", [name]
    ).fetchall()
    return {pid: orjson.loads(v) for pid, v in rows}


def trait_distribution(store: Store, name: str) -> list[tuple[Any, int]]:
    """How many profiles have each value of one materialized trait, most common first."""
    import orjson

    rows = store.con.execute(
        "SELECT value::VARCHAR AS v, count(*) AS n FROM computed_traits WHERE name = ? "
        "GROUP BY v ORDER BY n DESC, v",
        [name],
    ).fetchall()
    return [(orjson.loads(v), int(n)) for v, n in rows]
