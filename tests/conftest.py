"""Suite-wide settings. Fixtures for users live in martech.testing.plugin (pytest11)."""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import settings

# No per-example deadline: speed is measured in bench/, not asserted in pytest, and on a shared
# 2-core machine a first example that loads phonenumbers' metadata can take over a second
# (a 1.7 s first call failed test_phone_cells_are_sha256_of_digits_without_plus as "flaky").
settings.register_profile("martech", deadline=None)
settings.load_profile("martech")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scale tests (``@pytest.mark.slow``) run only when asked for with ``-m slow``."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow scale test: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def chromium() -> str:
    """The headless Chromium binary. Without one the test skips, saying why; on CI
    (``CI=true``, where .ci/run installs Debian's chromium) it fails instead."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is required on CI (apt-get install chromium)")
        pytest.skip("chromium not installed: the HTML is not rendered in a browser here")
    return browser
