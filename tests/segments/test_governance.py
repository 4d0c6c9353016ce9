"""Governance report: sizes, overlaps, near-duplicates, unassigned, too many; HTML and CLI."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from datetime import UTC, datetime

import pytest

from martech.errors import ConfigError
from martech.models import Event, Profile
from martech.segments import evaluate, parse_segments
from martech.segments.governance import governance_report, seriate, summary_lines
from martech.segments.governance_html import render_html

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
INTERESTS = ["fishing", "camping", "hiking", "cycling", "running"]

DEFINITIONS = {
    "segments": {
        "fishing": {
            "name": "Anglers",
            "min_size": 10,
            "rule": {"trait": "interest", "eq": "fishing"},
        },
        "fishing_copy": {"rule": {"any": [{"trait": "interest", "eq": "fishing"}]}},
        "beginners": {"rule": {"trait": "skill_level", "eq": "beginner"}},
        "fishing_beginners": {
            "rule": {"all": [{"segment": "fishing"}, {"trait": "skill_level", "eq": "beginner"}]}
        },
        "buyers": {"min_size": 1000, "rule": {"event": "purchase", "measure": "count", "gte": 1}},
        "nobody": {"rule": {"trait": "interest", "eq": "golf"}},
    }
}


def _profiles() -> list[Profile]:
    out = []
    for n in range(120):
        traits = {"interest": INTERESTS[n % 5], "skill_level": ["beginner", "expert"][n % 7 == 0]}
        events = [Event(type="purchase", ts=AS_OF.replace(day=n % 28 + 1, month=3), value=5.0)]
        out.append(Profile(id=f"p{n:03d}", traits=traits, events=events if n % 3 == 0 else []))
    return out


@pytest.fixture
def shop(martech_store):
    profiles = _profiles()
    martech_store.upsert_profiles(profiles)
    martech_store.append_events([(p.id, e) for p in profiles for e in p.events])
    return martech_store


@pytest.fixture
def segments():
    return parse_segments(DEFINITIONS)


def test_sizes_overlaps_and_unassigned_match_set_arithmetic(shop, segments):
    report = governance_report(shop, segments, as_of=AS_OF, max_active=30)
    truth = evaluate(shop, segments, as_of=AS_OF, computed=())
    everyone = {p.id for p in _profiles()}
    assert report.population == 120
    assert {s.key: s.size for s in report.segments} == {k: len(v) for k, v in truth.items()}
    for s in report.segments:
        others = set().union(*(v for k, v in truth.items() if k != s.key))
        assert s.exclusive == len(truth[s.key] - others)
        assert s.share == pytest.approx(s.size / 120)
    assert report.unassigned == len(everyone - set().union(*truth.values()))
    by_pair = {(o.a, o.b): o for o in report.overlaps}
    for a, b in itertools.combinations(report.keys, 2):
        inter, union = truth[a] & truth[b], truth[a] | truth[b]
        i, j = report.keys.index(a), report.keys.index(b)
        expected = len(inter) / len(union) if union else 0.0
        assert report.jaccard[i][j] == report.jaccard[j][i] == pytest.approx(expected, abs=1e-4)
        if inter:
            assert by_pair[(a, b)].intersection == len(inter)
        else:
            assert (a, b) not in by_pair


def test_problems_are_reported_as_warnings(shop, segments):
    report = governance_report(shop, segments, as_of=AS_OF, max_active=4, near_duplicate=0.9)
    assert [(o.a, o.b) for o in report.near_duplicates] == [("fishing", "fishing_copy")]
    assert ("fishing", "fishing_beginners") in {(o.a, o.b) for o in report.nested}
    below = {s.key for s in report.segments if s.below_min}
    assert below == {"buyers"}
    text = "\n".join(report.warnings)
    assert "6 active segments: more than the 4 a team can manage" in text
    assert "segment 'nobody' is empty" in text
    assert "'buyers' has 40 members, below its min_size 1,000" in text
    assert "'fishing' and 'fishing_copy' are near-duplicates (Jaccard 1.00)" in text
    relaxed = governance_report(shop, segments, as_of=AS_OF, max_active=30)
    assert not relaxed.too_many
    assert not any("active segments" in w for w in relaxed.warnings)


def test_seriation_puts_similar_segments_next_to_each_other(shop, segments):
    report = governance_report(shop, segments, as_of=AS_OF)
    order = [report.keys[i] for i in seriate(report)]
    assert sorted(order) == sorted(report.keys)
    assert abs(order.index("fishing") - order.index("fishing_copy")) == 1


def test_summary_lines_for_the_demo(shop, segments):
    lines = summary_lines(governance_report(shop, segments, as_of=AS_OF, max_active=4))
    assert lines[0].startswith("6 segments over 120 profiles (max 4 active)")
    assert any(line.startswith("warning: 6 active segments") for line in lines)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"near_duplicate": 0}, "near_duplicate"), ({"max_active": 0}, "max_active")],
    ids=["threshold", "max-active"],
)
def test_bad_settings_are_refused(shop, segments, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        governance_report(shop, segments, **kwargs)


def test_no_segments_is_a_report_with_everyone_unassigned(shop):
    report = governance_report(shop, [], as_of=AS_OF)
    assert report.population == report.unassigned == 120
    assert report.jaccard == []
    assert "<svg" in render_html(report) or "No segments" in render_html(report)


def test_html_is_self_contained_and_escapes_names(shop):
    hostile = parse_segments(
        {
            "segments": {
                "odd": {
                    "name": "<script>alert(1)</script>",
                    "rule": {"trait": "interest", "eq": "hiking"},
                },
                "fish": {"rule": {"trait": "interest", "eq": "fishing"}},
            }
        }
    )
    html = render_html(governance_report(shop, hostile, as_of=AS_OF))
    assert html.startswith("<!doctype html>")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)
    assert "<link" not in html
    assert html.count("<svg") >= 3  # bars, heat map, legend


def test_cli_report_json_and_html(shop, tmp_path, monkeypatch, capsys):
    from martech.cli import main

    shop.close()
    monkeypatch.setenv("MARTECH_HOME", str(shop.path.parent))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "segments.yml").write_text(json.dumps(DEFINITIONS))
    (tmp_path / "martech.toml").write_text("[segments]\nmax_active = 5\n")
    out = tmp_path / "report.html"
    args = ["segments", "report", "--as-of", "2026-06-01", "--html", str(out)]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["max_active"] == 5
    assert data["active"] == 6
    assert data["near_duplicates"][0]["a"] == "fishing"
    assert "<svg" in out.read_text()
    assert main(["segments", "report", "--max-active", "10", "--near-duplicate", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "6 segments (max 10)" in printed
    assert "near-duplicates" in printed


@pytest.mark.chromium
def test_html_renders_in_headless_chromium(shop, segments, tmp_path, chromium):
    browser = chromium
    page = tmp_path / "report.html"
    page.write_text(render_html(governance_report(shop, segments, as_of=AS_OF)))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=1200,1600", page.as_uri()],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000  # a blank page is a few kB
