"""Micro-segment cells: counting, rolling small cells up, reporting it, saving a cell."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from martech.errors import ConfigError
from martech.models import Event, Profile
from martech.segments import members, parse_segments
from martech.segments.cells import cells
from martech.segments.traits import compute_traits

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def people(spec: list[tuple[int, dict]]) -> list[Profile]:
    out, n = [], 0
    for count, traits in spec:
        for _ in range(count):
            out.append(Profile(id=f"p{n:04d}", traits=traits))
            n += 1
    return out


BEGINNER_LAKE = {"skill_level": "beginner", "water_type": "lake"}
# 30 beginner/lake/spinning, 4 beginner/lake/fly, 3 beginner/lake/baitcasting (small: roll up
# into beginner/lake), 12 beginner/river/fly, 5 expert/sea/fly, 2 experts without water_type.
SPEC = [
    (30, {**BEGINNER_LAKE, "preferred_tackle": "spinning"}),
    (4, {**BEGINNER_LAKE, "preferred_tackle": "fly"}),
    (3, {**BEGINNER_LAKE, "preferred_tackle": "baitcasting"}),
    (12, {"skill_level": "beginner", "water_type": "river", "preferred_tackle": "fly"}),
    (5, {"skill_level": "expert", "water_type": "sea", "preferred_tackle": "fly"}),
    (2, {"skill_level": "expert"}),
]


@pytest.fixture
def anglers(martech_store):
    martech_store.upsert_profiles(people(SPEC))
    return martech_store


def test_big_cells_stay_and_small_ones_roll_up_to_their_parent(anglers):
    report = cells(anglers, ["skill_level", "water_type", "preferred_tackle"], min_size=10)
    got = {c.key: (c.size, c.remainder) for c in report.cells}
    assert got == {
        "beginner-lake-spinning": (30, False),
        "beginner-river-fly": (12, False),
        # 4 + 3 small tackle cells -> 7 < 10 -> beginner/lake remainder too small -> beginner
        # remainder has nothing else -> up to the top, joined by the experts (5 + 2) = 14
        "rest": (14, True),
    }
    assert report.unplaced == 0
    assert sum(c.size for c in report.cells) == report.population == 56
    into = {r.label: r.into for r in report.rolled_up}
    assert into["skill_level=beginner · water_type=lake · preferred_tackle=fly"] == "rest"
    assert into["skill_level=expert · water_type=— · preferred_tackle=—"] == "rest"


def test_a_parent_remainder_big_enough_is_its_own_cell(anglers):
    report = cells(anglers, ["skill_level", "water_type", "preferred_tackle"], min_size=5)
    got = {c.key: c.size for c in report.cells}
    assert got["beginner-lake-rest"] == 7  # fly 4 + baitcasting 3
    assert got["expert-sea-fly"] == 5
    # the two experts without water_type: 2 < 5, expert remainder 2 < 5, top remainder 2 < 5
    assert report.unplaced == 2
    assert all(c.size >= 5 for c in report.cells)
    assert sum(c.size for c in report.cells) + report.unplaced == report.population


def test_missing_values_are_a_cell_of_their_own(anglers):
    report = cells(anglers, ["skill_level", "water_type"], min_size=1)
    expert_none = next(
        c for c in report.cells if c.values == {"skill_level": "expert", "water_type": None}
    )
    assert expert_none.size == 2
    assert expert_none.key == "expert-none"


@pytest.mark.parametrize("min_size", [1, 5, 10, 40], ids=["one", "five", "ten", "forty"])
def test_saved_cells_have_exactly_the_cells_members(anglers, min_size):
    attrs = ["skill_level", "water_type", "preferred_tackle"]
    report = cells(anglers, attrs, min_size=min_size)
    seen: set[str] = set()
    for cell in report.cells:
        segment = report.segment(cell.key)
        got = members(anglers, segment, as_of=AS_OF, computed=())
        assert len(got) == cell.size, cell.key
        assert not got & seen  # cells partition the population
        seen |= got


def test_cells_read_computed_traits(anglers):
    buyers = [p for p in people(SPEC)][:20]
    anglers.append_events(
        [(p.id, Event(type="purchase", ts=AS_OF.replace(month=5), value=10.0)) for p in buyers]
    )
    compute_traits(anglers, ["purchaser"], as_of=AS_OF)
    report = cells(anglers, ["purchaser", "skill_level"], min_size=1)
    sizes = {tuple(c.values.values()): c.size for c in report.cells}
    assert sizes[(True, "beginner")] == 20
    assert sizes[(False, "beginner")] == 29
    saved = report.segment(next(c.key for c in report.cells if c.values["purchaser"] is True))
    assert len(members(anglers, saved, as_of=AS_OF)) == 20


@pytest.mark.parametrize(
    ("by", "message"),
    [
        ([], "expected one or more attribute names"),
        (["skill level"], "not an attribute name"),
        (["a", "a"], "listed twice"),
    ],
    ids=["empty", "space", "twice"],
)
def test_bad_attribute_lists_are_refused(anglers, by, message):
    with pytest.raises(ConfigError, match=message):
        cells(anglers, by)


def test_unknown_cell_key_lists_the_cells(anglers):
    report = cells(anglers, ["skill_level"], min_size=1)
    with pytest.raises(ConfigError, match="cell 'nope': no such cell; cells: beginner"):
        report.segment("nope")


def test_cli_cells_json_and_save_appends_a_valid_segment(anglers, tmp_path, monkeypatch, capsys):
    from martech.cli import main

    anglers.close()
    monkeypatch.setenv("MARTECH_HOME", str(anglers.path.parent))
    monkeypatch.chdir(tmp_path)
    by = "skill_level,water_type,preferred_tackle"
    assert main(["segments", "cells", "--by", by, "--min-size", "10", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["key"] for c in data["cells"]] == [
        "beginner-lake-spinning",
        "rest",
        "beginner-river-fly",
    ]
    assert {r["into"] for r in data["rolled_up"]} == {"rest"}

    segments_file = tmp_path / "segments.yml"
    segments_file.write_text("# ours\nsegments:\n  everyone:\n    rule: {all: []}\n")
    args = ["segments", "cells", "--by", by, "--min-size", "10"]
    assert main([*args, "--save", "beginner-lake-spinning", "--as", "gary"]) == 0
    text = segments_file.read_text()
    assert text.startswith("# ours\n")
    saved = {s.key: s for s in parse_segments(text)}
    assert set(saved) == {"everyone", "gary"}
    assert main([*args, "--save", "beginner-lake-spinning", "--as", "gary"]) == 2
    assert "exists already" in capsys.readouterr().err

    assert main([*args, "--save", "rest", "--print-yaml"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert "any" in printed["segments"]["rest"]["rule"]

    assert main(["segments", "cells", "--by", by]) == 0
    assert "rolled up" in capsys.readouterr().out
