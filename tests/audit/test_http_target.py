"""HTTP targets: filled from the profile, read by JSONPath, bounded, and kept to named hosts."""

from __future__ import annotations

import textwrap

import pytest

from martech import Level, Profile
from martech.audit import HttpTarget, audit_target, load_http_spec
from martech.audit.targets import fill
from martech.errors import ConfigError
from martech_connectors.smartcontent.emulator import SmartContentEmulator

SPEC = """\
name: smartcontent over http
url: {url}/v2/experiences/home/decide
allowed_hosts: [{host}]
headers: {{Authorization: "Bearer ${{SMARTCONTENT_TOKEN}}"}}
request:
  visitor:
    id: "{{{{ id }}}}"
    attributes: "{{{{ traits }}}}"
    history: []
response: "$.experience.body"
rate_per_second: 1000
max_calls: {max_calls}
claim: personalization
"""


def write_spec(tmp_path, url="http://smartcontent.test", host="smartcontent.test", max_calls=2000):
    path = tmp_path / "spec.yml"
    path.write_text(SPEC.format(url=url, host=host, max_calls=max_calls))
    return path


def test_fill_keeps_json_types_for_whole_tokens_and_interpolates_inside_text():
    person = Profile(id="p1", traits={"age": 30, "country": "FR"})
    body = fill({"a": "{{ traits.age }}", "b": "from {{ traits.country }}", "c": [1]}, person)
    assert body == {"a": 30, "b": "from FR", "c": [1]}


def test_http_target_audits_an_endpoint_within_max_calls(tmp_path, probe_population, monkeypatch):
    monkeypatch.setenv("SMARTCONTENT_TOKEN", "t0ken")
    emulator = SmartContentEmulator()
    spec = load_http_spec(write_spec(tmp_path, max_calls=600))
    target = HttpTarget(spec, transport=emulator.transport())
    report = audit_target(target, population=probe_population, seed=0)
    assert report.calls <= 600
    assert emulator.total_requests == report.calls
    assert report.claimed == Level.personalization
    # The body (the region's offer) follows the country alone.
    assert report.level == Level.segmentation
    assert report.traits == ["country"]


def test_spec_naming_a_host_outside_allowed_hosts_is_refused(tmp_path):
    path = write_spec(tmp_path, url="http://evil.example", host="smartcontent.test")
    with pytest.raises(ConfigError, match="allowed_hosts"):
        load_http_spec(path)


def test_spec_with_an_unknown_key_names_it(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(
        textwrap.dedent("""\
        url: http://a.test/x
        allowed_hosts: [a.test]
        respnse: "$.x"
    """)
    )
    with pytest.raises(ConfigError, match="respnse"):
        load_http_spec(path)


def test_spec_yaml_mistakes_are_one_line_naming_where(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("url: http://a.test/x\nheaders: {a: 1\n")
    with pytest.raises(ConfigError, match=r"--spec .*bad\.yml: not valid YAML at line \d+") as e:
        load_http_spec(bad)
    assert "\n" not in str(e.value)
    twice = tmp_path / "twice.yml"
    twice.write_text("url: http://a.test/x\nurl: http://b.test/y\n")
    with pytest.raises(ConfigError, match="key 'url' given twice"):
        load_http_spec(twice)  # safe_load kept the last url without a word
