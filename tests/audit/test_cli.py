"""``martech audit`` end to end: targets, claims and exit codes, JSON, HTML, every connector."""

from __future__ import annotations

import json
import textwrap

import pytest

from martech.cli import main
from martech.cli.audit import OVERCLAIM_EXIT


@pytest.fixture
def vendor_module(tmp_path, monkeypatch):
    """A vendor's decision function as an importable module in the working directory."""
    (tmp_path / "acme_vendor_tool.py").write_text(
        textwrap.dedent("""\
            def decide(profile):
                return "offer-" + str(profile.traits.get("budget_tier"))
        """)
    )
    monkeypatch.chdir(tmp_path)
    return "acme_vendor_tool:decide"


def test_overclaiming_connector_fails_with_a_clear_verdict(capsys):
    code = main(["audit", "connector:smartcontent", "--claim", "personalization",
                 "--fail-on-overclaim", "--budget", "600"])  # fmt: skip
    assert code == OVERCLAIM_EXIT
    captured = capsys.readouterr()
    assert "OVERCLAIM: sold as personalization, observed segmentation" in captured.err
    assert "segmentation" in captured.out


def test_callable_target_prints_one_json_object(vendor_module, capsys):
    assert main(["audit", vendor_module, "--json", "--budget", "500", "--seed", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == vendor_module
    assert data["level"] == "segmentation"
    assert data["calls"] <= 500
    assert data["claimed"] is None
    assert isinstance(data["evidence"], list)
    assert isinstance(data["stats"], dict)
    assert data["depends_on"]["traits"] == ["budget_tier"]


def test_claim_met_exits_zero_even_with_fail_on_overclaim(vendor_module):
    args = ["audit", vendor_module, "--claim", "segmentation", "--fail-on-overclaim", "--json"]
    assert main([*args, "--budget", "400"]) == 0


def test_html_report_is_written(vendor_module, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["audit", vendor_module, "--budget", "400", "--html", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert "segmentation" in page
    assert "<script" not in page
    assert "http://" not in page
    assert "https://" not in page


def test_population_from_a_jsonl_file(vendor_module, tmp_path, probe_population, capsys):
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(p.model_dump_json() for p in probe_population.profiles[:300]))
    assert main(["audit", vendor_module, "--population", str(path), "--json",
                 "--budget", "400"]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["population"] == "people.jsonl (300 profiles)"
    assert data["level"] == "segmentation"


def test_bad_claim_and_missing_spec_are_usage_errors(vendor_module, capsys):
    assert main(["audit", vendor_module, "--claim", "magic"]) == 2
    assert "--claim 'magic'" in capsys.readouterr().err
    assert main(["audit", "http"]) == 2
    assert "--spec" in capsys.readouterr().err


def test_unknown_connector_and_bad_module_name_what_is_wrong(capsys):
    assert main(["audit", "connector:nope"]) == 2
    assert "not installed" in capsys.readouterr().err
    assert main(["audit", "no_such_module_xyz:f"]) == 2
    assert "cannot import" in capsys.readouterr().err


def test_all_connectors_prints_a_table_and_flags_the_overclaim(capsys):
    assert main(["audit", "--all-connectors", "--budget", "400"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "smartcontent" in line]
    assert any("decide" in r and "segmentation" in r and "OVERCLAIM" in r for r in rows)
    assert any("push_content" in r and "token_only" in r for r in rows)
    assert main(["audit", "--all-connectors", "--budget", "400", "--fail-on-overclaim"]) == (
        OVERCLAIM_EXIT
    )


def test_http_spec_against_an_emulator_on_loopback(tmp_path, capsys, monkeypatch):
    from martech_connectors.smartcontent.emulator import SmartContentEmulator

    monkeypatch.setenv("SC_TOKEN", "t")
    emulator = SmartContentEmulator()
    with emulator.serve() as url:
        spec = tmp_path / "spec.yml"
        spec.write_text(
            textwrap.dedent(f"""\
                name: smartcontent on loopback
                url: {url}/v2/experiences/home/decide
                allowed_hosts: [127.0.0.1]
                headers: {{Authorization: "Bearer ${{SC_TOKEN}}"}}
                request: {{visitor: {{id: "{{{{ id }}}}", attributes: "{{{{ traits }}}}"}}}}
                response: $.experience.body
                rate_per_second: 1000
                max_calls: 300
            """)
        )
        assert main(["audit", "http", "--spec", str(spec), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["calls"] <= 300
    assert data["calls"] == emulator.total_requests
    assert data["level"] == "segmentation"
