"""The conformance kit passes on the reference connector and catches connectors that misbehave."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from martech.connector import AudienceMember, BatchOutcome, ConnectorConfig
from martech.testing.conformance import ConnectorConformance
from martech.testing.reference import (
    ReferenceConfig,
    ReferenceConnector,
    ReferenceEmulator,
    WorkedExample,
)


class TestReferenceConformance(ConnectorConformance):
    connector = ReferenceConnector

    def config(self, base_url: str) -> ConnectorConfig:
        return ReferenceConfig(base_url=base_url, api_key="sk_live_conformance_secret")


class _Kit(ConnectorConformance):
    """Not collected (no Test prefix): used to run single checks against bad connectors."""

    emulator = ReferenceEmulator

    def config(self, base_url: str) -> ConnectorConfig:
        return ReferenceConfig(base_url=base_url, api_key="sk_test")


class IgnoresItemErrors(ReferenceConnector):
    async def add_members(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> BatchOutcome:
        await super().add_members(audience_id, members)
        return BatchOutcome(accepted=[m.key for m in members])  # drops the vendor's errors


class WrongHash(ReferenceConnector):
    @classmethod
    def worked_examples(cls) -> list[WorkedExample]:
        return [WorkedExample("md5", str.upper, "jane.doe@example.com", "jane.doe@example.com")]


class ReAddsEverything(ReferenceConnector):
    """Forgets what read_members says: resume re-sends instead of reconciling."""

    vendor_key = None  # type: ignore[assignment]


def kit(connector: type[ReferenceConnector]) -> _Kit:
    k = _Kit()
    k.connector = connector  # type: ignore[misc]
    return k


def test_the_kit_catches_a_connector_that_drops_per_item_errors() -> None:
    with pytest.raises(AssertionError, match="reported none"):
        kit(IgnoresItemErrors).test_a_partially_refused_batch_is_reported_per_item()


def test_the_kit_catches_a_hash_that_differs_from_the_worked_example() -> None:
    with pytest.raises(AssertionError, match="worked example 'md5'"):
        kit(WrongHash).test_hashing_matches_the_platforms_worked_examples()


def test_the_kit_catches_duplicate_adds_after_a_kill(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AssertionError, match="added twice"):
        kit(ReAddsEverything).test_a_killed_sync_resumes_with_no_duplicates(tmp_path)


def test_the_martech_serve_fixture_serves_an_emulator_on_loopback(martech_serve) -> None:  # type: ignore[no-untyped-def]
    import httpx

    emulator = ReferenceEmulator()
    url = martech_serve(emulator)
    assert url.startswith("http://127.0.0.1:")
    r = httpx.get(f"{url}/v1/audiences", headers={"Authorization": "Bearer t"})
    assert r.json() == {"audiences": []}
    assert emulator.total_requests == 1
