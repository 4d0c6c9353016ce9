"""Run martech as a user would (a subprocess) and install packages offline, for tests.

``require`` is the rule for tests that need a real server: skip with a visible reason on a laptop,
fail when ``CI=true``, where the server must be there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` unless ``condition``; in CI, fail instead of skipping."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def pip_install_offline(package_dir: Path, target: Path | None = None) -> None:
    """``pip install`` a local package without the network: into ``target``, else this venv."""
    where = ["--target", str(target)] if target is not None else []
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            *where,
            str(package_dir),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m martech ARGS`` in a subprocess, with extra ``env``, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "martech", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
