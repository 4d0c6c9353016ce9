"""An HTTP response path that matches nothing is an error naming the keys it found, never an
empty output read as "the same for everyone"; misses in some responses count as errors."""

from __future__ import annotations

import hashlib
import re

import httpx
import orjson
import pytest

from martech import Level
from martech.audit import HttpTarget, audit_target
from martech.audit.targets import HttpSpec, ResponsePathError, describe_shape
from martech.cli import main
from martech_connectors.smartcontent.emulator import SmartContentEmulator

HOST = "vendor.test"


def _spec(response: str, **extra: object) -> HttpSpec:
    return HttpSpec(
        url=f"http://{HOST}/decide",
        allowed_hosts=[HOST],
        request={"id": "{{ id }}", "traits": "{{ traits }}"},
        response=response,
        rate_per_second=1000,
        **extra,  # type: ignore[arg-type]
    )


def _vendor(*, error_when: object = lambda person_id: False) -> httpx.MockTransport:
    """Answers ``{"content": {"text": "offer <by country>"}}``; a 200 error body when told."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        if error_when(body["id"]):  # type: ignore[operator]
            # The error body carries the person's email: it must never reach a message.
            email = body["traits"].get("email", "x@y.z")
            return httpx.Response(200, json={"error": f"quota exceeded for {email}", "code": 7})
        # The offer follows the country, without naming it (a named country is a merge token).
        offer = hashlib.sha256(str(body["traits"].get("country")).encode()).hexdigest()[:6]
        return httpx.Response(200, json={"content": {"text": f"offer {offer}", "id": 1}})

    return httpx.MockTransport(handle)


def test_the_right_path_still_finds_the_segment(probe_population):
    report = audit_target(
        HttpTarget(_spec("$.content.text"), transport=_vendor()),
        population=probe_population,
        budget=600,
    )
    assert report.level == Level.segmentation
    assert report.traits == ["country"]
    assert report.stats["errors"] == 0


def test_a_response_path_typo_is_an_error_naming_the_keys_not_a_broadcast(probe_population):
    target = HttpTarget(_spec("$.content.txt", claim="personalization"), transport=_vendor())
    with pytest.raises(ResponsePathError) as caught:
        audit_target(target, population=probe_population, budget=600)
    message = str(caught.value)
    assert re.search(
        r"response path \$\.content\.txt matched nothing in (\d+) of \1 responses", message
    )
    assert "first response's top-level keys: content" in message
    assert "$.content has keys: text, id" in message
    assert "offer" not in message  # keys only, never values
    assert target.calls < 600  # stopped early, not after the whole budget


def test_a_vendor_answering_200_with_an_error_body_fails_without_leaking_the_body(
    probe_population,
):
    target = HttpTarget(_spec("$.content.text"), transport=_vendor(error_when=lambda _: True))
    with pytest.raises(ResponsePathError) as caught:
        audit_target(target, population=probe_population, budget=600)
    message = str(caught.value)
    assert "top-level keys: error, code" in message
    assert "quota" not in message
    assert "@" not in message


def _one_in_ten(person_id: str) -> bool:
    return int(hashlib.sha256(person_id.encode()).hexdigest(), 16) % 10 == 0


def test_a_path_that_misses_in_some_responses_counts_them_as_errors(probe_population):
    target = HttpTarget(_spec("$.content.text"), transport=_vendor(error_when=_one_in_ten))
    report = audit_target(target, population=probe_population, budget=600)
    assert target.misses > 0
    assert report.stats["errors"] == target.misses
    assert any(f"ResponsePathError: {target.misses}" in n for n in report.notes), report.notes
    assert report.level == Level.segmentation
    assert report.traits == ["country"]


def test_the_cli_exits_with_a_config_error_not_an_overclaim(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "spec.yml"
    spec.write_text(
        "url: http://smartcontent.test/v2/experiences/home/decide\n"
        "allowed_hosts: [smartcontent.test]\n"
        'headers: {Authorization: "Bearer t0ken"}\n'
        'request: {visitor: {id: "{{ id }}", attributes: "{{ traits }}", history: []}}\n'
        'response: "$.experience.bdy"\n'
        "rate_per_second: 1000\n"
        "claim: personalization\n"
    )
    emulator = SmartContentEmulator()
    real_init = HttpTarget.__init__

    def with_emulator(self, spec, *, transport=None):  # the CLI builds the target itself
        real_init(self, spec, transport=emulator.transport())

    monkeypatch.setattr(HttpTarget, "__init__", with_emulator)
    code = main(["audit", "http", "--spec", str(spec), "--fail-on-overclaim", "--budget", "600"])
    assert code == 2
    err = capsys.readouterr().err
    assert "matched nothing in" in err
    assert "$.experience has keys:" in err
    assert "body" in err
    assert "OVERCLAIM" not in err
    assert "broadcast" not in err


def test_shape_descriptions_name_structure_only():
    assert describe_shape({"a": "secret@x.y", "b": 1}) == "top-level keys: a, b"
    assert describe_shape(["anna@x.y"]) == "body is a JSON list of 1 item"
    assert describe_shape(None) == "body is empty or not JSON"
    assert describe_shape("anna@x.y") == "body is a JSON str, not an object"
    many = describe_shape({f"k{i}": i for i in range(15)})
    assert many.endswith("k11 (+3 more)")
