"""``martech profiles show`` lists consent in one order for everyone (the README's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.cli import main
from martech.models import Profile
from martech.store import Store


def test_consent_is_shown_email_sms_push_ad_then_other_channels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(tmp_path / "martech.duckdb") as store:
        store.upsert_profiles(
            [Profile(id="p1", consent={"web": True, "ad": False, "push": False, "email": True})]
        )
    assert main(["--home", str(tmp_path), "profiles", "show", "p1"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("consent:"))
    assert line == "consent:    email=True, push=False, ad=False, web=True"
