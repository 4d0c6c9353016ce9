"""Identity normalization as a nightly import relies on it: one person, one identity, whichever
route (file import, SDK upsert, resolve) and whichever process settings the value came through."""

from __future__ import annotations

import pytest

from martech.identity import normalize_phone


def test_the_default_region_is_read_per_call_not_cached_with_the_first_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One process importing a British file, then an American one (a nightly job looping over
    # countries): a national number must be read in the region set for the file at hand.
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", "GB")
    assert normalize_phone("020 7946 0958") == "+442079460958"
    assert normalize_phone("415 555 0100") is None
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", "US")
    assert normalize_phone("020 7946 0958") is None
    assert normalize_phone("415 555 0100") == "+14155550100"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"  # an explicit region wins
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", "")  # set but empty: the documented US
    assert normalize_phone("415 555 0100") == "+14155550100"
