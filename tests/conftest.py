"""Suite-wide switches: which optional halves of the suite run on this machine."""

from __future__ import annotations

import os

import pytest

from tests.support import MACHINE_VARIABLE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that change machine state (a crontab, the cron daemon, users) never run by
    # accident on a developer's laptop; .ci/run opts in.
    if os.environ.get(MACHINE_VARIABLE) == "1":
        return
    skip = pytest.mark.skip(
        reason=f"changes machine state; set {MACHINE_VARIABLE}=1 to run (CI does)"
    )
    for item in items:
        if "machine" in item.keywords:
            item.add_marker(skip)
