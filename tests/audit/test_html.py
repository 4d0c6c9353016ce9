"""The HTML report renders in a real browser (headless Chromium) and says what it found."""

from __future__ import annotations

import subprocess

import pytest

from martech.audit import audit_target


@pytest.mark.chromium
def test_html_report_renders_in_headless_chromium(probe_population, tmp_path, chromium):
    browser = chromium
    report = audit_target("connector:smartcontent", population=probe_population, budget=600)
    page = tmp_path / "audit.html"
    page.write_text(report.to_html(), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout  # fmt: skip
    assert "connector:smartcontent:decide" in dom
    assert "OVERCLAIM: sold as personalization, observed segmentation" in dom
    assert "Evidence: probe pairs" in dom
    assert "«first_name»" in dom  # the merge token, masked
    assert dom.count("<tr") >= 10
    shot = tmp_path / "audit.png"
    subprocess.run(
        [browser, *flags, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=90, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000  # a real page was painted, not a blank one
