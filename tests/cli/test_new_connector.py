"""``martech new connector NAME``: which names it takes, where it writes, what it prints.

The installed-package round trip (pip install, the scaffold's own tests) is tests/test_scaffold.py.
"""

from __future__ import annotations

import importlib
import re
import shlex
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from martech.cli import main
from martech.cli.new import (
    _rename,
    _renames,
    check_name,
    connector_source,
    name_owner,
    package_files,
    scaffold,
)
from martech.errors import ConfigError
from martech.plugins import PluginInfo, Registry

# PEP 508's distribution name: letters and digits at both ends.
DIST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def cls_of(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


# --- renaming the reference connector ------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["preference", "reference", "ref", "acme_reference", "referee"], ids=str
)
def test_a_name_holding_reference_scaffolds_a_connector_that_imports(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scaffold(name, tmp_path / "pkg")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    module_name = f"martech_{name}.connector"
    try:
        module = importlib.import_module(module_name)
        cls = cls_of(name)
        connector = getattr(module, f"{cls}Connector")
        assert connector.name == name
        assert connector.Config is getattr(module, f"{cls}Config")
        assert connector.emulator == f"{module_name}:{cls}Emulator"
        assert getattr(module, f"{cls}Emulator").name == name
        assert getattr(module, f"{name}_key")(" A@B.C ") == "a@b.c"
        assert sorted(module.__all__) == sorted(
            [f"{cls}Config", f"{cls}Connector", f"{cls}Emulator", "WorkedExample", f"{name}_key"]
        )
    finally:
        for mod in [m for m in sys.modules if m == f"martech_{name}" or m.startswith(module_name)]:
            del sys.modules[mod]


@pytest.mark.parametrize("name", ["preference", "ref", "acme_reference", "acme"], ids=str)
def test_no_trace_of_the_reference_vendor_is_left_but_the_credit(name: str) -> None:
    credit, body = connector_source(name, cls_of(name)).split("\n", 1)
    assert "martech's reference connector" in credit
    leftover = body.replace(name, "").replace(cls_of(name), "")
    assert not re.search("reference", leftover, re.IGNORECASE)


def test_renaming_is_one_pass_over_whole_identifiers() -> None:
    renames = _renames("preference", "Preference")
    text = "ReferenceConnector reference reference_key martech.testing.reference:ReferenceEmulator"
    assert _rename(text, renames) == (
        "PreferenceConnector preference preference_key "
        "martech_preference.connector:PreferenceEmulator"
    )


def test_a_reference_identifier_the_scaffold_cannot_rename_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="ReferenceLimits"):
        _rename("limits = ReferenceLimits()\nname = 'reference'\n", _renames("acme", "Acme"))


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a_", "ab_", "a__b", "_ab", "1ab", "a", "Acme", "ac-me", "ac.me", "x" * 32, "acme_é"],
    ids=repr,
)
def test_a_name_that_makes_no_installable_package_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "pkg"
    assert main(["new", "connector", name, "--dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert "NAME: expected lowercase letters and digits" in err
    assert "ending with a letter or digit" in err
    assert not target.exists()


@given(st.text(alphabet="ab1_-.A", max_size=34))
def test_every_accepted_name_makes_a_distribution_package_and_class_name(name: str) -> None:
    try:
        check_name(name)
    except ConfigError:
        return
    assert DIST_NAME.fullmatch(f"martech-{name.replace('_', '-')}")
    assert f"martech_{name}".isidentifier()
    assert cls_of(name).isidentifier()
    # two names never make one class name (a_b1 and ab1 would both be Ab1)
    assert "__" not in name


@pytest.mark.parametrize("name", ["ab", "acme_2", "a1_b2", "x" * 31], ids=str)
def test_good_names_are_accepted(name: str) -> None:
    check_name(name)
    assert f"martech_{name}/connector.py" in package_files(name)


def test_a_name_whose_classes_shadow_the_base_classes_is_refused() -> None:
    with pytest.raises(ConfigError, match="'connector'"):
        check_name("connector")


# --- names other packages have --------------------------------------------------------------


@pytest.mark.parametrize("name", ["hubspot", "traits"], ids=["connector", "plugin-only"])
def test_a_name_an_installed_plugin_has_is_refused_naming_its_package(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "pkg"
    assert main(["new", "connector", name, "--dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"NAME: {name!r} is already a plugin entry point of the installed package martech" in err
    assert f"'my_{name}'" in err  # a free name to use instead
    assert not target.exists()


def fake_registry(connector: str, package: str) -> Registry:
    return Registry(
        connectors={connector: object},
        owners={("connectors", connector): "someplugin"},
        plugins={"someplugin": PluginInfo(name="someplugin", package=package, version="1.0")},
    )


def test_a_connector_registered_under_another_entry_point_name_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("martech.plugins.registry", lambda: fake_registry("zed", "vendor-pack"))
    owner = name_owner("zed")
    assert owner is not None
    assert "vendor-pack" in owner
    assert "someplugin" in owner
    assert name_owner("zed_two") is None


def test_the_package_this_scaffold_makes_does_not_clash_with_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # re-scaffolding martech-zed_two after installing it replaces it: no clash
    monkeypatch.setattr(
        "martech.plugins.registry", lambda: fake_registry("zed_two", "martech_zed.two")
    )
    assert name_owner("zed_two") is None


# --- the target folder ----------------------------------------------------------------------


def test_dir_naming_a_file_is_a_config_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert main(["new", "connector", "widget", "--dir", str(afile)]) == 2
    err = capsys.readouterr().err
    assert f"--dir: {afile} is a file" in err
    assert "internal error" not in err
    assert main(["new", "connector", "widget", "--dir", str(afile / "sub")]) == 2
    err = capsys.readouterr().err
    assert f"--dir: cannot write {afile / 'sub'}" in err
    assert "internal error" not in err
    assert afile.read_text() == "mine"


def test_a_non_empty_folder_is_refused_and_force_writes_into_it_keeping_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "full"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    (target / "pyproject.toml").write_text("# old\n")
    assert main(["new", "connector", "widget", "--dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"--dir: {target} is not empty (keep.txt, pyproject.toml)" in err
    assert "--force" in err
    assert (target / "pyproject.toml").read_text() == "# old\n"

    assert main(["new", "connector", "widget", "--dir", str(target), "--force"]) == 0
    out = capsys.readouterr().out
    assert f"overwrote {target / 'pyproject.toml'}" in out
    assert f"wrote {target / 'martech_widget' / 'connector.py'}" in out
    assert (target / "keep.txt").read_text() == "mine"
    assert 'name = "martech-widget"' in (target / "pyproject.toml").read_text()


def test_an_empty_existing_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["new", "connector", "widget", "--dir", str(tmp_path / "empty")]) == 0
    assert (tmp_path / "empty" / "martech_widget" / "__init__.py").exists()


# --- what it prints ---------------------------------------------------------------------------


def test_the_next_hint_keeps_the_test_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "martech-widget"
    assert main(["new", "connector", "widget", "--dir", str(target)]) == 0
    hint = capsys.readouterr().out.splitlines()[-1]
    assert hint == f"next: pip install -e '{target}[test]' && pytest {target / 'tests'}"
    install, run = hint.removeprefix("next: ").split(" && ")
    assert shlex.split(install) == ["pip", "install", "-e", f"{target}[test]"]
    assert shlex.split(run) == ["pytest", str(target / "tests")]


def test_the_package_readme_installs_the_test_extra_its_pytest_line_needs(tmp_path: Path) -> None:
    target = tmp_path / "martech-widget"
    assert main(["new", "connector", "widget", "--dir", str(target)]) == 0
    readme = (target / "README.md").read_text()
    install = next(line for line in readme.splitlines() if line.startswith("pip install"))
    assert shlex.split(install.split("#")[0]) == ["pip", "install", "-e", ".[test]"]


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Acme-Corp", "acme_corp"),
        ("acme.io", "acme_io"),
        ("my--shop_", "my_shop"),
        ("Acme", "acme"),
    ],
    ids=["dash-uppercase", "dot", "double-dash", "uppercase"],
)
def test_a_refused_name_suggests_the_name_it_could_be(name: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_name(name)
    assert str(info.value).endswith(f"; did you mean {suggestion!r}?")


@pytest.mark.parametrize("name", ["1ab", "a", "_"], ids=str)
def test_no_suggestion_when_no_valid_name_is_near(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_name(name)
    assert "did you mean" not in str(info.value)
