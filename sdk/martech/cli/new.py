"""``martech new connector NAME``: scaffold a separate, installable connector package.

The generated package (``martech-NAME``) holds a pyproject with the ``martech`` entry point, the
connector and its emulator, and tests (the conformance kit and a plugin check) that pass as
generated. The connector and emulator are martech's reference connector
(:mod:`martech.testing.reference`) renamed, so the scaffold always matches what the kit checks.
"""

from __future__ import annotations

import inspect
import re
import shlex
from pathlib import Path

import typer

from ..errors import ConfigError

new_app = typer.Typer(help="Scaffold new martech plugins.", no_args_is_help=True)

#: A connector name becomes the package ``martech_NAME``, the distribution ``martech-NAME`` (which
#: must begin and end with a letter or digit), class names and ``MARTECH_<NAME>_*`` variables:
#: lowercase words of letters and digits joined by single underscores, starting with a letter.
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_NAME_LENGTH = range(2, 32)
#: Names whose classes would shadow what the connector module imports (``ConnectorConfig``).
_RESERVED = frozenset({"connector"})

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "martech-{dist}"
version = "0.1.0"
description = "A martech connector for {title}, checked by martech's conformance kit."
requires-python = ">=3.11"
dependencies = ["martech>=0.1", "pydantic>=2.7"]

[project.optional-dependencies]
test = ["pytest>=8.0"]

# martech finds the connector through this entry point (`martech plugins` lists it).
[project.entry-points.martech]
{name} = "martech_{name}"

[tool.hatch.build.targets.wheel]
packages = ["martech_{name}"]

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 100

[tool.ruff.lint.isort]
known-third-party = ["martech"]
"""

INIT = '''\
"""martech plugin: registers the {title} connector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martech import hookimpl


@hookimpl
def martech_register_connectors(register: Callable[[Any], None]) -> None:
    from .connector import {cls}Connector

    register({cls}Connector)
'''

TEST_CONFORMANCE = '''\
"""martech's conformance kit against the {title} emulator (offline, loopback only)."""

from __future__ import annotations

from martech.connector import ConnectorConfig
from martech.testing.conformance import ConnectorConformance
from pydantic import SecretStr

from martech_{name}.connector import {cls}Config, {cls}Connector


class Test{cls}Conformance(ConnectorConformance):
    connector = {cls}Connector

    def config(self, base_url: str) -> ConnectorConfig:
        return {cls}Config(base_url=base_url, api_key=SecretStr("test-key"))
'''

TEST_PLUGIN = '''\
"""The package registers its connector with martech through the entry point."""

from __future__ import annotations

from martech.plugins import registry

from martech_{name}.connector import {cls}Connector


def test_the_connector_is_registered() -> None:
    reg = registry(reload=True)
    assert reg.connectors["{name}"] is {cls}Connector
    assert not [e for e in reg.errors if "{name}" in str(e)]
'''

README = """\
# martech-{dist}

A [martech](https://example.invalid/martech) connector for {title}, scaffolded by
`martech new connector {name}`.

```
pip install -e '.[test]'    # martech plugins  -> lists "{name}"
pytest                      # the conformance kit against the bundled emulator
martech sandbox serve {name} --port 0   # until Ctrl-C; --for SECONDS stops it
```

`martech_{name}/connector.py` holds the connector (config, limits, audience methods) and the
emulator of the vendor's API it is tested against. Change both to the vendor's real wire format;
`tests/test_conformance.py` keeps checking idempotent adds, no-op removes, Retry-After, 5xx
bounds, per-item refusals, pagination loops, kill-and-resume and log hygiene.
"""


def _renames(name: str, cls: str) -> dict[str, str]:
    """Every identifier of the reference module that names the vendor, and its new spelling."""
    return {
        "martech.testing.reference": f"martech_{name}.connector",
        "ReferenceConfig": f"{cls}Config",
        "ReferenceConnector": f"{cls}Connector",
        "ReferenceEmulator": f"{cls}Emulator",
        "reference_key": f"{name}_key",
        "reference": name,  # name = "reference", "the reference vendor"
    }


def _rename(body: str, renames: dict[str, str]) -> str:
    """Replace whole identifiers in one pass, so a replacement is never renamed again.

    (``preference``'s ``PreferenceConnector`` holds ``reference``: renaming ``Reference`` and then
    ``reference`` one after the other made it ``PpreferenceConnector``.)
    """
    unknown = sorted(set(re.findall(r"\w*reference\w*", body, flags=re.IGNORECASE)) - set(renames))
    if unknown:  # the reference module grew a name the scaffold would leave behind
        raise RuntimeError(f"martech.testing.reference: no rename for {', '.join(unknown)}")
    words = "|".join(re.escape(old) for old in sorted(renames, key=len, reverse=True))
    return re.sub(rf"\b(?:{words})\b", lambda m: renames[m[0]], body)


def connector_source(name: str, cls: str) -> str:
    """The reference connector module, renamed for ``name``."""
    from ..testing import reference

    source = inspect.getsource(reference)
    body = source.split('"""', 2)[2]  # drop the module docstring
    body = re.sub(r"from \.\.(\w+)", r"from martech.\1", body)
    body = _rename(body, _renames(name, cls))
    # In the new package martech is a third-party import: one sorted block with pydantic.
    pydantic = "from pydantic import Field, SecretStr\n"
    body = body.replace(pydantic + "\n", "").replace(
        "from martech.sandbox import Emulator, json_response\n",
        "from martech.sandbox import Emulator, json_response\n" + pydantic,
    )
    http = "    from martech.http import HttpClient\n"
    body = body.replace("\n" + http, "").replace(
        "if TYPE_CHECKING:\n", "if TYPE_CHECKING:\n" + http
    )
    doc = (
        f'"""The {name} connector and an emulator of its API (scaffolded from martech\'s '
        "reference connector).\n\n"
        "Replace the wire format with the vendor's; keep the behaviour the conformance kit "
        'checks.\n"""'
    )
    return doc + body


def check_name(name: str) -> None:
    """Raise ConfigError unless ``name`` makes a valid package, distribution and class name."""
    if not (_NAME.fullmatch(name) and len(name) in _NAME_LENGTH):
        raise ConfigError(
            "NAME: expected lowercase letters and digits, words joined by single underscores, "
            f"starting with a letter and ending with a letter or digit, {_NAME_LENGTH.start}-"
            f"{_NAME_LENGTH.stop - 1} characters (it names the package martech_NAME and the "
            f"distribution martech-NAME), got {name!r}{_suggestion(name)}"
        )
    if name in _RESERVED:
        raise ConfigError(
            f"NAME: {name!r} would make classes that shadow martech's own; pick another name"
        )


def _suggestion(name: str) -> str:
    """``"; did you mean 'acme_corp'?"`` for ``Acme-Corp``, or "" when nothing valid is near."""
    near = "_".join(re.split(r"[^a-z0-9]+", name.lower())).strip("_")
    if near != name and _NAME.fullmatch(near) and len(near) in _NAME_LENGTH:
        return f"; did you mean {near!r}?"
    return ""


def _dist_key(dist: str | None) -> str | None:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", dist).lower() if dist else None


def name_owner(name: str) -> str | None:
    """What already uses ``name`` as a martech plugin or connector, and in which package.

    ``martech-NAME`` itself (this scaffold's package, installed before) does not count: installing
    it again replaces it.
    """
    from importlib.metadata import entry_points

    from ..plugins import GROUP, registry

    ours = _dist_key(f"martech-{name.replace('_', '-')}")
    for ep in entry_points(group=GROUP):
        package = ep.dist.metadata["Name"] if ep.dist else None
        if ep.name == name and _dist_key(package) != ours:
            return f"a plugin entry point of the installed package {package or '(unknown)'}"
    reg = registry()
    if name in reg.connectors:
        plugin = reg.owners[("connectors", name)]
        package = reg.plugins[plugin].package if plugin in reg.plugins else None
        if _dist_key(package) != ours:
            owner = package or "(unknown)"
            return f"a connector of the installed package {owner} (plugin {plugin!r})"
    return None


def check_name_is_free(name: str) -> None:
    """Raise ConfigError if an installed package already has ``name`` (plugin or connector)."""
    owner = name_owner(name)
    if owner is None:
        return
    free = [
        alt
        for alt in (f"my_{name}", f"{name}2")
        if _NAME.fullmatch(alt) and len(alt) in _NAME_LENGTH and name_owner(alt) is None
    ]
    hint = f", e.g. {free[0]!r}" if free else ""
    raise ConfigError(
        f"NAME: {name!r} is already {owner}; martech loads one plugin and one connector per "
        f"name, so one of the two packages would not load: pick another name{hint}"
    )


def package_files(name: str) -> dict[str, str]:
    """The package for connector ``name``: relative path -> text."""
    check_name(name)
    cls = "".join(part.capitalize() for part in name.split("_"))
    fill = {"name": name, "dist": name.replace("_", "-"), "title": cls, "cls": cls}
    return {
        "pyproject.toml": PYPROJECT.format(**fill),
        "README.md": README.format(**fill),
        f"martech_{name}/__init__.py": INIT.format(**fill),
        f"martech_{name}/connector.py": connector_source(name, cls),
        "tests/test_conformance.py": TEST_CONFORMANCE.format(**fill),
        "tests/test_plugin.py": TEST_PLUGIN.format(**fill),
    }


def scaffold(name: str, target: Path, *, force: bool = False) -> list[Path]:
    """Write the package for connector ``name`` into ``target``; return the files written.

    ``target`` must be a new or empty folder; with ``force`` a non-empty one is written into,
    its files of the same names overwritten and the others kept.
    """
    files = package_files(name)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--dir: {target} is a file; give a new or empty folder")
    if target.exists() and not force and (entries := sorted(p.name for p in target.iterdir())):
        shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
        raise ConfigError(
            f"--dir: {target} is not empty ({shown}); give a new or empty folder, or --force to "
            "write into it (overwriting its files of the same names, keeping the others)"
        )
    written = []
    for rel, text in files.items():
        path = target / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        except OSError as exc:  # a file where a folder goes, no permission, a full disk
            where = exc.filename or path
            raise ConfigError(f"--dir: cannot write {where}: {exc.strerror or exc}") from None
        written.append(path)
    return written


@new_app.command("connector")
def new_connector(
    name: str = typer.Argument(..., help="Connector name: lowercase, e.g. acme."),
    directory: Path | None = typer.Option(
        None, "--dir", help="Where to write the package (default ./martech-NAME)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Write into a non-empty folder (overwrites same-named files)."
    ),
) -> None:
    """Scaffold a connector package: pyproject + entry point, connector, emulator, tests."""
    from rich.markup import escape

    from .app import console

    check_name(name)
    check_name_is_free(name)
    target = directory or Path(f"martech-{name.replace('_', '-')}")
    existed = {target / rel for rel in package_files(name) if (target / rel).is_file()}
    for path in scaffold(name, target, force=force):
        console.print(escape(f"{'overwrote' if path in existed else 'wrote'} {path}"))
    # Printed as is: rich would take "[test]" for markup and drop it.
    hint = f"next: pip install -e {shlex.quote(f'{target}[test]')} && pytest "
    console.print(escape(hint + shlex.quote(str(target / "tests"))), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(new_app, name="new")
