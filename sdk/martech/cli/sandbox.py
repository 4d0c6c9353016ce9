"""``martech sandbox``: run vendor emulators on loopback for demos and manual testing."""

from __future__ import annotations

import json
import shlex
import time
from typing import Any, get_args, get_origin

import typer
from rich.markup import escape

from .app import console, print_json, print_table

sandbox_app = typer.Typer(help="Vendor emulators on 127.0.0.1 (for demos, scripts and tests).")


@sandbox_app.command("list")
def list_emulators(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Connectors that ship an emulator."""
    from ..sandbox import available

    found = available()
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no installed connector ships an emulator")
        return
    from rich.table import Table

    table = Table("connector", "emulator", box=None, pad_edge=False)
    for name, path in found.items():
        table.add_row(escape(name), escape(path))  # a str cell is markup
    print_table(table)


def _positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"expected a number of seconds above 0, got {value:g}")
    return value


@sandbox_app.command("serve")
def serve(
    name: str = typer.Argument(..., help="Connector name, e.g. hubspot."),
    port: int = typer.Option(
        0, "--port", min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one."
    ),
    records: int = typer.Option(1000, "--records", min=0, help="Synthetic records to seed."),
    seed: int = typer.Option(0, "--seed", help="Seed for the synthetic records and faults."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Do not enforce the vendor's rate limits (benchmarks)."
    ),
    for_seconds: float | None = typer.Option(
        None,
        "--for",
        callback=_positive,
        help="Stop after this many seconds, more than 0 (default: until Ctrl-C).",
    ),
    latency: float = typer.Option(
        0.0, "--latency", min=0.0, help="Seconds to hold every answer (a vendor far away)."
    ),
) -> None:
    """Serve NAME's emulator on 127.0.0.1 until Ctrl-C; prints the base URL first.

    Then the settings that point NAME's connector at it, as a martech.toml table.

    Secret fields come as MARTECH_<NAME>_<FIELD> exports (the emulator's fake credentials).
    """
    from ..sandbox import Faults
    from ..sandbox import serve as serve_emulator

    faults = Faults(seed=seed, latency=latency)
    limits = not no_limits
    with serve_emulator(
        name, port=port, records=records, seed=seed, faults=faults, limits=limits
    ) as (emulator, url):
        print(url, flush=True)
        for line in connection_lines(name, emulator.connection(url)):
            print(line, flush=True)
        stop = None if for_seconds is None else time.monotonic() + for_seconds
        try:
            while stop is None or time.monotonic() < stop:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass


def is_secret(annotation: Any) -> bool:
    """Whether a config field's annotation holds a secret type.

    Also inside ``X | None``, other unions and generics: ``SecretStr | None`` is as secret as
    ``SecretStr`` and must not be printed into ``martech.toml``.
    """
    from pydantic import Secret, SecretBytes, SecretStr

    secret = (Secret, SecretBytes, SecretStr)
    for tp in (annotation, get_origin(annotation)):
        if isinstance(tp, type) and issubclass(tp, secret):
            return True
    return any(is_secret(arg) for arg in get_args(annotation))


def connection_lines(name: str, settings: dict[str, str]) -> list[str]:
    """``martech.toml`` lines for the plain settings, ``export`` lines for the secret ones.

    A required field the emulator gives no value for is named in a comment, since a config
    without it does not load.
    """
    from ..plugins import get_connector

    fields = get_connector(name).Config.model_fields
    secret = {k for k, f in fields.items() if is_secret(f.annotation)}
    plain = [f"{k} = {json.dumps(v)}" for k, v in settings.items() if k not in secret]
    env = [
        f"export MARTECH_{name.upper()}_{k.upper()}={shlex.quote(v)}"
        for k, v in settings.items()
        if k in secret
    ]
    missing = [k for k, f in fields.items() if f.is_required() and k not in settings]
    return [
        f"# martech.toml (connector {name!r} against this emulator)",
        f"[connectors.{name}]",
        *plain,
        *(["# secrets from the environment (fake ones: this is an emulator)", *env] if env else []),
        *(
            f"# required but not given by the emulator: set {k}"
            + (f" (MARTECH_{name.upper()}_{k.upper()})" if k in secret else "")
            for k in missing
        ),
    ]


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
