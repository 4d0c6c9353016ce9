"""Pushing to Contentful: a broken token fails at load; a variant the YAML lost is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from martech.errors import ConfigError
from martech.http import run_sync
from martech.http.budget import forget_budgets
from martech.personalize import push as push_module
from martech.personalize.placements import parse_placements
from martech.personalize.push import push_placement
from martech.store import Store
from martech_connectors.contentful.config import ContentfulConfig
from martech_connectors.contentful.connector import ContentfulConnector
from martech_connectors.contentful.emulator import (
    ContentfulEmulator,
)

GOOD = {"space_id": "space1", "management_token": "cma-ok", "delivery_token": "cda-ok"}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "is empty"),
        ("abc def", "contains whitespace"),  # Contentful's own rule: a token is one string
        ("abc def\n", "starts or ends with whitespace"),  # every connector's secrets
        ("abc\n", "starts or ends with whitespace"),
        (" abc", "starts or ends with whitespace"),
    ],
)
@pytest.mark.parametrize("field", ["management_token", "delivery_token"])
def test_an_empty_or_broken_token_is_a_config_error_naming_the_setting(
    field: str, value: str, why: str
) -> None:
    env = {f"MARTECH_CONTENTFUL_{field.upper()}": value}
    with pytest.raises(ConfigError) as caught:
        ContentfulConfig.load("contentful", GOOD, env=env)
    message = str(caught.value)
    assert message.startswith(f"connectors.contentful.{field}: {why}")
    assert f"MARTECH_CONTENTFUL_{field.upper()}" in message
    if value.strip():
        assert value.strip() not in message  # the value itself is never echoed


def test_a_plain_token_loads() -> None:
    config = ContentfulConfig.load("contentful", GOOD, env={})
    assert config.management_token.get_secret_value() == "cma-ok"


# ------------------------------------------------------------------ variants gone from the YAML


@pytest.fixture
def emulator() -> ContentfulEmulator:
    forget_budgets()
    return ContentfulEmulator(cma_rate=None)


def connect(emulator: ContentfulEmulator) -> ContentfulConnector:
    return emulator.bind(ContentfulConnector, page_size=2)


def sms(*variants: str) -> Any:
    data = {
        "key": "sms_push",
        "channel": "sms",
        "holdout": 0.1,
        "default": variants[0],
        "variants": [{"id": v, "kind": "static", "content": f"text {v}"} for v in variants],
    }
    return parse_placements([data])["sms_push"]


def test_a_variant_removed_from_the_yaml_is_named_and_can_be_unpublished(
    emulator: ContentfulEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(push_module, "connector_for", lambda name: connect(emulator))
    with Store(tmp_path / "m.duckdb") as store:
        first = push_placement(store, sms("s_default", "s_active"), "contentful")
        assert first["created"] == 2
        assert first["not_in_yaml"] == []
        again = push_placement(store, sms("s_default"), "contentful")
        assert again["unchanged"] == 1
        assert again["not_in_yaml"] == [{"variant": "s_active", "vendor_id": "sms_push--s_active"}]
        assert again["can_unpublish"]
        c = connect(emulator)
        assert {v.id for v in run_sync(c.read_variants("sms_push"))} == {"s_default", "s_active"}
        gone = push_placement(store, sms("s_default"), "contentful", unpublish_missing=True)
        assert gone["unpublished"] == ["s_active"]
        # off the Delivery API, still in the space as a draft (nothing deleted)
        assert {v.id for v in run_sync(c.read_variants("sms_push"))} == {"s_default"}
        assert "sms_push--s_active" in emulator.entries
        last = push_placement(store, sms("s_default"), "contentful", unpublish_missing=True)
        assert last["not_in_yaml"] == []
        assert last["unpublished"] == []


@pytest.fixture
def sms_push_yml(
    emulator: ContentfulEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """An empty store, the CLI's Contentful bound to the emulator, and placements.yml holding
    ``sms_push`` with two static variants."""
    monkeypatch.setattr(push_module, "connector_for", lambda name: connect(emulator))
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path))
    Store(tmp_path / "martech.duckdb").close()
    yml = tmp_path / "placements.yml"
    yml.write_text(
        "- key: sms_push\n  channel: sms\n  default: s_default\n  variants:\n"
        "    - {id: s_default, kind: static, content: hi}\n"
        "    - {id: s_active, kind: static, content: go}\n"
    )
    return yml


def test_cli_warns_about_the_published_variant_the_yaml_lost(
    sms_push_yml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from martech.cli import main

    yml = sms_push_yml
    assert main(["personalize", "push", "-p", "sms_push", "--to", "contentful", "--placements",
                 str(yml)]) == 0  # fmt: skip
    yml.write_text("\n".join(yml.read_text().splitlines()[:-1]) + "\n")
    assert main(["personalize", "push", "-p", "sms_push", "--to", "contentful", "--placements",
                 str(yml)]) == 0  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())
    assert "still published: not in the YAML" in out
    assert (
        "1 published variant(s) of sms_push are no longer in the YAML and stay live: s_active"
        in out
    )


def test_cli_push_to_a_cms_prints_each_variant_and_what_happened_or_json(
    sms_push_yml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from martech.cli import main

    yml = sms_push_yml
    args = ["personalize", "push", "-p", "sms_push", "--to", "contentful", "--placements", str(yml)]
    assert main(args) == 0
    lines = [" ".join(line.strip("│┃ ").split()) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == "sms_push → contentful: 2 created"
    assert "s_default │ sms_push--s_default │ created" in lines
    assert "s_active │ sms_push--s_active │ created" in lines
    assert main([*args, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["placement"], again["connector"]) == ("sms_push", "contentful")
    assert [(v["variant"], v["action"]) for v in again["variants"]] == [
        ("s_default", "unchanged"),
        ("s_active", "unchanged"),
    ]
    assert (again["created"], again["unchanged"], again["not_in_yaml"]) == (0, 2, [])
