"""Suite-wide switches: which optional halves of the suite run on this machine, and how the
tests are shared among pytest-xdist workers (`make test` runs one per core)."""

from __future__ import annotations

import os

import pytest

from tests.support import MACHINE_VARIABLE

# Tests that change machine state share one worker: two of them at once could both restart the
# cron daemon or make network namespaces on the same bridge.
MACHINE_GROUP = "machine"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _group_by_file(items)
    # Tests that change machine state never run by accident on a developer's laptop;
    # .ci/run opts in.
    if os.environ.get(MACHINE_VARIABLE) == "1":
        return
    skip = pytest.mark.skip(
        reason=f"changes machine state; set {MACHINE_VARIABLE}=1 to run (CI does)"
    )
    for item in items:
        if "machine" in item.keywords:
            item.add_marker(skip)


def _group_by_file(items: list[pytest.Item]) -> None:
    """Keep each file's tests on one worker (`--dist loadgroup`), and the files holding a
    machine test all on one.

    A file's module-scoped fixtures (a server process, a built wheel) are then made once, as
    in a serial run, rather than once per worker that gets one of its tests.
    """
    files = {item.nodeid.partition("::")[0] for item in items}
    machine = {item.nodeid.partition("::")[0] for item in items if "machine" in item.keywords}
    groups = {name: MACHINE_GROUP if name in machine else name for name in files}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid.partition("::")[0]]))
