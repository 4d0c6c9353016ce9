"""Pitfalls a new user meets: a typo that silently empties a segment, a duplicate key YAML drops,
a misspelt top-level key, user text that breaks rich markup, and the wording of counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from martech.cli import main
from martech.errors import SegmentDefinitionError
from martech.models import Event, Profile
from martech.segments import load_segments, parse_segments
from martech.segments.cells import cells
from martech.segments.lint import lint_segments, store_vocabulary
from martech.segments.traits import compute_traits

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)

TYPOS = """\
segments:
  a:
    rule: {event: purchse}
  b:
    rule: {trait: contry, eq: US}
  c:
    rule: {trait: age, op: eq, value: "61"}
  d:
    rule: {trait: country, op: gt, value: 5}
  e:
    rule: {trait: age, op: eq, value: 61}
"""


def _people() -> list[Profile]:
    out = []
    for n in range(20):
        traits = {
            "country": "US" if n % 2 else "DE",
            "age": 61 if n < 5 else 30 + n,
            "tags": ["fishing"] if n % 3 == 0 else ["camping"],
            "vip": n < 4,
            # one trait stored as a number for some people, as text for others
            "zip": 12345 if n < 10 else "0815",
        }
        out.append(Profile(id=f"p{n:02d}", traits=traits))
    return out


@pytest.fixture
def shop(martech_store, tmp_path, monkeypatch):
    """A store of 20 profiles with purchases, used through the CLI from tmp_path/work."""
    martech_store.upsert_profiles(_people())
    martech_store.append_events(
        [(f"p{n:02d}", Event(type="purchase", ts=AS_OF, value=5.0)) for n in range(6)]
    )
    compute_traits(martech_store, ["purchaser"], as_of=AS_OF)
    martech_store.close()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("MARTECH_HOME", str(martech_store.path.parent))
    monkeypatch.chdir(work)
    return work


# ------------------------------------------------------------- typos that empty a segment


def test_validate_warns_naming_segment_and_field_and_exits_0(shop, capsys):
    (shop / "segments.yml").write_text(TYPOS)
    assert main(["segments", "validate"]) == 0
    out, err = capsys.readouterr()
    assert "ok: 5 segments valid, checked against the store; 4 warnings" in out
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 4, err
    assert "segment 'a': rule.event: the store has no events of type 'purchse'" in err
    assert "did you mean 'purchase'?" in err
    assert "segment 'b': rule.trait: no stored profile has trait 'contry'" in err
    assert "did you mean 'country'?" in err
    assert "segment 'c': rule.value: compares the string '61' with trait 'age'" in err
    assert "write the number without quotes" in err
    assert "segment 'd': rule.value: compares the number 5 with trait 'country'" in err
    assert "segment 'e'" not in err


def test_validate_strict_makes_warnings_an_error(shop, capsys):
    (shop / "segments.yml").write_text(TYPOS)
    assert main(["segments", "validate", "--strict"]) == 2
    err = capsys.readouterr().err
    assert "4 warnings, and --strict makes warnings errors" in err
    (shop / "segments.yml").write_text("segments:\n  e:\n    rule: {trait: age, eq: 61}\n")
    assert main(["segments", "validate", "--strict"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "ok: 1 segment valid, checked against the store"
    assert "warning" not in err


def test_warnings_name_the_nested_field(shop, capsys):
    (shop / "segments.yml").write_text(
        "segments:\n  n:\n    rule:\n      all:\n        - {trait: country, eq: US}\n"
        "        - {not: {event: purchse, window: last 30 days}}\n"
    )
    assert main(["segments", "validate"]) == 0
    assert "segment 'n': rule.all[1].not.event:" in capsys.readouterr().err


def test_no_warning_for_rules_that_can_match(shop, capsys):
    (shop / "segments.yml").write_text(
        """\
segments:
  ok1:
    rule:
      any:
        - {trait: zip, eq: 12345}            # number for some profiles
        - {trait: zip, eq: "0815"}           # text for others
        - {trait: tags, contains: fishing}   # a list trait
        - {trait: country, contains: U}      # a string trait
        - {trait: vip, eq: true}
        - {trait: age, between: [20, 40]}
        - {trait: country, in: [US, DE]}
        - {trait: nickname, exists: false}   # not a typo check: but no one has it...
        - {trait: purchaser, eq: true}       # a computed trait
        - {event: purchase, measure: last, lte: 30}
"""
    )
    assert main(["segments", "validate"]) == 0
    err = capsys.readouterr().err
    # only the trait no profile has is reported
    assert err.count("warning:") == 1
    assert "'nickname'" in err


def test_unmaterialized_computed_trait_says_how_to_compute_it(shop, capsys):
    (shop / "segments.yml").write_text("segments:\n  r:\n    rule: {trait: rfm_segment, eq: x}\n")
    assert main(["segments", "validate"]) == 0
    assert "run `martech traits compute` first" in capsys.readouterr().err


def test_eval_says_why_a_segment_is_empty(shop, capsys):
    (shop / "segments.yml").write_text(TYPOS)
    assert main(["segments", "eval", "--no-save"]) == 0
    out, err = capsys.readouterr()
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "empty: no 'purchse' events in the store" in rows["a"]
    assert "empty: no profile has trait 'contry'" in rows["b"]
    assert "empty: '61' vs number trait 'age'" in rows["c"]
    assert "empty" not in rows["e"]
    assert rows["e"].split()[1] == "5"
    assert "segment 'b': rule.trait" in err

    assert main(["segments", "eval", "--no-save", "--json", "b", "e"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_key = {row["key"]: row for row in data["segments"]}
    assert [w["kind"] for w in by_key["b"]["warnings"]] == ["unknown_trait"]
    assert by_key["b"]["warnings"][0]["path"] == "rule.trait"
    assert by_key["e"]["warnings"] == []


def test_eval_with_snapshots_warns_too(shop, capsys):
    (shop / "segments.yml").write_text(TYPOS)
    assert main(["segments", "eval"]) == 0
    out, err = capsys.readouterr()
    assert "empty: no profile has trait 'contry'" in out
    assert err.count("warning:") == 4


def test_validate_without_a_store_checks_definitions_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "segments.yml").write_text(TYPOS)
    assert main(["segments", "validate", "--strict"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "ok: 5 segments valid"
    assert "warning" not in err
    assert not (tmp_path / "nowhere").exists()


def test_an_empty_store_says_nothing_about_typos(martech_store):
    vocab = store_vocabulary(martech_store)
    assert vocab.profiles == 0
    assert lint_segments(parse_segments(TYPOS), vocab) == []


def test_store_vocabulary_reads_types(martech_store):
    martech_store.upsert_profiles(_people())
    vocab = store_vocabulary(martech_store)
    assert vocab.profiles == 20
    assert vocab.traits["zip"] == frozenset()  # several JSON types: not checked
    assert vocab.traits["tags"] == {"list"}
    assert vocab.traits["vip"] == {"boolean"}
    assert vocab.events == frozenset()
    # no events at all: event conditions are not second-guessed
    warnings = lint_segments(parse_segments(TYPOS), vocab)
    assert sorted(w.segment for w in warnings) == ["b", "c", "d"]


# -------------------------------------------------------------------------------- cells --by


def test_cells_warns_about_an_attribute_no_one_has(shop, capsys, martech_store):
    assert main(["segments", "cells", "--by", "nosuch,country", "--min-size", "1"]) == 0
    err = capsys.readouterr().err
    assert "warning: --by nosuch: no profile has a value for this attribute" in err
    assert "country" not in err
    assert main(["segments", "cells", "--by", "country", "--min-size", "1"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_cell_report_lists_missing_attributes(martech_store):
    martech_store.upsert_profiles(_people())
    report = cells(martech_store, ["nosuch", "country"], min_size=1)
    assert report.missing == ["nosuch"]
    assert cells(martech_store, ["country"], min_size=1).missing == []


# ------------------------------------------------------------------- duplicate keys in YAML


def test_a_duplicate_segment_key_is_an_error_naming_key_and_lines(tmp_path, capsys):
    path = tmp_path / "segments.yml"
    path.write_text("segments:\n  a:\n    rule: {all: []}\n  a:\n    rule: {any: []}\n")
    with pytest.raises(SegmentDefinitionError, match=r"line 4: key 'a' given twice.*line 2"):
        load_segments(path)
    assert main(["segments", "validate", "--file", str(path)]) == 2
    assert "key 'a' given twice" in capsys.readouterr().err


def test_a_duplicate_key_inside_a_rule_is_an_error():
    text = "segments:\n  a:\n    rule: {trait: country, trait: age, exists: true}\n"
    with pytest.raises(SegmentDefinitionError, match=r"line 3: key 'trait' given twice"):
        parse_segments(text)


def test_a_duplicate_key_in_json_is_an_error(tmp_path):
    path = tmp_path / "segments.json"
    path.write_text('{"segments": {"a": {"rule": {"all": []}}, "a": {"rule": {"any": []}}}}')
    with pytest.raises(SegmentDefinitionError, match=r"key 'a' appears twice"):
        load_segments(path)


def test_yaml_merge_keys_still_override():
    text = (
        "segments:\n  a: &base\n    name: A\n    rule: {all: []}\n"
        "  b:\n    <<: *base\n    name: B\n"
    )
    assert [(s.key, s.name) for s in parse_segments(text)] == [("a", "A"), ("b", "B")]


# ------------------------------------------------------------------------- top-level keys


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("segmnts:\n  a:\n    rule: {all: []}\n", "segmnts: unknown top-level key"),
        ("segments:\n  a:\n    rule: {all: []}\nversion: 2\n", "version: unknown top-level key"),
        ("groups:\n  a:\n    rule: {all: []}\n", "groups: unknown top-level key"),
    ],
    ids=["typo", "beside-segments", "other-name"],
)
def test_an_unknown_top_level_key_is_named(text, message):
    with pytest.raises(SegmentDefinitionError, match=f"{message}; expected segments"):
        parse_segments(text)


def test_a_bare_mapping_of_definitions_still_works():
    text = "a:\n  rule: {all: []}\nb:\n  name: B\n  rule: {any: []}\n"
    assert [s.key for s in parse_segments(text)] == ["a", "b"]


# ---------------------------------------------------------------------- wording and markup


def test_counts_are_pluralized(shop, capsys):
    (shop / "segments.yml").write_text("segments:\n  a:\n    rule: {trait: age, eq: 61}\n")
    assert main(["segments", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 segment"
    assert main(["segments", "validate"]) == 0
    assert "ok: 1 segment valid" in capsys.readouterr().out
    assert main(["segments", "report"]) == 0
    assert "1 segment (max " in capsys.readouterr().out
    # 4 vip profiles of 20: their cell is below 5, rolls up and stays unplaced
    assert main(["segments", "cells", "--by", "vip", "--min-size", "5"]) == 0
    out = capsys.readouterr().out
    assert "1 cell of at least 5 over 20 profiles; 1 smaller cell rolled up" in out


def test_report_has_a_flag_header_and_no_zero_min_size(shop, capsys):
    (shop / "segments.yml").write_text(
        "segments:\n  a:\n    rule: {trait: age, eq: 61}\n"
        "  big:\n    min_size: 1000\n    rule: {all: []}\n"
    )
    assert main(["segments", "report"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "segment" in line and "members" in line)
    assert header.split("┃")[-2].strip() == "flag"
    row_a = next(line for line in out.splitlines() if line.startswith("│ a "))
    assert [cell.strip() for cell in row_a.split("│")][5] == "-"
    row_big = next(line for line in out.splitlines() if line.startswith("│ big "))
    assert "1,000" in row_big
    assert "below min" in row_big


def test_user_text_is_not_read_as_markup(shop, capsys):
    (shop / "segments.yml").write_text(
        'segments:\n  a:\n    name: "[/]"\n    rule: {all: []}\n'
        '  b:\n    name: "[bold]loud[/bold] \\\\"\n    rule: {all: []}\n'
    )
    assert main(["segments", "list"]) == 0
    out = capsys.readouterr().out
    assert "[/]" in out
    assert "[bold]loud[/bold] \\" in out


def test_a_computed_trait_is_checked_by_its_own_type(shop, capsys):
    (shop / "segments.yml").write_text(
        'segments:\n  p:\n    rule: {trait: purchaser, eq: "true"}\n'
        "  q:\n    rule: {trait: purchaser, eq: true}\n"
    )
    assert main(["segments", "validate"]) == 0
    err = capsys.readouterr().err
    assert "segment 'p': rule.value: compares the string 'true' with trait 'purchaser'" in err
    assert "write true or false without quotes" in err
    assert "segment 'q'" not in err
