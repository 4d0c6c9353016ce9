"""Placements files are checked at load: duplicate keys, top-level typos, strategies, parameters,
consent; every error names the file and the field path inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.cli import main
from martech.errors import ConfigError, ValidationError
from martech.models import CHANNELS, Profile
from martech.personalize.placements import CHANNEL_CONSENT, load_placements, parse_placements

from .conftest import STRATEGIES

VARIANTS = [
    {"id": "plain", "kind": "static", "content": "Hello"},
    {"id": "recs", "kind": "recommendation", "strategy": "co_occurrence"},
]


def _hero(**over: object) -> dict:
    return {"key": "hero", "channel": "web", "default": "plain", "variants": VARIANTS, **over}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "placements.yml"
    path.write_text(text)
    return path


def test_a_key_given_twice_in_a_placement_is_refused_naming_key_and_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "placements:\n  - key: hero\n    channel: web\n    default: plain\n    default: st\n"
        "    variants:\n      - {id: plain, kind: static, content: Hi}\n"
        "      - {id: st, kind: static, content: Yo}\n",
    )
    with pytest.raises(ValidationError, match=r"line 5: key 'default' given twice.*line 4") as e:
        load_placements(path)
    assert e.value.field == "default"


def test_two_placements_under_one_key_are_refused(tmp_path: Path) -> None:
    body = "  channel: web\n  default: a\n  variants: [{id: a, kind: static, content: Hi}]\n"
    path = _write(tmp_path, f"p1:\n{body}p1:\n{body}")
    with pytest.raises(ValidationError, match="key 'p1' given twice"):
        load_placements(path)


def test_a_misspelled_top_level_key_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "placement:\n  - key: hero\n    channel: web\n    default: a\n"
        "    variants: [{id: a, kind: static, content: Hi}]\n",
    )
    with pytest.raises(
        ValidationError, match=r"unknown top-level key 'placement'.*did you mean 'placements'"
    ):
        load_placements(path)


def test_an_extra_top_level_key_beside_placements_is_named() -> None:
    with pytest.raises(ValidationError, match="unknown top-level key 'defaults'"):
        parse_placements({"placements": [_hero()], "defaults": {}})


def test_a_misspelled_strategy_is_refused_at_load_with_its_field_path() -> None:
    variants = [VARIANTS[0], {**VARIANTS[1], "strategy": "co_ocurrence"}]
    with pytest.raises(ConfigError) as e:
        parse_placements(
            [_hero(variants=variants, rules=[{"variant": "recs"}])],
            source="p.yml",
            strategies=STRATEGIES,
        )
    msg = str(e.value)
    assert msg.startswith("p.yml: placements.hero.variants[1].strategy")
    assert "unknown strategy 'co_ocurrence'; did you mean 'co_occurrence'?" in msg


@pytest.mark.parametrize(
    ("params", "path", "why"),
    [
        ({"min_event": 3}, "rules[0].params.min_event", "did you mean 'min_events'"),
        ({"min_events": "three"}, "rules[0].params.min_events", "must be a number >= 0"),
        ({"seeds": -1}, "rules[0].params.seeds", "must be a number >= 0"),
    ],
)
def test_a_bad_strategy_parameter_is_refused_at_load_with_its_field_path(
    params: dict, path: str, why: str
) -> None:
    with pytest.raises(ConfigError) as e:
        parse_placements(
            [_hero(rules=[{"variant": "recs", "params": params}])],
            source="p.yml",
            strategies=STRATEGIES,
        )
    assert f"p.yml: placements.hero.{path}" in str(e.value)
    assert why in str(e.value)


def test_parameters_are_checked_against_the_registered_strategies_by_default() -> None:
    with pytest.raises(ConfigError, match=r"rules\[0\]\.params\.windw_days"):
        parse_placements([_hero(rules=[{"variant": "recs", "params": {"windw_days": 2}}])])


def test_an_unknown_consent_key_is_refused_naming_the_field() -> None:
    with pytest.raises(
        ValidationError, match=r"unknown consent key 'smss'.*did you mean 'sms'"
    ) as e:
        parse_placements([_hero(channel="email", consent="smss")])
    assert e.value.field == "placements.hero.consent"


def test_a_load_error_points_at_the_field_not_the_placement() -> None:
    with pytest.raises(ValidationError) as e:
        parse_placements({"placements": [_hero(holdout=2)]}, source="p.yml")
    assert e.value.field == "placements.hero.holdout"
    assert str(e.value).startswith("p.yml: placements.hero.holdout")


def test_every_channel_needs_the_consent_key_profiles_store() -> None:
    assert set(CHANNEL_CONSENT) == set(CHANNELS)
    assert CHANNEL_CONSENT["ad"] == "ad"
    assert CHANNEL_CONSENT["web"] is None
    for key in filter(None, CHANNEL_CONSENT.values()):
        Profile(id="x", consent={key: True})  # a key profiles cannot hold would raise here


def test_the_placements_command_reports_a_bad_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        "placements:\n  - key: home_hero\n    channel: web\n    default: a\n    variants:\n"
        "      - {id: a, kind: static, content: Hi}\n"
        "      - {id: r, kind: recommendation, strategy: co_occurrence}\n"
        "    rules:\n      - {variant: r, params: {min_events: three}}\n",
    )
    assert main(["personalize", "placements", "--placements", str(path)]) == 2
    assert "placements.home_hero.rules[0].params.min_events" in capsys.readouterr().err
