"""A throwaway user and a cron daemon for the tests that use the real cron."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator

import pytest


@pytest.fixture
def throwaway_user() -> Iterator[str]:
    """Create a user for one test and delete it (and its crontab) afterwards."""
    if os.geteuid() != 0 or shutil.which("crontab") is None or shutil.which("useradd") is None:
        pytest.skip("needs root, crontab(1) and useradd")
    name = f"ctp{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["crontab", "-u", name, "-r"], capture_output=True, check=False)
        subprocess.run(["userdel", name], check=True)


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
