"""Audience sync: pure diff, plan (eligibility, batches, estimate), apply (ledger, resume).

``plan(store, connector, spec)`` shows what would change; ``apply(store, connector, spec)``
finishes any unfinished run for the audience, then sends the new plan; ``status(store)`` lists
the latest runs. See :mod:`martech.sync.apply` for the crash-safety argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .apply import apply, apply_async
from .deadletter import DeadLetter, read_dead_letters
from .diff import MODES, Diff, diff
from .ledger import RunInfo, diff_in_store, last_sent, list_runs
from .plan import CONSENT_CHANNEL, PreparedSync, SyncSpec, consent_channel, prepare

if TYPE_CHECKING:
    from ..connector import Connector
    from ..models import SyncPlan
    from ..store import Store


def plan(store: Store, connector: Connector | type[Connector], spec: SyncSpec) -> SyncPlan:
    """What :func:`apply` would send now: adds, removes, updates, requests, estimated time."""
    return prepare(store, connector, spec).plan


def status(store: Store, *, limit: int = 10, destination: str | None = None) -> list[RunInfo]:
    """The latest sync runs, newest first."""
    return list_runs(store.con, destination=destination, limit=limit)


__all__ = [
    "CONSENT_CHANNEL",
    "MODES",
    "DeadLetter",
    "Diff",
    "PreparedSync",
    "RunInfo",
    "SyncSpec",
    "apply",
    "apply_async",
    "consent_channel",
    "diff",
    "diff_in_store",
    "last_sent",
    "list_runs",
    "plan",
    "prepare",
    "read_dead_letters",
    "status",
]
