"""Tables as a user reads them: nothing cut to an ellipsis, in a pipe or in a narrow terminal."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from rich.table import Table

from martech.cli import main
from martech.cli.app import print_table

HOOK = "martech_register_connectors"


def hooks_table() -> Table:
    table = Table("plugin", "hooks")
    table.add_row("hubspot", HOOK)
    return table


def column(text: str, index: int) -> str:
    """The text of one column, its folded pieces joined, from a table rendered with box lines."""
    cells = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    return "".join(c[index].strip() for c in cells if len(c) > index)


def test_a_narrow_terminal_folds_a_long_cell_instead_of_cutting_it() -> None:
    buf = io.StringIO()
    terminal = Console(file=buf, width=30, force_terminal=True, color_system=None)
    print_table(hooks_table(), out=terminal)
    text = buf.getvalue()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 30
    assert column(text, 2) == HOOK


def test_a_pipe_gets_the_whole_table_one_row_a_line() -> None:
    buf = io.StringIO()
    print_table(hooks_table(), out=Console(file=buf, width=30))  # a StringIO is no terminal
    rows = [line for line in buf.getvalue().splitlines() if "hubspot" in line]
    assert len(rows) == 1
    assert HOOK in rows[0]


def test_a_title_wider_than_its_table_stays_on_one_line() -> None:
    title = "email_hero: 26,788 decisions in 0.67 s"
    table = Table("level", "people", title=title)
    table.add_row("segment", "5,748")
    buf = io.StringIO()
    print_table(table, out=Console(file=buf, width=80))
    assert title in buf.getvalue().splitlines()[0]


def test_martech_plugins_piped_shows_every_hook_and_registration_whole(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["plugins", "--json"]) == 0
    plugins = json.loads(capsys.readouterr().out)["plugins"]
    widest = max(plugins, key=lambda p: sum(len(", ".join(v)) for v in p["registered"].values()))
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    row = next(line for line in out.splitlines() if f" {widest['name']} " in line)
    for kind, names in widest["registered"].items():
        assert f"{kind}: {', '.join(names)}" in row
    assert widest["hooks"][0] in row


@pytest.mark.parametrize(
    ("args", "flags", "valued"),
    [
        ([], ["--debug", "--version", "--help"], {"--home": "<path>"}),
        (["plugins"], ["--json", "--help"], {}),
        (["sync", "status"], ["--json", "--help"], {"--limit": "<int>"}),
    ],
    ids=["root", "plugins", "sync-status"],
)
def test_help_shows_no_metavar_beside_a_flag(
    args: list[str],
    flags: list[str],
    valued: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert main([*args, "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()

    def option_line(option: str) -> str:
        return next(line for line in lines if f" {option} " in line)

    for flag in flags:
        assert "<" not in option_line(flag), option_line(flag)
    for option, metavar in valued.items():
        assert metavar in option_line(option)


def test_a_long_message_stays_one_line_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    from martech.cli.sync import show_result

    show_result(
        {
            "destination": "mailchimp",
            "audience": "purchasers",
            "complete": True,
            "sent": 26788,
            "rejected": 0,
            "invalid": 8177,
            "dead_lettered": 0,
            "requests": 164,
            "rejected_reasons": [],
        }
    )
    (line,) = capsys.readouterr().out.splitlines()
    assert "sent 26,788, rejected 0, 8,177 not sendable, dead-lettered 0, 164 requests" in line
    assert len(line) > 80
