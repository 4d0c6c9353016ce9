"""The store's refusals quote no customer data: DuckDB's conversion errors include the value they
could not read ("Input: ...", "Could not convert string '...'"), which may be an email, a phone
number or any trait; the message says what and where, not the value."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from martech.errors import ValidationError
from martech.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def refusal(store: Store, write: str, table: pa.Table) -> str:
    with pytest.raises(ValidationError, match=rf"{write}: the data was refused") as info:
        getattr(store, write)(table)
    return str(info.value)


@pytest.mark.parametrize(
    "secret", ["jane.doe@example.com", "0701234567", "+1 415 555 0100", "Jane Doe, 12 Elm St"]
)
def test_a_refused_write_does_not_quote_the_value(tmp_path, secret: str) -> None:
    with Store(tmp_path / "m.duckdb") as store:
        messages = [
            refusal(
                store,
                "upsert_profiles",
                pa.table({"id": ["a"], "traits": [f'{{"note": "{secret}", oops}}']}),
            ),
            refusal(
                store,
                "append_events",
                pa.table(
                    {
                        "profile_id": ["a"],
                        "type": ["view"],
                        "ts": pa.array([T0], pa.timestamp("us", tz="UTC")),
                        "properties": [f'{{"note": "{secret}" x'],
                    }
                ),
            ),
            refusal(
                store,
                "append_events",
                pa.table(
                    {
                        "profile_id": ["a"],
                        "type": ["view"],
                        "ts": pa.array([T0], pa.timestamp("us", tz="UTC")),
                        "value": [f"{secret} x"],
                    }
                ),
            ),
        ]
        for message in messages:
            for part in (secret, secret[:8], secret.split("@")[0]):
                assert part not in message, message
        assert "Malformed JSON" in messages[0]
        assert "DOUBLE" in messages[2]
