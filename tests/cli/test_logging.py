"""``martech --verbose`` / ``MARTECH_LOG``: martech's own log on stderr, redacted, bounded to
martech's loggers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from martech.cli import configure_logging, main
from martech.sandbox import Burst, Faults
from martech.testing.reference import ReferenceEmulator

from .conftest import reference_workdir


@pytest.fixture
def throttled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceEmulator]:
    """The reference vendor answering its first request with a 429 (Retry-After: 0)."""
    with reference_workdir(tmp_path, monkeypatch) as emulator:
        emulator.set_faults(Faults(too_many_requests=Burst(first=1), retry_after="0"))
        yield emulator
    configure_logging(False)  # the handler holds this test's captured stderr


def test_verbose_logs_the_retry_without_the_key_or_any_email(
    throttled: ReferenceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-v", "sync", "apply", "gold", "--to", "reference:vip"]) == 0
    err = capsys.readouterr().err
    assert throttled.injected["429"] == 1
    assert "INFO martech.http: reference: " in err
    assert "429" in err
    assert "retry 1 in 0.00s" in err
    assert "sk_cli_secret" not in err
    assert "@example.com" not in err


def test_without_verbose_the_retry_is_not_logged(
    throttled: ReferenceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "apply", "gold", "--to", "reference:vip"]) == 0
    assert throttled.injected["429"] == 1
    assert "retry 1 in" not in capsys.readouterr().err


def test_martech_log_debug_logs_each_request(
    throttled: ReferenceEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MARTECH_LOG", "debug")
    assert main(["sync", "apply", "gold", "--to", "reference:vip"]) == 0
    err = capsys.readouterr().err
    assert "DEBUG martech.http: reference: POST /v1/audiences" in err
    assert "sk_cli_secret" not in err


def test_an_unknown_martech_log_level_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARTECH_LOG", "loud")
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert "MARTECH_LOG: expected debug, info, warning or error, got 'loud'" in err
    assert "Traceback" not in err
