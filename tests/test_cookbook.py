"""Every cookbook recipe runs: front matter in its docstring, a main(), assertions that pass."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

COOKBOOK = Path(__file__).resolve().parent.parent / "cookbook"
RECIPES = sorted(COOKBOOK.glob("[0-9][0-9]_*.py"))
REQUIRED = ("title", "summary", "level", "run")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"cookbook_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def front_matter(doc: str) -> dict:
    """The YAML block before the first ``---`` line of a recipe's docstring."""
    head, sep, _ = doc.strip().partition("\n---\n")
    assert sep, "docstring needs front matter, then a line '---', then prose"
    data = yaml.safe_load(head)
    assert isinstance(data, dict)
    return data


def test_the_cookbook_has_recipes():
    assert len(RECIPES) >= 6
    assert all(re.match(r"^\d\d_[a-z0-9_]+\.py$", p.name) for p in RECIPES)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_runs(path, capsys):
    module = _load(path)
    meta = front_matter(module.__doc__ or "")
    missing = [k for k in REQUIRED if k not in meta]
    assert not missing, f"{path.name}: front matter lacks {missing}"
    assert meta["run"] == f"python cookbook/{path.name}"
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"
    module.main()  # the recipe's own assertions are the test
    out = capsys.readouterr().out
    assert out.strip(), "a recipe shows what it did"
    # It shows it to a marketer: counts and names in sentences or columns, not Python reprs.
    reprs = re.findall(r"[{\[]'[^\n]{0,40}", out)
    assert not reprs, f"{path.name} prints a Python dict or list: {reprs[0]}"
