"""Plugin manager: safe, atomic, loud loading of entry points, and the registry they fill.

Nothing runs at import time. ``registry()`` loads plugins on first use. A plugin that fails to
import or register is reported and skipped (``MARTECH_STRICT_PLUGINS=1`` makes it fatal);
``MARTECH_LOAD_PLUGINS`` is an allow-list and ``MARTECH_DISABLE_PLUGINS`` a block-list
(comma-separated entry-point names). ``MARTECH_TRACE_PLUGINS=1`` prints every hook call.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, get_args

import pluggy

from . import hookspecs
from .errors import DuplicateRegistrationError, PluginError, PluginLoadError

GROUP = "martech"

#: hook name -> the registry section it fills
SECTIONS: dict[str, str] = {
    "martech_register_connectors": "connectors",
    "martech_register_traits": "traits",
    "martech_register_strategies": "strategies",
    "martech_register_segment_kinds": "segment_kinds",
}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as ``martech plugins`` shows it."""

    name: str
    package: str | None
    version: str | None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Registry:
    """Everything plugins registered, keyed by name, plus who registered it and what failed."""

    connectors: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    strategies: dict[str, Any] = field(default_factory=dict)
    segment_kinds: dict[str, Any] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    errors: list[PluginError] = field(default_factory=list)

    def section(self, name: str) -> dict[str, Any]:
        section: dict[str, Any] = getattr(self, name)
        return section


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _env_flag(name: str) -> bool:
    """Whether the variable ``name`` is set to something other than "", 0, false, no or off."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def strict() -> bool:
    """Whether a plugin that fails to load or register is fatal: ``MARTECH_STRICT_PLUGINS`` if
    set, else ``[plugins] strict`` in the working directory's martech.toml."""
    if os.environ.get("MARTECH_STRICT_PLUGINS") is not None:
        return _env_flag("MARTECH_STRICT_PLUGINS")
    from .config import load_settings
    from .errors import MartechError

    try:
        return load_settings().plugins.strict
    except MartechError:
        return False  # a broken martech.toml is reported where settings are read, naming the key


def make_plugin_manager(*, load: bool = True) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """A plugin manager with martech's hookspecs; with ``load``, entry points loaded safely."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    if _env_flag("MARTECH_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()
    if load:
        infos = _load_entry_points(pm, entry_points(group=GROUP))
    return pm, infos


#: The distribution whose plugins are martech's own: they load first, so a third-party plugin
#: that registers a name one of them uses is the one refused (and blamed), never the built-in.
BUILTIN_DIST = "martech"


#: What a plugin's import or hook call may raise and be reported for by name. SystemExit too: a
#: vendor SDK that calls ``sys.exit()`` when imported without its settings would otherwise end
#: every martech command with its message and no plugin named. (KeyboardInterrupt still stops.)
_PLUGIN_FAILURES = (Exception, SystemExit)


def _dist_name(ep: EntryPoint) -> str | None:
    return ep.dist.metadata["Name"] if ep.dist else None


def _load_entry_points(pm: pluggy.PluginManager, eps: Iterable[EntryPoint]) -> list[PluginInfo]:
    allow, block = _env_list("MARTECH_LOAD_PLUGINS"), _env_list("MARTECH_DISABLE_PLUGINS") or set()
    infos: list[PluginInfo] = []
    seen: dict[str, str | None] = {}  # entry-point name -> the package that has it
    ordered = sorted(eps, key=lambda e: (_dist_name(e) != BUILTIN_DIST, e.name))
    for ep in ordered:
        if (allow is not None and ep.name not in allow) or ep.name in block:
            continue
        dist = ep.dist
        package = _dist_name(ep)
        if ep.name in seen:
            if seen[ep.name] == package:
                continue  # one package seen twice on the path (an editable install, say)
            # Two packages, one name: pluggy keeps one plugin per name, so the second is not
            # loaded, and says so rather than vanishing.
            error = PluginError(
                f"plugin {ep.name!r} of {package or 'an unknown package'} was not loaded: "
                f"{seen[ep.name] or 'another package'} already has a plugin of that name; "
                "rename the entry point in the [project.entry-points.martech] table"
            )
            if strict():
                raise error
            infos.append(
                PluginInfo(
                    name=f"{ep.name} ({package})",
                    package=package,
                    version=dist.version if dist else None,
                    error=str(error),
                )
            )
            continue
        seen[ep.name] = package
        info = PluginInfo(name=ep.name, package=package, version=dist.version if dist else None)
        infos.append(info)
        try:
            pm.register(ep.load(), name=ep.name)
            # A misspelled hookimpl registers silently; check_pending makes it loud.
            pm.check_pending()
        except _PLUGIN_FAILURES as exc:
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            error = PluginLoadError(ep.name, exc)
            info.error = str(error)
            if strict():
                raise error from exc
            continue
        info.hooks = sorted(h.name for h in pm.get_hookcallers(pm.get_plugin(ep.name)) or [])
    return infos


def build_registry(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> Registry:
    """Call every register hook plugin by plugin, so each registration is attributed.

    A plugin's hook registers all or nothing: when one of its registrations is refused (a name
    another plugin has, something that is not what the hook takes), what it registered before
    in that call is taken back, and the plugin is reported as failed.
    """
    reg = Registry(plugins={i.name: i for i in infos})
    for info in infos:
        if info.error:
            reg.errors.append(PluginError(info.error))
    for hook_name, section in SECTIONS.items():
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            plugin_name = impl.plugin_name
            info = reg.plugins.setdefault(
                plugin_name, PluginInfo(name=plugin_name, package=None, version=None)
            )
            added: list[str] = []
            try:
                returned = impl.function(
                    register=_registrar(reg, section, plugin_name, info, added)
                )
                if returned is not None:
                    raise _ReturnedInsteadOfRegistered(plugin_name, hook_name, returned)
            except _PLUGIN_FAILURES as exc:
                _take_back(reg, section, info, added)
                error = (
                    exc
                    if isinstance(exc, DuplicateRegistrationError | _ReturnedInsteadOfRegistered)
                    else PluginLoadError(plugin_name, exc)
                )
                info.error = str(error)
                reg.errors.append(error)
                if strict():
                    if error is exc:
                        raise
                    raise error from exc
    return reg


class _ReturnedInsteadOfRegistered(PluginError):
    """A register hook returned what it meant to register (other plugin hosts take a list)."""

    def __init__(self, plugin: str, hook: str, returned: object) -> None:
        kind = type(returned).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        super().__init__(
            f"plugin {plugin!r}: {hook} returned {article} {kind} instead of None; call "
            "register(obj) once per thing to register (a returned value is not registered)"
        )


def _take_back(reg: Registry, section: str, info: PluginInfo, names: list[str]) -> None:
    """Undo the registrations ``names`` one hook call of a plugin made in ``section``."""
    for name in names:
        del reg.section(section)[name]
        del reg.owners[(section, name)]
        info.registered[section].remove(name)
    if not info.registered.get(section, True):
        del info.registered[section]


#: A connector's name: it becomes ``MARTECH_<NAME>_<FIELD>`` variables, ``[connectors.<name>]``
#: tables and ``--to <name>`` arguments, so lowercase letters, digits and underscores.
CONNECTOR_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _registered_name(section: str, obj: Any) -> str:
    attr = "kind" if section == "segment_kinds" else "name"
    value = getattr(obj, attr, None)
    if section == "segment_kinds" and value is None:
        value = obj.model_fields["kind"].default if hasattr(obj, "model_fields") else None
    if not isinstance(value, str) or not value:
        raise PluginError(f"a registered {section[:-1]} needs a non-empty string .{attr}")
    return value


def _check_connector(obj: Any) -> None:
    from .connector import Connector, ConnectorConfig, ConnectorKind, Limits

    if not (isinstance(obj, type) and issubclass(obj, Connector)):
        raise PluginError(f"register() expects a Connector subclass, got {obj!r}")
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not CONNECTOR_NAME.fullmatch(name):
        raise PluginError(
            f"{obj.__name__}.name: expected lowercase letters, digits and underscores, starting "
            f"with a letter (it names MARTECH_<NAME>_* variables and [connectors.<name>]), "
            f"got {name!r}"
        )
    config = getattr(obj, "Config", None)
    if not (isinstance(config, type) and issubclass(config, ConnectorConfig)):
        raise PluginError(
            f"{obj.__name__}.Config: expected a subclass of martech.ConnectorConfig, got "
            f"{config!r} (connectors are configured through it: martech.toml and MARTECH_* vars)"
        )
    if not isinstance(getattr(obj, "limits", None), Limits):
        raise PluginError(f"{obj.__name__}.limits: expected a martech.Limits, got {obj.limits!r}")
    kinds = get_args(ConnectorKind)
    if getattr(obj, "kind", None) not in kinds:
        raise PluginError(
            f"{obj.__name__}.kind: expected one of {', '.join(kinds)}, "
            f"got {getattr(obj, 'kind', None)!r}"
        )


def _registrar(
    reg: Registry, section: str, plugin: str, info: PluginInfo, added: list[str]
) -> Callable[[Any], None]:
    def register(obj: Any) -> None:
        if section == "connectors":
            _check_connector(obj)
        name = _registered_name(section, obj)
        owner = reg.owners.get((section, name))
        if owner is not None:
            first = reg.plugins[owner].package or owner
            second = info.package or plugin
            raise DuplicateRegistrationError(
                section[:-1], name, f"{owner} ({first})", f"{plugin} ({second})"
            )
        reg.section(section)[name] = obj
        reg.owners[(section, name)] = plugin
        info.registered.setdefault(section, []).append(name)
        added.append(name)

    return register


_REGISTRY: Registry | None = None
_PM: pluggy.PluginManager | None = None
_INFOS: list[PluginInfo] = []


def registry(*, reload: bool = False) -> Registry:
    """The process-wide registry, built on first use (every plugin's register hooks called)."""
    global _REGISTRY
    if _REGISTRY is None or reload:
        pm = plugin_manager(reload=reload)
        _REGISTRY = build_registry(pm, _INFOS)
    return _REGISTRY


def plugin_manager(*, reload: bool = False) -> pluggy.PluginManager:
    """The process-wide plugin manager, its entry points loaded.

    Loading a plugin imports only its hook module; what it registers (a connector and the HTTP
    stack under it, say) is imported when :func:`registry` first calls the register hooks. So
    the CLI, which needs only plugins' commands to start, does not import every connector.
    """
    global _PM, _INFOS
    if _PM is None or reload:
        _PM, _INFOS = make_plugin_manager()
    return _PM


def get_connector(name: str) -> Any:
    """The connector class registered as ``name``, or a ConfigError listing what exists."""
    from .errors import ConfigError

    reg = registry()
    try:
        return reg.connectors[name]
    except KeyError:
        known = ", ".join(sorted(reg.connectors))
        filters = [
            f"{var}={os.environ[var]!r}"
            for var in ("MARTECH_LOAD_PLUGINS", "MARTECH_DISABLE_PLUGINS")
            if os.environ.get(var) is not None
        ]
        if not filters:
            raise ConfigError(
                f"unknown connector {name!r}; installed: {known or 'none installed'}"
            ) from None
        # The connector may be installed and skipped: say which variable skips plugins.
        raise ConfigError(
            f"unknown connector {name!r}; installed: {known or 'none loaded'} "
            f"({' and '.join(filters)} {'is' if len(filters) == 1 else 'are'} set: "
            "the plugins it skips are not loaded)"
        ) from None


def list_plugins() -> list[PluginInfo]:
    """Every plugin seen, loaded or failed, sorted by name."""
    return sorted(registry().plugins.values(), key=lambda p: p.name)
