"""The dead-letter file: one JSON line per member a sync could not deliver, and why.

Lines carry the run, destination, audience, the member's martech key, the status (``invalid``:
never sent, e.g. no consent or no usable identity; ``rejected``: the vendor refused it) and the
reason, redacted. No identities, emails or phones are written: the key finds the profile in the
store, which is where the PII already lives.

Lines are appended after their batch is committed to the ledger. A kill in the middle of an
append can leave a torn last line: the next append starts on a fresh line, and
:func:`read_dead_letters` skips a line that is not whole JSON. A line lost that way is not lost
for good: the ledger keeps the member ``rejected``, so the next run sends it again and, if the
vendor still refuses it, writes it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import orjson


class DeadLetter:
    """Appends JSONL records to ``path`` (created with its folder on first write)."""

    def __init__(self, path: Path) -> None:
        from .._paths import check_output_file

        # Refused now, before a sync sends anything: at the first refused member it failed
        # after the batches had gone out, leaving the run unfinished.
        check_output_file(path, "dead_letter", example="dead.jsonl", makes_folders=True)
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
        with self.path.open("ab+") as fh:
            if fh.tell() > 0:
                fh.seek(-1, 2)
                if fh.read(1) != b"\n":
                    lines = b"\n" + lines  # a torn line from a kill stays on its own
            fh.write(lines)
        self.count += len(items)


def read_dead_letters(path: str | Path) -> list[dict[str, str]]:
    """The records in a dead-letter file, oldest first; a torn line (a kill mid-append) is
    skipped."""
    p = Path(path)
    if not p.exists():
        return []
    records = []
    for line in p.read_bytes().splitlines():
        if line.strip():
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return records


__all__ = ["DeadLetter", "read_dead_letters"]
