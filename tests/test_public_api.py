"""The curated facade: ``__all__`` complete, sorted, and importable."""

from __future__ import annotations

import subprocess
import sys

import pytest

import martech


def test_all_is_sorted():
    assert martech.__all__ == sorted(martech.__all__)


def test_all_imports_are_exported():
    assert set(martech._LAZY) | {"__version__"} == set(martech.__all__)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="Profil"):
        martech.Profil  # noqa: B018


def test_every_exported_name_exists():
    for name in martech.__all__:
        assert hasattr(martech, name), name


def test_import_martech_does_not_load_plugins_or_heavy_modules():
    code = (
        "import sys, martech; "
        "heavy = [m for m in ('duckdb', 'pyarrow', 'typer', 'sqlglot', 'martech_connectors', "
        "'martech_plugins', 'numpy', 'httpx', 'starlette') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pull_is_the_function_whatever_was_imported_first():
    """The pulling code lives in martech.pulling: a submodule named ``pull`` would replace the
    exported function on the package as soon as anything imported it."""
    code = (
        "from martech.pulling import checkpoint; from martech import pull; import inspect; "
        "print(inspect.iscoroutinefunction(pull))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_a_type_checker_catches_a_misspelled_export(tmp_path):
    """The lazy ``__getattr__`` is hidden from type checkers: ``from martech import Stroe`` is a
    mypy error, not an Any."""
    script = tmp_path / "use.py"
    script.write_text("from martech import Store, Stroe\n\nprint(Store, Stroe)\n")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(script)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout
    assert 'Module "martech" has no attribute "Stroe"' in out.stdout
    assert "Found 1 error" in out.stdout  # Store itself is known
