"""The plugin manager: safe, atomic, loud loading; registration validated by the host."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Literal

import pytest

from martech import Connector, Segment, hookimpl
from martech.errors import DuplicateRegistrationError, PluginError, PluginLoadError
from martech.plugins import _load_entry_points, build_registry, make_plugin_manager
from martech.testing.process import pip_install_offline, run_cli


def _ep(name: str, module: str) -> EntryPoint:
    return EntryPoint(name=name, value=module, group="martech")


GOOD = """
from martech import Connector, hookimpl

class Acme(Connector):
    name = "acme"
    kind = "esp"

@hookimpl
def martech_register_connectors(register):
    register(Acme)
"""


@pytest.fixture
def load_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write each plugin as a module on sys.path and load them as entry points."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def load(**modules: str):
        eps = []
        for name, body in modules.items():
            module = f"_mt_{name}_{tmp_path.name}"
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(body))
            monkeypatch.delitem(sys.modules, module, raising=False)
            eps.append(_ep(name, module))
        return _load_entry_points_and_build(eps)

    return load


def _load_entry_points_and_build(eps: list[EntryPoint]):
    pm, _ = make_plugin_manager(load=False)
    infos = _load_entry_points(pm, eps)
    return build_registry(pm, infos)


def test_plugin_that_raises_at_import_is_reported_and_skipped(load_plugins):
    reg = load_plugins(good=GOOD, broken="raise RuntimeError('boom at import')")
    assert "acme" in reg.connectors
    assert reg.plugins["broken"].error is not None
    assert "boom at import" in reg.plugins["broken"].error
    assert any("broken" in str(e) for e in reg.errors)


def test_strict_mode_makes_a_broken_plugin_fatal(load_plugins, monkeypatch):
    monkeypatch.setenv("MARTECH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="broken"):
        load_plugins(broken="raise RuntimeError('boom')")


def test_misspelled_hookimpl_is_reported_not_silently_registered(load_plugins):
    body = """
from martech import hookimpl
@hookimpl
def martech_register_conectors(register):
    pass
"""
    reg = load_plugins(typo=body)
    assert reg.plugins["typo"].error is not None
    assert "martech_register_conectors" in reg.plugins["typo"].error


def test_two_plugins_registering_the_same_connector_name_is_an_error_naming_both(load_plugins):
    reg = load_plugins(first=GOOD, second=GOOD)
    errors = [e for e in reg.errors if isinstance(e, DuplicateRegistrationError)]
    assert len(errors) == 1
    assert "first" in str(errors[0])
    assert "second" in str(errors[0])
    assert reg.owners[("connectors", "acme")] == "first"


def _from(ep: EntryPoint, package: str) -> EntryPoint:
    """``ep`` as the distribution ``package`` would declare it."""
    return ep._for(types.SimpleNamespace(metadata={"Name": package}, version="1.0"))  # type: ignore[attr-defined]


def _plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> str:
    monkeypatch.syspath_prepend(str(tmp_path))
    module = f"_mt_{name}_{tmp_path.name}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(body))
    monkeypatch.delitem(sys.modules, module, raising=False)
    return module


TAKES_ACME = """
from martech import Connector, hookimpl

class Own(Connector):
    name = "alpha_own"
    kind = "crm"

class Impostor(Connector):
    name = "acme"
    kind = "esp"

@hookimpl
def martech_register_connectors(register):
    register(Own)
    register(Impostor)
"""


def test_a_third_party_plugin_cannot_take_a_builtin_connectors_name(tmp_path, monkeypatch):
    """Built-in plugins register first whatever their names sort as, so the newcomer is the one
    refused and blamed, and what it registered in that call is taken back."""
    builtin = _from(_ep("zeta", _plugin_module(tmp_path, monkeypatch, "zeta", GOOD)), "martech")
    third = _ep("alpha", _plugin_module(tmp_path, monkeypatch, "alpha", TAKES_ACME))
    reg = _load_entry_points_and_build([_from(third, "martech-alpha"), builtin])
    assert reg.owners[("connectors", "acme")] == "zeta"
    assert reg.connectors["acme"].__name__ == "Acme"
    assert reg.plugins["zeta"].error is None
    assert "alpha" in (reg.plugins["alpha"].error or "")
    assert "alpha_own" not in reg.connectors  # all or nothing
    assert reg.plugins["alpha"].registered == {}


def test_two_packages_with_one_plugin_name_are_reported_not_silently_dropped(tmp_path, monkeypatch):
    module = _plugin_module(tmp_path, monkeypatch, "same", GOOD)
    eps = [_from(_ep("same", module), "martech-one"), _from(_ep("same", module), "martech-two")]
    reg = _load_entry_points_and_build(eps)
    assert reg.plugins["same"].error is None
    dropped = reg.plugins["same (martech-two)"]
    assert dropped.error is not None
    assert "martech-one" in dropped.error
    assert "martech-two" in dropped.error
    assert any("martech-two" in str(e) for e in reg.errors)
    # the same package seen twice on the path is one plugin, silently
    twice = [_from(_ep("same", module), "martech-one")] * 2
    assert list(_load_entry_points_and_build(twice).plugins) == ["same"]
    monkeypatch.setenv("MARTECH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="martech-two"):
        _load_entry_points_and_build(eps)


@pytest.mark.parametrize(
    ("name", "kind", "complaint"),
    [
        ("Acme Corp!", "esp", "Odd.name: expected lowercase letters"),
        ("acme-corp", "esp", "Odd.name: expected lowercase letters"),
        ("acme", "mailer", "Odd.kind: expected one of crm, esp"),
    ],
)
def test_a_connector_is_registered_only_with_a_usable_name_and_kind(
    load_plugins, name, kind, complaint
):
    body = f"""
from martech import Connector, hookimpl

class Odd(Connector):
    name = {name!r}
    kind = {kind!r}

@hookimpl
def martech_register_connectors(register):
    register(Odd)
"""
    reg = load_plugins(odd=body)
    assert complaint in (reg.plugins["odd"].error or "")
    assert not reg.connectors


def test_allow_list_loads_only_named_plugins(load_plugins, monkeypatch):
    monkeypatch.setenv("MARTECH_LOAD_PLUGINS", "good")
    reg = load_plugins(good=GOOD, broken="raise RuntimeError('boom')")
    assert set(reg.plugins) == {"good"}


def test_block_list_skips_named_plugins(load_plugins, monkeypatch):
    monkeypatch.setenv("MARTECH_DISABLE_PLUGINS", "broken, other")
    reg = load_plugins(good=GOOD, broken="raise RuntimeError('boom')")
    assert "broken" not in reg.plugins
    assert "acme" in reg.connectors


def test_register_refuses_what_is_not_a_connector(load_plugins):
    body = """
from martech import hookimpl
@hookimpl
def martech_register_connectors(register):
    register(object)
"""
    reg = load_plugins(odd=body)
    assert "Connector subclass" in (reg.plugins["odd"].error or "")
    assert not reg.connectors


def test_registrations_are_attributed_to_their_plugin(load_plugins):
    reg = load_plugins(good=GOOD)
    assert reg.plugins["good"].registered == {"connectors": ["acme"]}
    assert reg.plugins["good"].hooks == ["martech_register_connectors"]


def test_builtin_plugins_load_without_errors():
    from martech.plugins import registry

    reg = registry(reload=True)
    broken = {name: p.error for name, p in reg.plugins.items() if p.error}
    assert broken == {}
    assert "files" in reg.plugins


# ------------------------------------------------------------------ an installed broken package


@pytest.fixture(scope="module")
def broken_plugin_site(tmp_path_factory) -> Path:
    """A throw-away package, really installed with pip, whose entry point fails at import."""
    src = tmp_path_factory.mktemp("src")
    (src / "martech_broken").mkdir()
    (src / "martech_broken" / "__init__.py").write_text("raise ImportError('missing vendor SDK')\n")
    (src / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"
            [project]
            name = "martech-broken"
            version = "9.9.9"
            [project.entry-points.martech]
            broken = "martech_broken"
            """
        )
    )
    site = tmp_path_factory.mktemp("site")
    pip_install_offline(src, site)
    return site


def test_cli_still_works_with_an_installed_broken_plugin_and_names_it(broken_plugin_site):
    env = {"PYTHONPATH": str(broken_plugin_site)}
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    broken = next(p for p in data["plugins"] if p["name"] == "broken")
    assert broken["package"] == "martech-broken"
    assert broken["version"] == "9.9.9"
    assert "missing vendor SDK" in broken["error"]
    assert any(p["name"] == "files" and p["error"] is None for p in data["plugins"])
    # Other commands are unaffected.
    assert run_cli("schema", "Profile", env=env).returncode == 0


def test_strict_env_makes_the_installed_broken_plugin_fatal_for_the_cli(broken_plugin_site):
    env = {"PYTHONPATH": str(broken_plugin_site), "MARTECH_STRICT_PLUGINS": "1"}
    result = run_cli("plugins", env=env)
    assert result.returncode != 0
    assert "broken" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_starts_without_importing_what_plugins_register():
    """Starting a command loads plugins' hook modules only: a connector (and the HTTP stack
    under it) is imported when a command first needs the registry, not for ``--help``."""
    probe = (
        "import json, sys; from martech.cli import main; code = main(['--help']); "
        "print(json.dumps([code, sorted(m for m in sys.modules if m.startswith('martech_'))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()[-1]
    code, modules = json.loads(out)
    assert code == 0
    assert "martech_connectors.hubspot" in modules  # the plugin itself was loaded
    assert [m for m in modules if m.endswith(".connector")] == []


# -------------------------------------------------------------------------- one test per hook


def _pm_with(plugin: object):
    pm, _ = make_plugin_manager(load=False)
    pm.register(plugin, name="t")
    return pm, build_registry(pm, [])


def test_hook_martech_register_connectors():
    class Thing(Connector):
        name = "thing"
        kind = "crm"

    class P:
        @hookimpl
        def martech_register_connectors(self, register):
            register(Thing)

    _, reg = _pm_with(P())
    assert reg.connectors == {"thing": Thing}


def test_hook_martech_register_traits():
    trait = types.SimpleNamespace(name="favourite_colour")

    class P:
        @hookimpl
        def martech_register_traits(self, register):
            register(trait)
            with pytest.raises(DuplicateRegistrationError):
                register(trait)

    _, reg = _pm_with(P())
    assert reg.traits == {"favourite_colour": trait}


def test_hook_martech_register_strategies():
    strategy = types.SimpleNamespace(name="always_red")

    class P:
        @hookimpl
        def martech_register_strategies(self, register):
            register(strategy)

    _, reg = _pm_with(P())
    assert reg.strategies["always_red"] is strategy


def test_hook_martech_register_segment_kinds():
    class ListSegment(Segment, frozen=True):
        kind: Literal["list"] = "list"
        members: list[str]

        def definition(self):
            return {"kind": self.kind, "members": sorted(self.members)}

    class P:
        @hookimpl
        def martech_register_segment_kinds(self, register):
            register(ListSegment)

    _, reg = _pm_with(P())
    assert reg.segment_kinds == {"list": ListSegment}
    assert (
        ListSegment(key="a", members=["x"]).version != ListSegment(key="a", members=["y"]).version
    )


def test_hook_martech_register_commands():
    import typer
    from typer.testing import CliRunner

    class P:
        @hookimpl
        def martech_register_commands(self, cli):
            @cli.command("hello")
            def hello(name: str) -> None:
                typer.echo(f"hello {name}")

    pm, _ = _pm_with(P())
    app = typer.Typer()

    @app.callback()
    def root() -> None: ...

    pm.hook.martech_register_commands(cli=app)
    result = CliRunner().invoke(app, ["hello", "gary"])
    assert result.output.strip() == "hello gary"


def test_a_plugin_cannot_replace_a_command_that_exists(monkeypatch, capsys):
    """A plugin adds to the CLI; a command or sub-app named like one already there (a
    built-in's) is refused with the plugin named, and none of that plugin's commands land."""
    import typer
    from typer.testing import CliRunner

    import martech.plugins
    from martech.cli import _register_plugin_commands

    class Replaces:
        @hookimpl
        def martech_register_commands(self, cli):
            cli.command("extra")(lambda: typer.echo("extra"))

            @cli.command()
            def plugins() -> None:
                typer.echo("hijacked")

    class AddsAGroup:
        @hookimpl
        def martech_register_commands(self, cli):
            cli.add_typer(typer.Typer(), name="sync")

    class Fine:
        @hookimpl
        def martech_register_commands(self, cli):
            cli.command("hello")(lambda: typer.echo("hello"))

    pm, _ = make_plugin_manager(load=False)
    for name, plugin in {"replaces": Replaces(), "group": AddsAGroup(), "fine": Fine()}.items():
        pm.register(plugin, name=name)
    monkeypatch.setattr(martech.plugins, "plugin_manager", lambda: pm)
    app = typer.Typer()
    app.command("plugins")(lambda: typer.echo("the real one"))
    app.add_typer(typer.Typer(), name="sync")
    _register_plugin_commands(app)
    err = capsys.readouterr().err
    assert "plugin 'replaces' tried to replace the command(s) plugins" in err
    assert "plugin 'group' tried to replace the command(s) sync" in err
    runner = CliRunner()
    assert runner.invoke(app, ["plugins"]).output.strip() == "the real one"
    assert runner.invoke(app, ["hello"]).output.strip() == "hello"
    assert runner.invoke(app, ["extra"]).exit_code != 0  # all or nothing for that plugin
    monkeypatch.setenv("MARTECH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="replaces"):
        _register_plugin_commands(app)


def test_segment_kind_without_kind_is_refused():
    class P:
        @hookimpl
        def martech_register_segment_kinds(self, register):
            register(types.SimpleNamespace(kind=""))

    _, reg = _pm_with(P())
    assert any(isinstance(e, PluginError) for e in reg.errors)


# ------------------------------------------------------------ plugins that misbehave in odd ways


@pytest.mark.parametrize(
    "body",
    [
        "import sys\nsys.exit('set ACME_HOME first')",
        "raise SystemExit('set ACME_HOME first')",
    ],
    ids=["sys.exit", "raise-SystemExit"],
)
def test_a_plugin_exiting_at_import_is_reported_by_name_not_the_end_of_martech(load_plugins, body):
    """A vendor SDK that calls sys.exit() when it is imported without its settings must not end
    every martech command (silently, with that SDK's message and no plugin named)."""
    reg = load_plugins(good=GOOD, exits=body)
    assert "acme" in reg.connectors
    assert (
        reg.plugins["exits"].error
    ) == "plugin 'exits' failed to load: SystemExit: set ACME_HOME first"


def test_a_register_hook_exiting_is_reported_by_name(load_plugins):
    body = """
from martech import hookimpl
@hookimpl
def martech_register_traits(register):
    raise SystemExit(3)
"""
    reg = load_plugins(good=GOOD, exits=body)
    assert "acme" in reg.connectors
    assert reg.plugins["exits"].error == "plugin 'exits' failed to load: SystemExit: 3"


def test_a_commands_hook_exiting_is_a_warning_naming_the_plugin(monkeypatch, capsys):
    import typer

    import martech.plugins
    from martech.cli import _register_plugin_commands

    class Exits:
        @hookimpl
        def martech_register_commands(self, cli):
            cli.command("half")(lambda: None)
            raise SystemExit("no licence file")

    pm, _ = make_plugin_manager(load=False)
    pm.register(Exits(), name="exits")
    monkeypatch.setattr(martech.plugins, "plugin_manager", lambda: pm)
    app = typer.Typer()
    _register_plugin_commands(app)
    assert "plugin 'exits': its commands were not added: SystemExit: no licence file" in (
        capsys.readouterr().err
    )
    assert app.registered_commands == []


@pytest.mark.parametrize(
    ("attrs", "complaint"),
    [
        ("Config = dict", "Odd.Config: expected a subclass of martech.ConnectorConfig, got"),
        ("Config = 'AcmeConfig'", "Odd.Config: expected a subclass of martech.ConnectorConfig"),
        ("limits = {'requests_per_interval': 10}", "Odd.limits: expected a martech.Limits"),
    ],
    ids=["config-not-a-connector-config", "config-a-string", "limits-a-dict"],
)
def test_a_connector_with_an_unusable_config_or_limits_is_refused_at_registration(
    load_plugins, attrs, complaint
):
    """Caught when the plugin registers (and shown by `martech plugins`), not as an internal
    error the first time a sync or push loads the connector's config."""
    body = f"""
from martech import Connector, hookimpl

class Odd(Connector):
    name = "odd"
    kind = "esp"
    {attrs}

@hookimpl
def martech_register_connectors(register):
    register(Odd)
"""
    reg = load_plugins(odd=body)
    assert complaint in (reg.plugins["odd"].error or "")
    assert not reg.connectors


def test_strict_env_makes_a_broken_plugin_fatal_for_every_command(broken_plugin_site):
    """Not only for the commands that read the registry: `schema` needs no connector, yet in
    strict mode (a connector author's CI) a plugin that fails to load must fail the run."""
    env = {"PYTHONPATH": str(broken_plugin_site), "MARTECH_STRICT_PLUGINS": "1"}
    result = run_cli("schema", "Profile", env=env)
    assert result.returncode != 0
    assert "plugin 'broken' failed to load: ImportError: missing vendor SDK" in result.stderr
    assert "warning" not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_docs_example_plugin_imports_its_connector_in_the_hook_as_the_scaffold_does():
    """docs/plugins.md's example is what authors copy: a connector imported at the top of the
    plugin module is imported (with its HTTP stack and vendor SDK) on every CLI start."""
    import ast
    import re

    from martech.cli.new import package_files

    docs = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    example = re.search(r"```python\n(# martech_acme/__init__.py.*?)```", docs, re.S)
    assert example is not None
    for source in (example[1], package_files("acme")["martech_acme/__init__.py"]):
        module = ast.parse(source)
        top_level = [n for n in module.body if isinstance(n, ast.ImportFrom)]
        assert [n.module for n in top_level if n.level > 0] == []  # not `from .connector …`
        hook = next(n for n in module.body if isinstance(n, ast.FunctionDef))
        assert any(
            isinstance(n, ast.ImportFrom) and n.module == "connector" and n.level == 1
            for n in ast.walk(hook)
        )


@pytest.mark.parametrize(
    ("value", "traced"),
    [("1", True), ("yes", True), ("0", False), ("false", False), ("", False)],
    ids=["1", "yes", "0", "false", "empty"],
)
def test_trace_plugins_reads_its_flag_as_strict_plugins_does(monkeypatch, capsys, value, traced):
    """MARTECH_TRACE_PLUGINS=0 turned tracing on (any non-empty value did)."""

    class P:
        @hookimpl
        def martech_register_traits(self, register):
            pass

    monkeypatch.setenv("MARTECH_TRACE_PLUGINS", value)
    pm, _ = make_plugin_manager(load=False)
    pm.register(P(), name="p")
    pm.hook.martech_register_traits(register=lambda obj: None)
    assert ("martech_register_traits" in capsys.readouterr().err) is traced


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("TRUE", True), ("0", False), ("False", False), ("off", False), (" ", False)],
    ids=["1", "TRUE", "0", "False", "off", "blank"],
)
def test_strict_plugins_reads_false_off_and_blank_as_off(monkeypatch, value, expected):
    from martech.plugins import strict

    monkeypatch.setenv("MARTECH_STRICT_PLUGINS", value)
    assert strict() is expected


@pytest.mark.parametrize(
    ("env", "fatal"), [(None, True), ("0", False), ("1", True)], ids=["toml", "env-0", "env-1"]
)
def test_martech_toml_plugins_strict_applies_to_the_sdk_too(
    load_plugins, monkeypatch, tmp_path, env, fatal
):
    """[plugins] strict = true made a broken plugin fatal for the CLI only; the SDK's registry
    skipped it. MARTECH_STRICT_PLUGINS, when set, wins over the file, as in the CLI."""
    (tmp_path / "martech.toml").write_text("[plugins]\nstrict = true\n")
    monkeypatch.chdir(tmp_path)
    if env is None:
        monkeypatch.delenv("MARTECH_STRICT_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("MARTECH_STRICT_PLUGINS", env)
    if fatal:
        with pytest.raises(PluginLoadError, match="broken"):
            load_plugins(broken="raise RuntimeError('boom')")
    else:
        assert load_plugins(broken="raise RuntimeError('boom')").plugins["broken"].error


@pytest.mark.parametrize(
    ("var", "value"),
    [("MARTECH_LOAD_PLUGINS", "files"), ("MARTECH_DISABLE_PLUGINS", "hubspot")],
    ids=["allow-list", "block-list"],
)
def test_an_unknown_connector_error_names_the_plugin_list_that_skipped_it(monkeypatch, var, value):
    """'installed: none installed' while hubspot is installed sent people reinstalling it."""
    import martech.plugins
    from martech.errors import ConfigError
    from martech.plugins import Registry, get_connector

    monkeypatch.setattr(martech.plugins, "registry", lambda: Registry())
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        get_connector("hubspot")
    assert str(info.value) == (
        f"unknown connector 'hubspot'; installed: none loaded ({var}={value!r} is set: the "
        "plugins it skips are not loaded)"
    )


def test_a_register_hook_that_returns_what_it_should_register_is_reported(load_plugins):
    """Other plugin hosts (datasette, llm's older hooks) take a returned list; martech takes
    register() calls, so a returned list registered nothing and the plugin showed as ok."""
    body = GOOD.replace("    register(Acme)", "    return [Acme]")
    assert "return [Acme]" in body
    reg = load_plugins(returns=body)
    assert not reg.connectors
    assert reg.plugins["returns"].error == (
        "plugin 'returns': martech_register_connectors returned a list instead of None; call "
        "register(obj) once per thing to register (a returned value is not registered)"
    )
    assert any("returned a list" in str(e) for e in reg.errors)


def test_a_commands_hook_that_returns_an_app_is_a_warning_naming_the_plugin(monkeypatch, capsys):
    import typer

    import martech.plugins
    from martech.cli import _register_plugin_commands

    class Returns:
        @hookimpl
        def martech_register_commands(self, cli):
            sub = typer.Typer()
            sub.command("hello")(lambda: None)
            return sub

    pm, _ = make_plugin_manager(load=False)
    pm.register(Returns(), name="returns")
    monkeypatch.setattr(martech.plugins, "plugin_manager", lambda: pm)
    app = typer.Typer()
    _register_plugin_commands(app)
    assert (
        "plugin 'returns': its commands were not added: martech_register_commands returned a "
        "Typer instead of None; add commands with cli.command(...) or cli.add_typer(...)"
    ) in " ".join(capsys.readouterr().err.split())
