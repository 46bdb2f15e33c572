"""Fixtures shared by the driver tests, and the `machine` marker's opt-in."""

from __future__ import annotations

import os

import pytest

MACHINE_OPT_IN = "CRONTOPUS_TEST_MACHINE"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip tests that change machine state unless CRONTOPUS_TEST_MACHINE=1."""
    if os.environ.get(MACHINE_OPT_IN) == "1":
        return
    skip = pytest.mark.skip(reason=f"changes machine state: set {MACHINE_OPT_IN}=1 to run")
    for item in items:
        if "machine" in item.keywords and "/tests/drivers/" in str(item.path):
            item.add_marker(skip)
