"""Options ``martech audit --all-connectors`` cannot honour are refused by name, not ignored."""

from __future__ import annotations

import pytest

from martech.cli import main


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--live"], "--live"),
        (["--claim", "broadcast"], "--claim"),
        (["--spec", "vendor.yml"], "--spec"),
        (["--placement", "cart"], "--placement"),
    ],
    ids=["live", "claim", "spec", "placement"],
)
def test_all_connectors_refuses_an_option_it_would_ignore(capsys, extra, named):
    """--live audited the emulators and --claim judged each connector by its own claim,
    without a word: a buyer believed they had checked the live APIs against their claim."""
    code = main(["audit", "--all-connectors", "--budget", "300", *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert named in err
    assert "--all-connectors" in err


@pytest.mark.parametrize(
    ("extra", "named"),
    [(["--live"], "--live"), (["--placement", "cart"], "--placement")],
    ids=["live", "placement"],
)
def test_a_callable_target_refuses_connector_only_options(
    tmp_path, monkeypatch, capsys, extra, named
):
    (tmp_path / "plain_tool.py").write_text("def decide(p):\n    return 'same'\n")
    monkeypatch.chdir(tmp_path)
    code = main(["audit", "plain_tool:decide", "--budget", "300", *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert named in err
    assert "connector:" in err
