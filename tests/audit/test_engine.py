"""Audits are reproducible, bounded in calls, PII-free, and explain themselves."""

from __future__ import annotations

import pytest

from martech import Decision, Level, Profile, StaticVariant, TemplateVariant
from martech.audit import audit_target
from martech.audit.engine import plan_budget
from martech.audit.targets import normalize
from martech.errors import ConfigError


def by_interest(profile: Profile) -> str:
    return f"hero-{profile.traits.get('interest')}-sale"


def test_same_seed_gives_the_same_report(probe_population):
    a = audit_target(by_interest, population=probe_population, seed=11).to_dict()
    b = audit_target(by_interest, population=probe_population, seed=11).to_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b


def test_a_smaller_budget_is_respected_and_still_finds_the_segment(probe_population):
    report = audit_target(by_interest, population=probe_population, seed=1, budget=400)
    assert report.calls <= 400
    assert report.level == Level.segmentation
    assert report.traits == ["interest"]


def test_a_budget_too_small_for_an_audit_is_refused():
    with pytest.raises(ConfigError, match="--budget"):
        plan_budget(50, n_traits=14, population=1000)


def test_plan_never_exceeds_the_budget():
    for budget in (200, 300, 1000, 2000, 5000):
        assert plan_budget(budget, 14, 1000).calls(14) <= budget


def test_report_json_has_the_contract_keys_and_no_pii(probe_population):
    def greet(profile: Profile) -> str:
        return f"Hi {profile.traits['first_name']} ({profile.identities['email']})"

    report = audit_target(greet, population=probe_population, seed=2)
    data = report.to_dict()
    assert {"target", "level", "confidence", "claimed", "calls", "evidence", "stats"} <= set(data)
    assert isinstance(data["evidence"], list)
    assert 2 <= len(data["evidence"]) <= 3
    text = report.to_json() + report.to_html()
    emails = {p.identities["email"] for p in probe_population.profiles}
    names = {str(p.traits["first_name"]) for p in probe_population.profiles}
    assert not any(e in text for e in emails)
    assert not any(f"Hi {n}" in text for n in names)
    assert report.level == Level.token_only


def test_claim_above_observed_is_an_overclaim(probe_population):
    report = audit_target(by_interest, population=probe_population, claim="personalization")
    assert report.overclaim
    assert "OVERCLAIM" in report.verdict
    holds = audit_target(by_interest, population=probe_population, claim="segmentation")
    assert not holds.overclaim


def test_thresholds_are_in_the_report(probe_population):
    report = audit_target(by_interest, population=probe_population, budget=300)
    assert report.stats["thresholds"]["segment_max_attributes"] == 2
    assert "Thresholds" in report.to_html()


def test_async_callables_and_every_return_shape_are_accepted(probe_population):
    async def decide(profile: Profile) -> Decision:
        return Decision(
            profile_id=profile.id, placement="home", variant_id="v1", content="same for all",
            level="default", bucket=0,
        )  # fmt: skip

    assert audit_target(decide, population=probe_population, budget=300).level == Level.broadcast


def test_normalize_renders_templates_with_the_persons_traits():
    person = Profile(id="p1", traits={"first_name": "Ada"})
    tpl = TemplateVariant(id="t", channel="email", placement="p", template="Hi {{ first_name }}")
    static = StaticVariant(id="s", channel="web", placement="p", content="Sale")
    assert normalize(tpl, person) == "Hi Ada"
    assert normalize(static, person) == "Sale"
    assert normalize(7, person) == "7"
    assert normalize({"b": 1, "a": 2}, person) == '{"a":2,"b":1}'


def test_an_empty_population_is_refused():
    with pytest.raises(ConfigError, match="empty"):
        audit_target(by_interest, population=[])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_population_from_a_flat_export(tmp_path, fmt):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from martech.audit.sources import from_file
    from martech.population import generate

    flat = generate(300, seed=5).flat
    path = tmp_path / f"people.{fmt}"
    (pacsv.write_csv if fmt == "csv" else pq.write_table)(flat, path)
    pop = from_file(path)
    assert len(pop.profiles) == 300
    first = pop.profiles[0]
    assert first.identities["email"] == flat["email"][0].as_py()
    assert "consent_email" not in first.traits
    assert set(first.consent) <= {"email", "sms", "push", "ad"}
    phones = [p.identities.get("phone") for p in pop.profiles if p.identities.get("phone")]
    assert phones
    assert all(ph.startswith("+") for ph in phones)
    report = audit_target(by_interest, population=pop, budget=400)
    assert report.level == Level.segmentation


def test_population_from_the_store(tmp_path, capsys):
    import json

    from martech.cli import main
    from martech.population import generate, write_store
    from martech.store import Store

    with Store(tmp_path / "martech.duckdb") as store:
        write_store(store, generate(300, seed=6))
    module = tmp_path / "store_probe_tool.py"
    module.write_text("def decide(p):\n    return 'x-' + str(p.traits.get('country'))\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        code = main(["--home", str(tmp_path), "audit", "store_probe_tool:decide",
                     "--population", "store", "--json", "--budget", "400"])  # fmt: skip
    finally:
        sys.path.remove(str(tmp_path))
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["population"].startswith("store (300 of 300 profiles)")
    assert data["depends_on"]["traits"] == ["country"]


def test_live_connector_target_reads_credentials_from_the_environment(monkeypatch):
    from martech.audit.targets import connector_target

    monkeypatch.delenv("MARTECH_SMARTCONTENT_API_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="MARTECH_SMARTCONTENT_API_TOKEN"):
        connector_target("smartcontent", live=True)
    monkeypatch.setenv("MARTECH_SMARTCONTENT_API_TOKEN", "s3cret")
    target = connector_target("smartcontent", live=True)
    assert target.emulator is None
    assert target.connector.config.base_url == "https://api.smartcontent.example"


def test_structural_capabilities_are_labelled_without_calls():
    report = audit_target("connector:smartcontent:push_content")
    assert report.structural
    assert report.calls == 0
    assert report.level == Level.token_only
    assert report.overclaim  # sold as personalization


def test_a_target_that_keeps_failing_stops_the_audit_with_its_error(probe_population):
    def broken(profile: Profile) -> str:
        raise KeyError("lifecycle_stage")

    with pytest.raises(ConfigError, match="KeyError"):
        audit_target(broken, population=probe_population, budget=300)


def test_occasional_failures_are_counted_not_fatal(probe_population):
    def flaky(profile: Profile) -> str:
        if profile.traits.get("country") == "SE":  # a few percent of the probes
            raise ValueError("unsupported market")
        return "hello"

    report = audit_target(flaky, population=probe_population, budget=300)
    assert 0 < report.stats["errors"] < 0.2 * report.calls


def test_a_tool_that_cannot_be_reached_stops_the_audit_at_the_first_probe(probe_population):
    """Refused or timed out before any answer: the next probes would each wait through their
    retries as long again (about two minutes of silence), so the audit stops at once."""
    from martech.errors import RetriableVendorError

    calls = []

    def down(profile: Profile) -> str:
        calls.append(profile.id)
        raise RetriableVendorError("ConnectError: connection refused (gave up after 5 attempts)")

    with pytest.raises(ConfigError, match="cannot be reached: ConnectError"):
        audit_target(down, population=probe_population, seed=1)
    assert len(calls) == 1


def test_a_tool_that_answered_may_still_drop_a_connection(probe_population):
    from martech.errors import RetriableVendorError

    calls = []

    def flaky(profile: Profile) -> str:
        calls.append(profile.id)
        if len(calls) == 3:
            raise RetriableVendorError("ReadTimeout (gave up after 5 attempts)")
        return by_interest(profile)

    report = audit_target(flaky, population=probe_population, seed=1)
    assert len(calls) > 3
    assert report.level == Level.segmentation
