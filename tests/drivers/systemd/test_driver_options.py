"""The systemd driver honours the entry's DST opt-in (spec.systemd.acceptDstDifferences)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

import pytest

from crontopus.drivers import DesiredEntry
from crontopus.drivers.systemd.driver import SystemdDriver

JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
# 02:30 does not exist in Berlin on the spring-forward day: cron runs the job at 03:00, systemd
# skips it for that day.
IN_THE_GAP = "30 2 * * *"


class QuietSystemctl:
    """Answer like systemctl 252 (no user manager runs in CI)."""

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        out = b"systemd 252 (252.38-1~deb12u1)\n" if "--version" in argv else b""
        return subprocess.CompletedProcess(list(argv), 0, out, b"")


def entry(*, accept: bool) -> DesiredEntry:
    argv = ["/usr/local/bin/crontopus-agent", "run-job", str(JOB)]
    return DesiredEntry.build(
        JOB, "backup", IN_THE_GAP, "Europe/Berlin", argv, accept_dst_difference=accept
    )


@pytest.fixture
def driver(tmp_path: Path) -> SystemdDriver:
    return SystemdDriver(tmp_path / "units", runner=QuietSystemctl())


def test_without_the_opt_in_the_timer_fires_a_gated_superset_in_utc(
    driver: SystemdDriver,
) -> None:
    driver.check(entry(accept=False))
    driver.apply([entry(accept=False)])
    timer = (driver.unit_dir / f"crontopus-{JOB}.timer").read_text()
    service = (driver.unit_dir / f"crontopus-{JOB}.service").read_text()
    assert "OnCalendar=*-*-* 00,01:30:00 UTC\n" in timer
    assert "OnCalendar=Sun *-03-25..31 01:00:00 UTC\n" in timer
    assert "--gate" in service
    assert driver.convert("30 2 * * *", "Europe/Berlin").to_json()["mode"] == "gated"


def test_with_the_opt_in_the_timer_is_installed(driver: SystemdDriver) -> None:
    driver.check(entry(accept=True))
    driver.apply([entry(accept=True)])
    timer = (driver.unit_dir / f"crontopus-{JOB}.timer").read_text()
    assert "OnCalendar=*-*-* 02:30:00 Europe/Berlin\n" in timer
    assert driver.list_managed()[JOB].content_hash == entry(accept=True).content_hash


def test_turning_the_opt_in_on_is_a_change_the_agent_sees(driver: SystemdDriver) -> None:
    assert entry(accept=True).content_hash != entry(accept=False).content_hash
