"""``martech demo`` end to end on a small shop: every step's facts, and no server left behind."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from martech.cli import build_app
from martech.cli import demo as demo_module
from martech.store import Store
from martech.sync import last_sent

PROFILES = "500"


def run_demo(*args: str) -> Any:
    return CliRunner().invoke(build_app(), ["demo", "--profiles", PROFILES, *args])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo") / "store"


@pytest.fixture(scope="module")
def summary(home: Path) -> dict[str, Any]:
    result = run_demo("--dir", str(home), "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)  # one JSON object and nothing else
    return data


def emulator_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.endswith("-emulator")]


def refuses(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_the_summary_has_every_step(summary: dict[str, Any]) -> None:
    steps = ["population", "traits", "segments", "pull", "sync", "personalize", "audit"]
    assert all(step in summary for step in steps)
    assert [k for k in summary["seconds"] if k != "total"] == steps
    assert summary["population"]["profiles_inserted"] == int(PROFILES)


def test_pulls_bring_what_the_emulators_hold_and_merge_by_email(summary: dict[str, Any]) -> None:
    for source in ("hubspot", "mailchimp"):
        pulled = summary["pull"][source]
        seeded = pulled["seeded"]
        assert pulled["records"] == seeded["known"] + seeded["new"]
        assert pulled["new_profiles"] == seeded["new"]  # people only the vendor knows
        assert pulled["merged"] == seeded["known"]  # shop customers, matched by email
        assert pulled["requests"] >= pulled["pages"] >= 1
    assert summary["pull"]["in_all_three"] > 0


def test_sync_fills_each_destination_with_the_sendable_members(summary: dict[str, Any]) -> None:
    runs = summary["sync"]["runs"]
    assert [(r["segment"], r["destination"]) for r in runs] == [
        ("fishing_beginners", "mailchimp"),
        ("high_value", "hubspot"),
        ("non_purchasers", "meta"),
    ]
    for r in runs:
        assert r["complete"]
        assert r["rejected"] == 0
        assert r["sendable"] + r["not_sendable"] == r["members"] > 0
        assert r["adds"] == r["sent"] == r["sendable"] == r["at_vendor"]
        # the plan counts every request: the audience's lookup and create, HubSpot's resolution
        assert r["requests"] == r["sent_requests"], r
    # consent: the ESP and the ad platform leave some members out, the CRM none
    assert runs[0]["not_sendable"] > 0
    assert runs[2]["not_sendable"] > 0
    assert runs[1]["not_sendable"] == 0


def test_replan_is_empty_and_a_small_change_is_a_small_diff(
    summary: dict[str, Any], home: Path
) -> None:
    for r in summary["sync"]["replan"]:
        assert (r["adds"], r["removes"], r["requests"]) == (0, 0, 0)
    after = summary["sync"]["after_change"]
    assert (after["adds"], after["removes"]) == (after["joined"], after["left"]) == (2, 3)
    assert after["at_vendor"] == after["sendable"] == summary["sync"]["runs"][0]["sendable"] - 1
    with Store(home / "martech.duckdb", read_only=True) as store:
        ledger = last_sent(store.con, "mailchimp", "fishing_beginners")
    assert len(ledger) == after["at_vendor"]


def test_gary_is_decided_at_each_level_with_reasons(summary: dict[str, Any]) -> None:
    decisions = summary["personalize"]
    levels = [d["level"] for d in decisions]
    assert levels == ["personalization", "micro_segment", "segment", "default"]
    assert not any(d["holdout"] for d in decisions)
    assert "Reel" in decisions[0]["content"]  # the reels he viewed, by name
    assert any("skipped: nothing viewed" in r for r in decisions[1]["reasons"])
    assert sum("skipped" in r for r in decisions[3]["reasons"]) == 3  # the whole chain fell


def test_audit_finds_smartcontent_overclaims(summary: dict[str, Any]) -> None:
    audit = summary["audit"]
    assert audit["target"] == "connector:smartcontent:decide"
    assert audit["claimed"] == "personalization"
    assert audit["level"] == "segmentation"
    assert audit["overclaim"] is True
    assert 0 < audit["calls"] <= audit["budget"]
    assert audit["evidence"]["output_changed"] is True


def test_no_emulator_is_left_listening(summary: dict[str, Any]) -> None:
    assert emulator_threads() == []
    for source in ("hubspot", "mailchimp"):
        assert refuses(summary["pull"][source]["url"])


def test_a_failing_step_still_stops_every_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def boom(run: demo_module.DemoRun) -> None:
        seen.extend(url for _, url in run.emulators.values())
        raise RuntimeError("a step failed")

    steps = dict(demo_module.STEPS)
    keep = [(t, s) for t, s in steps.items() if s.__name__ in ("step_population", "step_pull")]
    monkeypatch.setattr(demo_module, "STEPS", [*keep, ("boom", boom)])
    result = run_demo("--dir", str(tmp_path / "store"), "--json")
    assert isinstance(result.exception, RuntimeError)
    assert len(seen) == 2
    assert emulator_threads() == []
    assert all(refuses(url) for url in seen)


def test_terminal_output_walks_through_the_steps(tmp_path: Path) -> None:
    result = run_demo("--dir", str(tmp_path / "store"))
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps at the terminal's width
    for title, _ in demo_module.STEPS:
        assert title in out
    assert "re-plan, nothing changed: 0 changes, 0 requests" in out
    assert "OVERCLAIM: sold as personalization, observed segmentation" in out
    assert out.index("every emulator has stopped") < out.index("try next: martech")


def test_the_demo_deletes_only_a_folder_it_made(tmp_path: Path) -> None:
    """``--dir`` is recreated each run: a folder of the user's (a real store, the current
    folder) is refused before anything is touched; the demo's own folder is emptied."""
    mine = tmp_path / "work"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = run_demo("--dir", str(mine))
    assert result.exit_code != 0
    assert "holds files the demo did not make" in str(result.exception)
    assert (mine / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "is a file" in str(run_demo("--dir", str(a_file)).exception)
    assert a_file.read_text() == "x"

    made = tmp_path / "made"
    demo_module._fresh_demo_dir(made)
    (made / "martech.duckdb").write_text("an old run's store")
    demo_module._fresh_demo_dir(made)  # the demo's own folder: recreated
    assert sorted(p.name for p in made.iterdir()) == [demo_module.DEMO_MARKER]
    older = tmp_path / "older"  # an older demo's folder, from before the marker
    older.mkdir()
    (older / "martech.duckdb").write_text("x")
    demo_module._fresh_demo_dir(older)
    assert sorted(p.name for p in older.iterdir()) == [demo_module.DEMO_MARKER]
