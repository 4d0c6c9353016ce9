"""martech.sandbox: vendor emulators for tests, the demo and benchmarks.

``Emulator`` is the base (Starlette app, in-memory state, limits, faults, counters);
``emulator_class(name)`` finds a connector's emulator through the plugin registry (the
connector's ``emulator = "module:Class"`` import path); ``serve(name)`` runs one on loopback.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ConfigError
from .emulator import Emulator, FixedWindow, RollingWindow, SandboxError, json_response
from .faults import Burst, Faults, FaultState


def load_emulator(path: str) -> type[Emulator]:
    """Import ``"module:Class"`` and check it is an :class:`Emulator` subclass."""
    module_name, _, attr = path.partition(":")
    try:
        cls: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SandboxError(f"cannot import emulator {path!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Emulator)):
        raise SandboxError(f"{path!r} is not a martech.sandbox.Emulator subclass")
    return cls


def available() -> dict[str, str]:
    """Connector name -> emulator import path, for every installed connector that has one."""
    from ..plugins import registry

    return {
        name: cls.emulator
        for name, cls in sorted(registry().connectors.items())
        if getattr(cls, "emulator", None)
    }


def emulator_class(name: str) -> type[Emulator]:
    """The emulator class of the connector registered as ``name``."""
    from ..plugins import get_connector

    connector = get_connector(name)
    path = getattr(connector, "emulator", None)
    if not path:
        known = ", ".join(available()) or "none"
        raise ConfigError(f"connector {name!r} has no emulator; connectors with one: {known}")
    return load_emulator(path)


@contextmanager
def serve(
    name: str,
    *,
    port: int = 0,
    records: int = 0,
    seed: int = 0,
    faults: Faults | None = None,
    limits: bool = True,
) -> Iterator[tuple[Emulator, str]]:
    """Run ``name``'s emulator on 127.0.0.1 with ``records`` seeded; yield (emulator, url)."""
    emulator = emulator_class(name)(faults=faults)
    if not limits:
        emulator.disable_limits()
    if records:
        emulator.seed_data(records, seed)
    with emulator.serve(port) as url:
        yield emulator, url


__all__ = [
    "Burst",
    "Emulator",
    "FaultState",
    "Faults",
    "FixedWindow",
    "RollingWindow",
    "SandboxError",
    "available",
    "emulator_class",
    "json_response",
    "load_emulator",
    "serve",
]
