"""Suite-wide switches: which optional halves of the suite run on this machine, and how the
tests are shared among pytest-xdist workers (`make test` runs one worker per core)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from tests.support import MACHINE_VARIABLE

# The files holding tests that change machine state (the `machine` marker). Their tests all run
# on one worker, one after another: two at once could both edit root's crontab, restart the cron
# daemon or make network namespaces on the same bridge. Collection checks this list against the
# markers, so a new machine test in another file fails loudly instead of racing.
MACHINE_FILES = frozenset(
    {
        "docs/examples/crontopus-driver-crond/tests/test_crond_machine.py",
        "tests/agent/service/test_systemd.py",
        "tests/agent/test_cron_e2e.py",
        "tests/agent/test_faults.py",
        "tests/agent/test_gated_cron_e2e.py",
        "tests/drivers/cron/test_backend.py",
        "tests/drivers/cron/test_quoting.py",
        "tests/server/test_faults.py",
        "tests/test_hosts.py",
        "tests/test_release.py",
    }
)
MACHINE_SCOPE = "machine"


class FileScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    """Each test file on one worker, and every machine-test file on the same one.

    A file's module-scoped fixtures (a server process, a built wheel) are then made once, as in a
    serial run, rather than once per worker that gets one of its tests.
    """

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.partition("::")[0]
        return MACHINE_SCOPE if path in MACHINE_FILES else path


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> FileScheduling:
    return FileScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _check_machine_files(config.rootpath, items)
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


def _check_machine_files(root: Path, items: list[pytest.Item]) -> None:
    missing = sorted(name for name in MACHINE_FILES if not (root / name).is_file())
    unlisted = sorted(
        {item.nodeid.partition("::")[0] for item in items if "machine" in item.keywords}
        - MACHINE_FILES
    )
    if missing or unlisted:
        raise pytest.UsageError(
            "tests/conftest.py MACHINE_FILES is out of date: "
            + "; ".join(
                part
                for part in (
                    f"no such file {', '.join(missing)}" if missing else "",
                    f"machine tests in unlisted {', '.join(unlisted)}" if unlisted else "",
                )
                if part
            )
            + " (list every file holding a `machine` test, so its tests share one worker)"
        )
