"""A bad argument is a one-line error naming it, before any work: never an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.cli import main


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err
    assert "internal error" not in err


def test_sync_status_limit_must_be_at_least_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in ("-1", "0"):
        assert main(["--home", str(tmp_path), "sync", "status", "-n", bad]) == 2
        err = capsys.readouterr().err
        assert "--limit" in err
        _no_traceback(err)


def test_init_into_a_missing_folder_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "dir" / "martech.toml"
    assert main(["init", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"the folder {target.parent} does not exist" in err
    _no_traceback(err)
    assert not target.parent.exists()


def test_init_on_a_folder_or_under_a_file_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path), "--force"]) == 2
    assert "is a folder" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert main(["init", str(tmp_path / "afile" / "martech.toml")]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err
    _no_traceback(err)


def test_generate_out_naming_a_file_is_refused_before_generating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import martech.population

    def no_work(*args: object, **kw: object) -> None:
        raise AssertionError("generated before checking --out")

    monkeypatch.setattr(martech.population, "generate", no_work)
    existing = tmp_path / "exist.txt"
    existing.write_text("mine\n")
    for out in (existing, existing / "sub"):
        assert main(["--home", str(tmp_path), "generate", "-n", "5", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"--out {out}" in err
        assert "is a file" in err
        _no_traceback(err)
    assert existing.read_text() == "mine\n"


def test_audit_html_into_a_missing_folder_is_refused_before_the_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import martech.audit

    def no_audit(*args: object, **kw: object) -> None:
        raise AssertionError("audited before checking --html")

    monkeypatch.setattr(martech.audit, "audit_target", no_audit)
    monkeypatch.setattr(martech.audit, "audit_connectors", no_audit)
    report = tmp_path / "missing" / "r.html"
    assert main(["audit", "connector:mailchimp", "--html", str(report)]) == 2
    err = capsys.readouterr().err
    assert f"--html {report}: the folder {report.parent} does not exist" in err
    _no_traceback(err)
    assert main(["audit", "connector:mailchimp", "--html", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["audit", "--all-connectors", "--html", str(tmp_path / "r.html")]) == 2
    assert "--all-connectors" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--port", "99999"), ("--port", "-1"), ("--records", "-5"), ("--for", "-1"), ("--for", "0")],
)
def test_sandbox_serve_refuses_out_of_range_options(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # --for 0.1 stops a wrongly accepted emulator at once instead of serving until Ctrl-C
    args = ["sandbox", "serve", "mailchimp", option, value]
    assert main(args if option == "--for" else [*args, "--for", "0.1"]) == 2
    captured = capsys.readouterr()
    assert f"Invalid value for '{option}'" in captured.err
    assert "http://127.0.0.1" not in captured.out  # nothing was served
    _no_traceback(captured.err)


def test_sandbox_serve_help_has_no_rst_backticks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "martech.toml" in out
    assert "``" not in out


def test_internal_error_hint_puts_debug_before_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import martech.config

    monkeypatch.setattr(martech.config, "TEMPLATE", 42)  # write_text(42): a TypeError
    assert main(["init", str(tmp_path / "martech.toml")]) == 70
    err = capsys.readouterr().err
    assert "internal error: TypeError" in err
    assert "martech --debug <command>" in err


@pytest.mark.parametrize("placement", ["", "  "], ids=["empty", "blank"])
def test_audit_blank_placement_is_refused_before_calling_the_vendor(
    capsys: pytest.CaptureFixture[str], placement: str
) -> None:
    code = main(["audit", "connector:smartcontent", "--placement", placement, "--budget", "200"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--placement" in err
    assert "404" not in err  # not sent to the vendor as /v2/experiences//decide
    _no_traceback(err)
