"""What a sync must change at the destination: a pure function of what we sent and what we want.

``last_sent`` is what the ledger says this tool put in the audience and is still there
(member key -> payload hash); ``desired`` is the members the audience should hold now
(member key -> payload hash). Nothing else is consulted, so the function is trivially testable
and the SQL version in :mod:`martech.sync.ledger` is property-tested against it.

Modes:

- ``mirror``: add the missing, remove the members *we* added that are no longer wanted. Members
  someone else put in the audience are never in ``last_sent``, so they are never removed.
- ``add_only``: add the missing, never remove, never update.
- ``upsert``: add the missing and re-send members whose payload hash changed; never remove.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import get_args

from ..errors import ConfigError
from ..models import SyncMode

MODES: tuple[str, ...] = get_args(SyncMode)

Members = Mapping[str, str | None] | Collection[str]


@dataclass(frozen=True)
class Diff:
    """Sorted member keys to add, remove and update (sorted: batches are deterministic)."""

    adds: tuple[str, ...] = ()
    removes: tuple[str, ...] = ()
    updates: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.adds or self.removes or self.updates)


def check_mode(mode: str) -> SyncMode:
    """``mode`` as a SyncMode, or a ConfigError naming the choices."""
    if mode not in MODES:
        raise ConfigError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    return mode  # type: ignore[return-value]


def _as_mapping(members: Members) -> Mapping[str, str | None]:
    if isinstance(members, Mapping):
        return members
    return dict.fromkeys(members)


def diff(last_sent: Members, desired: Members, mode: str = "mirror") -> Diff:
    """The adds, removes and updates that take the audience from ``last_sent`` to ``desired``.

    Either argument may be a set of keys (payload hashes then count as unknown and equal) or a
    mapping key -> payload hash.
    """
    check_mode(mode)
    last, want = _as_mapping(last_sent), _as_mapping(desired)
    adds = tuple(sorted(k for k in want if k not in last))
    removes: tuple[str, ...] = ()
    updates: tuple[str, ...] = ()
    if mode == "mirror":
        removes = tuple(sorted(k for k in last if k not in want))
    elif mode == "upsert":
        updates = tuple(sorted(k for k, h in want.items() if k in last and last[k] != h))
    return Diff(adds=adds, removes=removes, updates=updates)


__all__ = ["MODES", "Diff", "check_mode", "diff"]
