"""User and vendor text prints as typed: never read as rich markup or as an emoji code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from martech.cli import main
from martech.models import Event, Profile
from martech.store import Store
from martech.testing.reference import ReferenceEmulator

from .conftest import reference_workdir


@pytest.fixture
def reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceEmulator]:
    """A store of 20 people (10 gold), segments.yml, and the reference vendor on loopback."""
    with reference_workdir(tmp_path, monkeypatch) as emulator:
        yield emulator


@pytest.mark.parametrize("audience", ["[/b]x", "a:b", "x:smile:", "[red]vip[/red]"])
def test_sync_plan_prints_the_audience_as_typed(
    reference: ReferenceEmulator, capsys: pytest.CaptureFixture[str], audience: str
) -> None:
    assert main(["sync", "plan", "gold", "--to", f"reference:{audience}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"reference:{audience} (mirror): +10 add"), out


def test_sync_apply_and_status_print_the_audience_as_typed(
    reference: ReferenceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "apply", "gold", "--to", "reference:[b]a:b"]) == 0
    assert capsys.readouterr().out.startswith("reference:[b]a:b: complete; sent 10")
    assert reference.members("[b]a:b")
    assert main(["sync", "status"]) == 0
    assert "reference:[b]a:b" in capsys.readouterr().out


def test_sync_output_says_1_request_not_1_requests(
    reference: ReferenceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "plan", "gold", "--to", "reference:vip"]) == 0
    out = capsys.readouterr().out
    assert "  1 batch request + 2 lookup/resolve requests (" in out, out
    assert "1 batch requests" not in out


def test_show_result_prints_vendor_reasons_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    from martech.cli.sync import show_result

    show_result(
        {
            "destination": "mailchimp",
            "audience": "a:b",
            "complete": True,
            "sent": 1,
            "rejected": 1,
            "invalid": 0,
            "dead_lettered": 0,
            "requests": 1,
            "rejected_reasons": ["[/] bad [bold]address"],
        }
    )
    out = capsys.readouterr().out
    assert out.startswith("mailchimp:a:b: complete; sent 1, rejected 1")
    assert "1 request in all (lookups" in out
    assert "  rejected: [/] bad [bold]address" in out


@pytest.fixture
def odd_home(tmp_path: Path) -> Path:
    """One profile whose id, traits and events look like markup and emoji codes."""
    with Store(tmp_path / "martech.duckdb") as store:
        store.upsert_profiles(
            [
                Profile(
                    id="p[/b]1",
                    identities={"email": "gary@example.com"},
                    traits={"note": "[/] likes :fish: [bold]"},
                    consent={"email": True},
                )
            ]
        )
        store.append_events(
            [("p[/b]1", Event(type="view", item_id="[i]SKU", ts=datetime(2026, 11, 1, tzinfo=UTC)))]
        )
    return tmp_path


def test_profiles_show_prints_stored_values_as_text(
    odd_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(odd_home), "profiles", "show", "email=gary@example.com"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "p[/b]1"
    assert "[/] likes :fish: [bold]" in out
    assert "view [i]SKU" in out


def test_profiles_show_not_found_never_echoes_an_email_or_phone(
    odd_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for given in ("email=nobody@example.com", "phone=+14155550100", "nobody@example.com"):
        assert main(["--home", str(odd_home), "profiles", "show", given]) == 2
        err = capsys.readouterr().err
        assert "not" in err or "no profile" in err
        assert "nobody@example.com" not in err
        assert "4155550100" not in err
    assert main(["--home", str(odd_home), "profiles", "show", "nobody@example.com"]) == 2
    assert "email=" in capsys.readouterr().err  # says how to look one up by email
    assert main(["--home", str(odd_home), "profiles", "show", "p404"]) == 2
    assert "profile 'p404' not found" in capsys.readouterr().err  # an id is shown


def test_sandbox_list_json_and_table_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "list", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert main(["sandbox", "list"]) == 0
    out = capsys.readouterr().out
    for name, path in found.items():
        assert name in out
        assert path in out


def test_generate_says_1_profile_not_1_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(tmp_path), "generate", "-n", "1", "--items", "40"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("generated 1 profile, "), out
    assert "store: 1 profile inserted, 0 updated" in out
    assert "1 profiles" not in out


def test_sandbox_list_with_no_emulator_prints_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import martech.sandbox

    monkeypatch.setattr(martech.sandbox, "available", dict)
    assert main(["sandbox", "list"]) == 0
    assert capsys.readouterr().out == "no installed connector ships an emulator\n"


def test_sync_apply_exit_codes_are_the_ones_its_help_gives(
    reference: ReferenceEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["sync", "apply", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "Exit 3: stopped early" in help_text
    assert "Exit 1: the vendor refused" in help_text
    import os

    # a base URL with a wrong path: every call is a 404, which retrying will not fix
    monkeypatch.setenv(
        "MARTECH_REFERENCE_BASE_URL", os.environ["MARTECH_REFERENCE_BASE_URL"] + "/x"
    )
    assert main(["sync", "apply", "gold", "--to", "reference:vip"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert "404" in captured.err
    assert "sk_cli_secret" not in captured.err
    assert "complete" not in captured.out
    assert main(["sync", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "failed"
