"""``martech new connector NAME``: scaffold a separate, installable connector package.

The generated package (``martech-NAME``) holds a pyproject with the ``martech`` entry point, the
connector and its emulator, and tests (the conformance kit and a plugin check) that pass as
generated. The connector and emulator are martech's reference connector
(:mod:`martech.testing.reference`) renamed, so the scaffold always matches what the kit checks.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import typer

from ..errors import ConfigError

new_app = typer.Typer(help="Scaffold new martech plugins.", no_args_is_help=True)

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "martech-{dist}"
version = "0.1.0"
description = "A martech connector for {title}, checked by martech's conformance kit."
requires-python = ">=3.11"
dependencies = ["martech>=0.1"]

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

from martech_{name}.connector import {cls}Config, {cls}Connector


class Test{cls}Conformance(ConnectorConformance):
    connector = {cls}Connector

    def config(self, base_url: str) -> ConnectorConfig:
        return {cls}Config(base_url=base_url, api_key="test-key")
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
pip install -e .            # martech plugins  -> lists "{name}"
pytest                      # the conformance kit against the bundled emulator
martech sandbox serve {name} --port 0
```

`martech_{name}/connector.py` holds the connector (config, limits, audience methods) and the
emulator of the vendor's API it is tested against. Change both to the vendor's real wire format;
`tests/test_conformance.py` keeps checking idempotent adds, no-op removes, Retry-After, 5xx
bounds, per-item refusals, pagination loops, kill-and-resume and log hygiene.
"""


def connector_source(name: str, cls: str) -> str:
    """The reference connector module, renamed for ``name``."""
    from ..testing import reference

    source = inspect.getsource(reference)
    body = source.split('"""', 2)[2]  # drop the module docstring
    body = re.sub(r"from \.\.(\w+)", r"from martech.\1", body)
    body = body.replace("martech.testing.reference", f"martech_{name}.connector")
    body = body.replace("Reference", cls).replace("reference", name)
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


def scaffold(name: str, target: Path, *, force: bool = False) -> list[Path]:
    """Write the package for connector ``name`` into ``target``; return the files written."""
    if not _NAME.match(name):
        raise ConfigError(
            f"NAME: expected lowercase letters, digits and _ (2-31, starting with a letter), "
            f"got {name!r}"
        )
    if target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(f"--dir: {target} exists and is not empty (use --force to overwrite)")
    cls = "".join(part.capitalize() for part in name.split("_"))
    fill = {"name": name, "dist": name.replace("_", "-"), "title": cls, "cls": cls}
    files = {
        "pyproject.toml": PYPROJECT.format(**fill),
        "README.md": README.format(**fill),
        f"martech_{name}/__init__.py": INIT.format(**fill),
        f"martech_{name}/connector.py": connector_source(name, cls),
        "tests/test_conformance.py": TEST_CONFORMANCE.format(**fill),
        "tests/test_plugin.py": TEST_PLUGIN.format(**fill),
    }
    written = []
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


@new_app.command("connector")
def new_connector(
    name: str = typer.Argument(..., help="Connector name: lowercase, e.g. acme."),
    directory: Path | None = typer.Option(
        None, "--dir", help="Where to write the package (default ./martech-NAME)."
    ),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty folder."),
) -> None:
    """Scaffold a connector package: pyproject + entry point, connector, emulator, tests."""
    from .app import console

    target = directory or Path(f"martech-{name.replace('_', '-')}")
    written = scaffold(name, target, force=force)
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"next: pip install -e '{target}[test]' && pytest {target}/tests")


def register(app: typer.Typer) -> None:
    app.add_typer(new_app, name="new")
