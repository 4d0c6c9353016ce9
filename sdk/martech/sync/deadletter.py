"""The dead-letter file: one JSON line per member a sync could not deliver, and why.

Lines carry the run, destination, audience, the member's martech key, the status (``invalid``:
never sent, e.g. no consent or no usable identity; ``rejected``: the vendor refused it) and the
reason, redacted. No identities, emails or phones are written: the key finds the profile in the
store, which is where the PII already lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import orjson


class DeadLetter:
    """Appends JSONL records to ``path`` (created with its folder on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def write_many(
        self, run_id: str, destination: str, audience: str, status: str, items: Mapping[str, str]
    ) -> None:
        if not items:
            return
        from ..http import redact

        at = datetime.now(UTC).isoformat(timespec="seconds")
        lines = b"".join(
            orjson.dumps(
                {
                    "run_id": run_id,
                    "destination": destination,
                    "audience": audience,
                    "key": key,
                    "status": status,
                    "reason": redact(reason),
                    "at": at,
                }
            )
            + b"\n"
            for key, reason in sorted(items.items())
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            fh.write(lines)
        self.count += len(items)


def read_dead_letters(path: str | Path) -> list[dict[str, str]]:
    """The records in a dead-letter file, oldest first."""
    p = Path(path)
    if not p.exists():
        return []
    return [orjson.loads(line) for line in p.read_bytes().splitlines() if line.strip()]


__all__ = ["DeadLetter", "read_dead_letters"]
