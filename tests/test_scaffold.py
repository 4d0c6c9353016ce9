"""``martech new connector`` output and the cookbook's third-party package, installed for real.

Each package is pip-installed (editable, no deps, no build isolation) into a throwaway venv that
sees this environment's site-packages (martech and its dependencies) through a ``.pth`` file;
the main environment is never touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from martech.cli import main
from martech.cli.new import scaffold
from martech.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def make_venv(where: Path) -> Path:
    """A venv without pip whose site-packages chain to ours; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    # addsitedir (not a bare path) so the parent's own .pth files — editable installs — apply.
    Path(site, "_martech_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def pip_install(python: Path, package: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-e",
            str(package),
        ],
        check=True,
        capture_output=True,
        text=True,
    )


def plugins_json(python: Path) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        [str(python), "-m", "martech", "plugins", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def test_new_connector_scaffolds_a_package_whose_tests_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "reference" inside the name: the template's identifiers are renamed as whole words
    target = tmp_path / "martech-widget-reference"
    assert main(["new", "connector", "widget_reference", "--dir", str(target)]) == 0
    assert f"pip install -e '{target}[test]'" in capsys.readouterr().out
    assert (target / "martech_widget_reference" / "connector.py").exists()
    python = make_venv(tmp_path / "venv")
    pip_install(python, target)
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target / "tests")],
        capture_output=True,
        text=True,
        cwd=target,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "passed" in run.stdout
    assert " failed" not in run.stdout
    registered = {
        p["name"]: p["registered"]
        for p in plugins_json(python)["plugins"]
        if p["name"] == "widget_reference"
    }
    assert registered == {"widget_reference": {"connectors": ["widget_reference"]}}


def test_the_cookbook_package_installs_and_appears_in_martech_plugins(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv")
    pip_install(python, ROOT / "cookbook" / "acme_connector")
    info = {p["name"]: p for p in plugins_json(python)["plugins"]}
    assert info["acme"]["package"] == "martech-acme"
    assert info["acme"]["registered"] == {"connectors": ["acme"]}
    assert info["acme"]["error"] is None


def test_the_cookbook_package_is_what_the_scaffold_generates(tmp_path: Path) -> None:
    scaffold("acme", tmp_path / "acme")
    cookbook = ROOT / "cookbook" / "acme_connector"
    for path in (tmp_path / "acme").rglob("*.*"):
        rel = path.relative_to(tmp_path / "acme")
        assert (cookbook / rel).read_text() == path.read_text(), f"{rel} drifted from the scaffold"


@pytest.mark.parametrize("name", ["lint_me", "preference"])
def test_the_scaffold_is_lint_clean(name: str, tmp_path: Path) -> None:
    scaffold(name, tmp_path / "pkg")
    ruff = Path(sys.executable).parent / "ruff"
    for args in (["check"], ["format", "--check"]):
        run = subprocess.run(
            [str(ruff), *args, "."], cwd=tmp_path / "pkg", capture_output=True, text=True
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_the_scaffold_type_checks_strictly_without_the_pydantic_plugin(tmp_path: Path) -> None:
    """A connector author's plain ``mypy --strict`` (no pydantic plugin configured) passes on
    the package as generated, its tests included: the conformance config passed its API key as
    a bare str where the field is a SecretStr."""
    scaffold("typed_shop", tmp_path / "pkg")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-warn-unused-configs",
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            "martech_typed_shop",
            "tests",
        ],
        cwd=tmp_path / "pkg",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_scaffold_declares_every_package_its_code_imports(tmp_path: Path) -> None:
    """Its connector imports pydantic itself (Field, SecretStr), so pydantic is a dependency of
    its own, not one it borrows from martech's."""
    import ast
    import tomllib

    files = scaffold("declared", tmp_path / "pkg")
    project = tomllib.loads((tmp_path / "pkg" / "pyproject.toml").read_text())["project"]
    declared = {
        dep.split(">")[0].split("=")[0].split("[")[0].strip().replace("-", "_")
        for dep in project["dependencies"] + project["optional-dependencies"]["test"]
    }
    imported: set[str] = set()
    for path in files:
        if path.suffix == ".py" and "tests" not in path.parts[-2:]:
            for node in ast.parse(path.read_text()).body:  # module level: not TYPE_CHECKING
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
                elif isinstance(node, ast.Import):
                    imported.update(alias.name.split(".")[0] for alias in node.names)
    third_party = imported - set(sys.stdlib_module_names) - {"martech_declared"}
    assert third_party == {"martech", "pydantic"}
    assert third_party <= declared


def test_a_bad_name_or_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    for name in ("Acme-Corp", "a_"):  # a_ would make martech-a-, which pip refuses
        with pytest.raises(ConfigError, match="NAME: expected lowercase"):
            scaffold(name, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        scaffold("acme", tmp_path / "full")
