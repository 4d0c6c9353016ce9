"""Deterministic bucketing: the same profile and experiment always land in the same bucket.

``bucket(unit_id, seed)`` is the first 32 bits of ``md5(seed + ":" + unit_id)`` modulo 10,000.
md5 is chosen over GrowthBook's FNV-1a (see research/peers-cdp-activation.md §4) because DuckDB
computes the very same value in SQL (:func:`bucket_sql`), so the batch path and the single-profile
path agree bit for bit without a Python loop. ``HASH_VERSION`` names the algorithm: a change of
algorithm bumps it rather than silently reshuffling people between arms.

The holdout is an arm derived from the same hash (buckets ``[0, share * 10000)``), never a second
random draw.
"""

from __future__ import annotations

import hashlib

from .._sql import sql_str

BUCKETS = 10_000
HASH_VERSION = 1


def bucket(unit_id: str, seed: str) -> int:
    """The bucket 0..9999 of ``unit_id`` in the experiment ``seed``."""
    digest = hashlib.md5(f"{seed}:{unit_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def bucket_sql(unit_column: str, seed: str) -> str:
    """A DuckDB expression computing :func:`bucket` for ``unit_column`` (a trusted identifier)."""
    digest = f"md5({sql_str(seed + ':')} || {unit_column})"
    return f"CAST(('0x' || substr({digest}, 1, 8))::UBIGINT % {BUCKETS} AS INTEGER)"


def holdout_threshold(share: float) -> int:
    """Buckets below this number are in the holdout for a holdout ``share`` in [0, 1]."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"holdout share must be within [0, 1], got {share}")
    return round(share * BUCKETS)


def share_text(share: float) -> str:
    """A holdout share as people read it: ``10%``, ``0.5%``, ``12.5%`` (``:.0%`` called a 0.5%
    holdout "0%")."""
    return f"{share * 100:.4g}%"


def in_holdout(bucket_value: int, share: float) -> bool:
    """Whether a bucket falls in the holdout arm for ``share``."""
    return bucket_value < holdout_threshold(share)
