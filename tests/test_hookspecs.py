"""Meta-tests: every hook is typed, documents every argument, is in the docs, and has a test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from martech import hookspecs
from martech.plugins import make_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
HOOK_NAMES = sorted(n for n in dir(hookspecs) if n.startswith("martech_"))


def test_there_are_hooks():
    assert len(HOOK_NAMES) == 5


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hookspec_documents_every_argument(name):
    pm, _ = make_plugin_manager(load=False)
    spec = getattr(pm.hook, name).spec
    doc = inspect.getdoc(spec.function) or ""
    assert spec.argnames, name
    assert all(f":param {a}:" in doc for a in spec.argnames), doc


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hookspec_is_typed(name):
    sig = inspect.signature(getattr(hookspecs, name))
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hook_is_documented_in_the_docs(name):
    assert f"`{name}" in (ROOT / "docs" / "plugins.md").read_text()


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hook_has_a_test(name):
    tests = (ROOT / "tests" / "test_plugins.py").read_text()
    assert f"def test_hook_{name}(" in tests
