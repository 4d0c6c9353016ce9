"""An output file option (``--html``) that cannot be written is a one-line error naming it,
exit 2, before the command does its work: never an internal error after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.cli import main
from martech.models import Profile
from martech.store import Store


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    with Store(home / "martech.duckdb") as store:
        store.upsert_profiles(
            Profile(id=f"p{i}", traits={"tier": "gold" if i % 2 else "silver"}) for i in range(10)
        )
    (tmp_path / "segments.yml").write_text(
        "segments:\n  gold:\n    name: Gold\n    rule: {trait: tier, eq: gold}\n"
    )
    (tmp_path / "afile").write_text("x")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARTECH_HOME", str(home))
    return tmp_path


@pytest.mark.parametrize(
    ("html", "says"),
    [
        ("missing/report.html", "the folder missing does not exist"),
        ("afile/report.html", "the folder afile is a file"),
        (".", "is a folder; give a file"),
    ],
    ids=["missing-folder", "under-a-file", "a-folder"],
)
def test_segments_report_html_that_cannot_be_written_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str], html: str, says: str
) -> None:
    assert main(["segments", "report", "--html", html]) == 2
    captured = capsys.readouterr()
    assert f"--html {html}" in captured.err
    assert says in captured.err
    assert "internal error" not in captured.err
    assert captured.out == ""  # refused before the report was computed and printed


def test_segments_report_html_is_written(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segments", "report", "--html", "report.html"]) == 0
    assert "gold" in (home / "report.html").read_text()
    assert "wrote report.html" in capsys.readouterr().err
