"""``martech.toml`` + environment -> typed settings.

Looked up in the working directory (``load_settings(path)`` reads another file; the CLI has no
``--config``). Every section is optional; unknown keys are an error naming the key, so a typo
never silently does nothing. Connector sections are validated by the connector's own ``Config``
when the connector is used, ``MARTECH_<CONNECTOR>_<FIELD>`` variables overriding the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from .errors import ConfigError

CONFIG_FILE = "martech.toml"


class _Section(BaseModel, frozen=True, extra="forbid"):
    """A martech.toml section: unknown keys are an error."""


class StoreSettings(_Section, frozen=True):
    home: Path | None = Field(default=None, description="Folder for the store (MARTECH_HOME).")


class SegmentSettings(_Section, frozen=True):
    file: Path = Field(default=Path("segments.yml"), description="Segment definitions.")
    max_active: int = Field(default=30, ge=1, description="Warn above this many active segments.")


class PluginSettings(_Section, frozen=True):
    strict: bool = Field(default=False, description="A broken plugin is fatal.")


class Settings(_Section, frozen=True):
    store: StoreSettings = StoreSettings()
    segments: SegmentSettings = SegmentSettings()
    plugins: PluginSettings = PluginSettings()
    connectors: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-connector settings, [connectors.<name>]."
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # [connectors.<name>] values stay raw until the connector's Config types them (secrets
        # as SecretStr), so repr/str (a log line, a traceback, a debugger) show their keys only.
        for name, value in super().__repr_args__():
            if name == "connectors":
                value = {c: dict.fromkeys(v, "**********") for c, v in value.items()}
            yield name, value


def load_settings(path: str | Path | None = None) -> Settings:
    """Read ``martech.toml`` (absent file -> defaults). Errors name the file and the key."""
    file = Path(path) if path is not None else Path.cwd() / CONFIG_FILE
    if not file.exists():
        if path is not None:
            raise ConfigError(f"{file}: no such file")
        return Settings()
    try:
        text = file.read_text(encoding="utf-8-sig")  # -sig: a BOM (Windows editors) is dropped
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{file}: cannot read it: not UTF-8 (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:  # a folder of that name, no permission
        raise ConfigError(f"{file}: cannot read it: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    try:
        return Settings.model_validate(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            known = ", ".join(_known_keys(err["loc"][:-1]))
            raise ConfigError(f"{file}: {where}: unknown setting; known: {known}") from None
        raise ConfigError(f"{file}: {where}: {err['msg']}") from None


def connector_settings(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """martech.toml's ``[connectors.<name>]`` table (``{}`` without one), for the connector's
    ``Config.load`` (which checks the ``MARTECH_<NAME>_*`` variables); first, every connector
    table must name an installed connector, as a misspelled ``[connectors.hubsopt]`` would
    otherwise configure nothing, silently."""
    from difflib import get_close_matches

    from .plugins import registry

    settings = load_settings() if settings is None else settings
    installed = sorted(registry().connectors)
    for table in sorted(set(settings.connectors) - set(installed)):
        close = get_close_matches(table, installed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{CONFIG_FILE}: [connectors.{table}]: no installed connector is named {table!r} "
            f"(installed: {', '.join(installed) or 'none'}){hint} Rename the table or remove "
            "it: as it is, its settings configure nothing"
        )
    return dict(settings.connectors.get(name, {}))


#: martech's own variables: a connector named "load" or "test" must not take them for its own.
MARTECH_VARIABLES = frozenset(
    {
        "MARTECH_DEFAULT_REGION",
        "MARTECH_DISABLE_PLUGINS",
        "MARTECH_HOME",
        "MARTECH_LOAD_PLUGINS",
        "MARTECH_LOG",
        "MARTECH_QUIET",
        "MARTECH_STRICT_PLUGINS",
        "MARTECH_TEST_PG_DSN",
        "MARTECH_TRACE_PLUGINS",
    }
)


def check_connector_variables(
    name: str, fields: Collection[str], source: Mapping[str, str]
) -> None:
    """Every ``MARTECH_<NAME>_*`` variable in ``source`` names one of ``fields``: a misspelled
    ``MARTECH_HUBSPOT_BASEURL`` would otherwise leave martech.toml's base_url in force.
    Variables of another installed connector whose name extends this one (``hubspot_eu``) are
    its own. Run by every ``ConnectorConfig.load``, the CLI's and the SDK's alike."""
    from difflib import get_close_matches

    prefix = f"MARTECH_{name.upper()}_"
    known = [prefix + field.upper() for field in sorted(fields)]
    unknown = [
        key
        for key in sorted(source)
        if key.startswith(prefix) and key not in known and key not in MARTECH_VARIABLES
    ]
    if not unknown:
        return
    from .plugins import registry  # only now: a clean environment never loads the plugins

    theirs = tuple(
        f"MARTECH_{other.upper()}_"
        for other in registry().connectors
        if other.startswith(f"{name}_")
    )
    for key in unknown:
        if not key.startswith(theirs):
            close = get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(
                f"{key}: {name} has no setting {key.removeprefix(prefix).lower()!r}{hint} "
                f"(known: {', '.join(sorted(fields))}); as it is, the variable configures nothing"
            )


def _known_keys(section: tuple[int | str, ...]) -> list[str]:
    """The keys the martech.toml table at ``section`` (() for the top level) accepts."""
    model: type[BaseModel] = Settings
    for part in section:
        info = model.model_fields.get(str(part))
        annotation = info.annotation if info is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


TEMPLATE = """\
# martech.toml — settings for the martech CLI and SDK. Every key is optional.
# Secrets do not belong here: put them in the environment as MARTECH_<CONNECTOR>_<FIELD>,
# e.g. MARTECH_HUBSPOT_ACCESS_TOKEN, and they are read as SecretStr (never logged).

[store]
# Folder holding the DuckDB store (default: ./.martech). MARTECH_HOME overrides it.
# home = ".martech"

[segments]
# Where segment definitions live (YAML or JSON).
file = "segments.yml"
# Warn when more segments than this are active: a team cannot manage hundreds.
max_active = 30

[plugins]
# Make a plugin that fails to load fatal instead of reported-and-skipped.
strict = false

# One table per connector; keys are the connector's config fields. MARTECH_<CONNECTOR>_<FIELD>
# in the environment overrides the same key here. A table naming no installed connector, or a
# MARTECH_<CONNECTOR>_* variable naming no field, is an error (a typo would configure nothing).
# [connectors.hubspot]
# base_url = "https://api.hubapi.com"
# [connectors.mailchimp]
# base_url = "https://us21.api.mailchimp.com/3.0"
"""
