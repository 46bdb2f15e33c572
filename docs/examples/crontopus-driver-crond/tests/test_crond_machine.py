"""Debian's cron daemon runs a job the crond driver wrote into the real /etc/cron.d."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from crontopus_driver_crond import CronDDriver, file_name

from crontopus.drivers import DesiredEntry

MACHINE_VARIABLE = "CRONTOPUS_TEST_MACHINE"
CRON_D = Path("/etc/cron.d")

# The repository's root conftest skips `machine` tests unless asked; this file may be run on its
# own (a plugin author's checkout), so it says the same itself.
pytestmark = [
    pytest.mark.machine,
    pytest.mark.skipif(
        os.environ.get(MACHINE_VARIABLE) != "1",
        reason=f"changes machine state; set {MACHINE_VARIABLE}=1 to run (CI does)",
    ),
]


def _cron_running() -> bool:
    return subprocess.run(["pgrep", "-x", "cron"], capture_output=True, check=False).returncode == 0


@pytest.fixture
def cron_daemon() -> Iterator[None]:
    """Use the running cron daemon, or start one for the test and stop it after."""
    if os.geteuid() != 0 or shutil.which("cron") is None or not CRON_D.is_dir():
        pytest.skip("needs root, Debian's cron daemon and /etc/cron.d")
    if _cron_running():
        yield
        return
    daemon = subprocess.Popen(["cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)


def test_cron_runs_the_job_from_its_cron_d_file_with_arguments_intact(
    request: pytest.FixtureRequest,
) -> None:
    if os.geteuid() != 0 or shutil.which("cron") is None or not CRON_D.is_dir():
        pytest.skip("needs root, Debian's cron daemon and /etc/cron.d")
    job = uuid4()
    tricky = ["50% off", "it's", 'say "hi"', "back\\slash", "$HOME"]
    driver = CronDDriver(CRON_D, user="root", cron_tz=False, machine_zone="UTC")
    with tempfile.TemporaryDirectory(prefix="crontopus-crond-") as shared:
        record = Path(shared, "argv.json")
        script = f"import json, sys; open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))"
        argv = [sys.executable, "-c", script, str(job), *tricky]
        driver.apply([DesiredEntry.build(job, "crond-machine", "* * * * *", None, argv)])
        try:
            assert (CRON_D / file_name(job)).is_file()
            # Start cron only after the write: a daemon scanning in the same second as the
            # write would miss it (cron compares modification times in whole seconds).
            request.getfixturevalue("cron_daemon")
            deadline = time.monotonic() + 150
            while not record.exists() and time.monotonic() < deadline:
                time.sleep(1)
            assert record.exists(), "cron did not run the job within two and a half minutes"
            time.sleep(0.5)
            recorded = json.loads(record.read_text())
        finally:
            driver.remove([job])
    assert recorded == [str(job), *tricky]
    assert not (CRON_D / file_name(job)).exists()
