"""Cells group values as segments compare them: 10 and 10.0 are one number; lists are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from martech.errors import ConfigError
from martech.models import Profile
from martech.segments import members
from martech.segments.cells import cells

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def load(store, spec: list[tuple[int, dict]]) -> None:
    people = [Profile(id=f"p{n}-{i}", traits=t) for n, (k, t) in enumerate(spec) for i in range(k)]
    store.upsert_profiles(people)


def test_a_number_written_10_or_10_0_is_one_cell_as_eq_10_matches_both(martech_store):
    # 10.0 from one source, 10 from another: the cell report lost the 10.0s (2 of 7 profiles
    # were in no cell and not unplaced) while the saved cell's rule 'eq: 10' matched all 5.
    load(martech_store, [(3, {"size": 10}), (2, {"size": 10.0}), (2, {"size": 2.5}), (1, {})])
    report = cells(martech_store, ["size"], min_size=1)
    sizes = {c.label: c.size for c in report.cells}
    assert sizes == {"size=10": 5, "size=2.5": 2, "size=—": 1}
    assert sum(sizes.values()) + report.unplaced == report.population == 8
    for cell in report.cells:
        got = members(martech_store, report.segment(cell.key), as_of=AS_OF, computed=())
        assert len(got) == cell.size, cell.label


def test_an_attribute_holding_lists_is_refused_naming_it(martech_store):
    load(martech_store, [(3, {"tags": ["a", "b"]}), (2, {"tags": "a"})])
    with pytest.raises(ConfigError, match=r"--by: 'tags' holds a list .* single values"):
        cells(martech_store, ["tags"], min_size=1)


def test_true_and_1_are_two_cells_as_eq_true_does_not_match_1(martech_store):
    # Python's True == 1 (and hash) merged the two cells and lost one group from the report.
    load(martech_store, [(3, {"vip": True}), (2, {"vip": 1}), (4, {"vip": False}), (1, {"vip": 0})])
    report = cells(martech_store, ["vip"], min_size=1)
    sizes = {c.label: c.size for c in report.cells}
    assert sizes == {"vip=True": 3, "vip=1": 2, "vip=False": 4, "vip=0": 1}
    for cell in report.cells:
        got = members(martech_store, report.segment(cell.key), as_of=AS_OF, computed=())
        assert len(got) == cell.size, cell.label
