"""Consent per channel (an ad placement reads the ``ad`` consent profiles store), the warning for
computed traits never computed, and loading only what the asked placement needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.cli import main
from martech.errors import ConfigError
from martech.models import Profile
from martech.personalize.batch import decide_batch
from martech.personalize.decide import DecideContext, decide, suppressed, uncomputed_traits
from martech.personalize.placements import parse_placements
from martech.population import generate, write_store
from martech.store import Store

from .conftest import AS_OF, STRATEGIES

AD = {
    "key": "ad_creative",
    "channel": "ad",
    "holdout": 0,
    "default": "generic",
    "variants": [
        {"id": "generic", "kind": "static", "content": "Outdoor gear"},
        {"id": "fish", "kind": "static", "content": "Fishing"},
    ],
    "rules": [{"variant": "fish", "trait": "interest", "equals": "fishing"}],
}
STAGE = {
    "key": "stage",
    "channel": "web",
    "holdout": 0,
    "default": "generic",
    "variants": [
        {"id": "generic", "kind": "static", "content": "Hi"},
        {"id": "welcome", "kind": "static", "content": "Welcome"},
    ],
    "rules": [{"variant": "welcome", "trait": "lifecycle_stage", "equals": "new"}],
}
SMS = {
    "key": "sms_push",
    "channel": "web",
    "default": "generic",
    "variants": [{"id": "generic", "kind": "static", "content": "Sale"}],
}
GHOST_SEGMENT = {
    "key": "fish_seg",
    "channel": "web",
    "default": "generic",
    "variants": [
        {"id": "generic", "kind": "static", "content": "Sale"},
        {"id": "f", "kind": "static", "content": "Fish"},
    ],
    "rules": [{"variant": "f", "segment": "never_snapshotted"}],
}
FILE = (
    "placements:\n"
    "  - {key: sms_push, channel: web, default: g, variants: [{id: g, kind: static, content: S}]}\n"
    "  - key: fish_seg\n    channel: web\n    default: g\n"
    "    variants: [{id: g, kind: static, content: S}, {id: f, kind: static, content: F}]\n"
    "    rules: [{variant: f, segment: never_snapshotted}]\n"
    "  - key: stage\n    channel: web\n    default: g\n"
    "    variants: [{id: g, kind: static, content: S}, {id: w, kind: static, content: W}]\n"
    "    rules: [{variant: w, trait: lifecycle_stage, equals: new}]\n"
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 people, no computed traits, no snapshots: what `generate` alone leaves."""
    path = tmp_path_factory.mktemp("channels")
    with Store(path / "martech.duckdb") as store:
        write_store(store, generate(300, seed=5, as_of=AS_OF))
    (path / "placements.yml").write_text(FILE)
    return path


def _ctx(*placements: dict) -> DecideContext:
    return DecideContext(
        placements=parse_placements(list(placements)), strategies=STRATEGIES, now=AS_OF
    )


@pytest.mark.parametrize("given", [True, False, None])
def test_an_ad_placement_reads_the_ad_consent(given: bool | None) -> None:
    consent = {} if given is None else {"ad": given}
    d = decide(
        Profile(id="x", traits={"interest": "fishing"}, consent=consent),
        "ad_creative",
        context=_ctx(AD),
    )
    if given:
        assert not suppressed(d)
        assert d.variant_id == "fish"
    else:
        assert suppressed(d)
        assert d.reasons[0].startswith("suppressed: ad consent")


def test_batch_decides_an_ad_placement_for_everyone_with_ad_consent(home: Path) -> None:
    with Store(home / "martech.duckdb") as store:
        consented = store.con.execute(
            "SELECT count(*) FROM profiles WHERE json_extract_string(consent, '$.ad') = 'true'"
        ).fetchall()[0][0]
        assert 0 < consented < 300
        ctx = DecideContext.from_store(store, parse_placements([AD]), now=AS_OF)
        summary = decide_batch(store, "ad_creative", context=ctx, write=False)
    assert summary.decided == consented
    assert summary.suppressed == 300 - consented


def test_uncomputed_traits_names_a_computed_trait_the_store_never_computed(home: Path) -> None:
    pl = parse_placements([STAGE])["stage"]
    with Store(home / "martech.duckdb") as store:
        assert uncomputed_traits(store, pl) == ["lifecycle_stage"]
        store.con.execute("BEGIN")
        try:
            store.con.execute(
                "INSERT INTO computed_traits (profile_id, name, value) "
                "VALUES ('p0000001', 'lifecycle_stage', '\"new\"')"
            )
            assert uncomputed_traits(store, pl) == []
        finally:
            store.con.execute("ROLLBACK")
        # a trait the profiles store themselves (imported) is not "never computed"
        assert uncomputed_traits(store, parse_placements([AD])["ad_creative"]) == []


@pytest.mark.parametrize("who", [["p0000001"], ["--all"]])
def test_the_cli_warns_once_when_rules_read_a_trait_never_computed(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, who: list[str]
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    code = main(["decide", *who, "-p", "stage", "--placements", str(home / "placements.yml")])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("martech traits compute") == 1
    assert "lifecycle_stage" in err
    assert "personalize neighbours" not in err  # no personalization rule: not the cause


def test_a_segment_another_placement_names_does_not_block_this_one(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    path = str(home / "placements.yml")
    assert main(["decide", "p0000001", "-p", "sms_push", "--placements", path, "--json"]) == 0
    capsys.readouterr()
    assert main(["decide", "p0000001", "-p", "fish_seg", "--placements", path]) == 2
    assert "segment 'never_snapshotted' is neither defined" in capsys.readouterr().err


def test_from_store_only_loads_the_asked_placements(home: Path) -> None:
    pls = parse_placements([SMS, GHOST_SEGMENT])
    with Store(home / "martech.duckdb") as store:
        with pytest.raises(ConfigError, match="never_snapshotted"):
            DecideContext.from_store(store, pls, now=AS_OF)
        ctx = DecideContext.from_store(store, pls, now=AS_OF, only=["sms_push"])
        assert list(ctx.placements) == ["sms_push"]
        with pytest.raises(ConfigError, match="unknown placement 'nope'; defined: fish_seg, sms"):
            DecideContext.from_store(store, pls, now=AS_OF, only=["nope"])


def test_segment_and_all_together_are_refused(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    assert main(["decide", "--segment", "gary", "--all", "-p", "home_hero"]) == 2
    assert "either --segment KEY or --all, not both" in capsys.readouterr().err
