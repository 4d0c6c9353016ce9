"""``martech sync plan/apply/status`` against the reference vendor served on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from martech.cli import main
from martech.testing.reference import ReferenceEmulator

from .conftest import reference_workdir


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceEmulator]:
    with reference_workdir(tmp_path, monkeypatch, no_email_consent=frozenset({1})) as emulator:
        yield emulator


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    code = main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_plan_apply_status_round_trip(
    workdir: ReferenceEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan = run_json(capsys, "sync", "plan", "gold", "--to", "reference:vip", "--json")
    assert plan["adds"] == 9  # 10 gold, one without email consent
    assert plan["invalid_reasons"] == {"no_consent:email": 1}
    # one batch, after finding the audience and creating it (the ledger has never sent to it)
    assert (plan["batch_requests"], plan["lookup_requests"], plan["resolve_requests"]) == (1, 2, 0)
    assert plan["requests"] == 3
    assert workdir.total_requests == 0  # planning sends nothing
    letters = tmp_path / "dead.jsonl"
    result = run_json(
        capsys,
        "sync",
        "apply",
        "gold",
        "--to",
        "reference:vip",
        "--dead-letter",
        str(letters),
        "--json",
    )
    assert result["complete"] is True
    assert result["sent"] == 9
    assert result["requests"] == workdir.total_requests == plan["requests"]
    assert len(workdir.members("vip")) == 9
    assert json.loads(letters.read_text().splitlines()[0])["key"] == "p1"
    again = run_json(capsys, "sync", "apply", "gold", "--to", "reference:vip", "--json")
    assert again["sent"] == 0
    assert again["requests"] == 0
    runs = run_json(capsys, "sync", "status", "--json")
    assert [r["status"] for r in runs] == ["complete", "complete"]
    assert runs[1]["sent"] == 9


def test_plan_shows_the_lookups_on_their_own_line_and_only_when_there_are_any(
    workdir: ReferenceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "plan", "gold", "--to", "reference:vip"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # the lookup and the create come before the batch: 3 requests one after another
    assert lines[0].endswith("; 3 requests, ~0.3s"), lines
    assert lines[1] == (
        "  1 batch request + 2 lookup/resolve requests (2 to find and create the audience)"
    )
    assert main(["sync", "apply", "gold", "--to", "reference:vip"]) == 0
    capsys.readouterr()
    assert main(["sync", "plan", "gold", "--to", "reference:vip"]) == 0
    out = capsys.readouterr().out
    assert "; 0 requests, ~0.0s" in out
    assert "lookup" not in out


def test_a_plan_with_a_vendors_per_batch_extras_gives_its_count_as_a_range(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Mailchimp subscribes only the people not yet on its list: the extras are at most."""
    from martech.cli.sync import show_plan

    plan = {
        "destination": "mailchimp", "audience": "lapsed", "mode": "mirror", "adds": 625,
        "removes": 0, "updates": 0, "invalid": 0, "invalid_reasons": {}, "requests": 8,
        "batch_requests": 2, "lookup_requests": 2, "resolve_requests": 4,
        "estimated_seconds": 0.3, "estimated_seconds_min": 0.1,
    }  # fmt: skip
    show_plan(plan)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("; 4-8 requests, ~0.1-0.3s"), first
    show_plan({**plan, "estimated_seconds_min": 0.3})  # within one round-trip: one figure
    assert capsys.readouterr().out.splitlines()[0].endswith("; 4-8 requests, ~0.3s")


def test_a_bad_target_or_deadline_is_a_one_line_error(
    workdir: ReferenceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "plan", "gold", "--to", ":vip"]) == 2
    assert "--to" in capsys.readouterr().err
    assert main(["sync", "apply", "gold", "--to", "reference", "--deadline", "soon"]) == 2
    assert "--deadline" in capsys.readouterr().err
    assert main(["sync", "plan", "gold", "--to", "nowhere"]) == 2
    assert "unknown connector 'nowhere'" in capsys.readouterr().err


def test_apply_to_an_unreachable_vendor_stops_says_why_and_exits_3(
    workdir: ReferenceEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MARTECH_REFERENCE_BASE_URL", f"http://127.0.0.1:{port}")
    assert main(["sync", "apply", "gold", "--to", "reference:vip"]) == 3
    out = capsys.readouterr().out
    assert "stopped; resume after" in out
    assert "stopped because:" in out
    assert "sk_cli_secret" not in out
    status = run_json(capsys, "sync", "status", "--json")
    assert status[0]["status"] == "interrupted"
    assert status[0]["stop_reason"]


def test_status_table_piped_keeps_every_cell_whole(
    workdir: ReferenceEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_json(capsys, "sync", "apply", "gold", "--to", "reference:vip", "--json")
    run = run_json(capsys, "sync", "status", "--json")[0]  # type: ignore[index]
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["sync", "status"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    row = next(line for line in out.splitlines() if run["run_id"] in line)
    for cell in ("reference:vip", "gold", run["status"], run["finished_at"]):
        assert cell in row


@pytest.mark.parametrize("where", ["folder", "under_a_file"])
def test_dead_letter_path_that_cannot_be_a_file_is_refused_before_sending(
    workdir: ReferenceEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str
) -> None:
    (tmp_path / "afile").write_text("x")
    letters = tmp_path if where == "folder" else tmp_path / "afile" / "dead.jsonl"
    code = main(["sync", "apply", "gold", "--to", "reference:vip", "--dead-letter", str(letters)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--dead-letter" in err
    assert "internal error" not in err
    assert workdir.total_requests == 0  # refused before anything was sent
    assert run_json(capsys, "sync", "status", "--json") == []  # no run left 'running'


def test_dead_letter_in_a_folder_not_made_yet_is_created(
    workdir: ReferenceEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    letters = tmp_path / "new" / "dir" / "dead.jsonl"
    run_json(
        capsys,
        "sync",
        "apply",
        "gold",
        "--to",
        "reference:vip",
        "--dead-letter",
        str(letters),
        "--json",
    )
    assert json.loads(letters.read_text().splitlines()[0])["key"] == "p1"


def test_apply_summary_counts_every_request_and_names_no_vendor(
    workdir: ReferenceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "apply", "gold", "--to", "reference:vip"]) == 0
    out = capsys.readouterr().out
    sent = workdir.total_requests
    assert sent == 3  # find the audience, create it, one batch
    assert f"{sent} requests in all (lookups, a vendor's extra calls and retries included)" in out
    assert "Mailchimp" not in out
