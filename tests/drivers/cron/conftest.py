"""A throwaway user and a cron daemon for the tests that use the real cron."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator

import pytest

from tests import support


@pytest.fixture
def throwaway_user() -> Iterator[str]:
    """Create a user for one test and delete it (and its crontab) afterwards."""
    if not support.can_make_users():
        pytest.skip("needs root, crontab(1) and useradd")
    with support.throwaway_user() as name:
        yield name


def _cron_daemon_running() -> bool:
    result = subprocess.run(["pgrep", "-x", "cron"], capture_output=True, check=False)
    return result.returncode == 0


@pytest.fixture
def cron_daemon() -> Iterator[None]:
    """Use the running cron daemon, or start one for the test and stop it after."""
    if shutil.which("cron") is None:
        pytest.skip("the cron daemon is not installed")
    if _cron_daemon_running():
        yield
        return
    daemon = subprocess.Popen(["cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
