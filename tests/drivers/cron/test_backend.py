"""Where the crontab lives: a file written atomically, or a user's crontab via crontab(1)."""

from __future__ import annotations

import os
from pathlib import Path
from uuid import uuid4

import pytest

from crontopus.drivers import DesiredEntry, PermanentDriverError
from crontopus.drivers.cron import CommandCrontab, CronDriver, FileCrontab

ODD_TEXT = "# été ☃\nFOO=bar\n\n* * * * * echo \udcff\n"


def test_a_missing_file_reads_as_an_empty_crontab(tmp_path: Path) -> None:
    assert FileCrontab(tmp_path / "absent").read() == ""


def test_a_file_write_keeps_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    backend = FileCrontab(tmp_path / "crontab")
    backend.write(ODD_TEXT)
    assert (
        tmp_path / "crontab"
    ).read_bytes() == "# été ☃\nFOO=bar\n\n* * * * * echo ".encode() + b"\xff\n"
    assert backend.read() == ODD_TEXT


def test_a_file_write_replaces_the_file_in_one_rename(tmp_path: Path) -> None:
    path = tmp_path / "crontab"
    path.write_text("old\n")
    reader = path.open("rb")  # a reader of the old file sees it whole, never half-written
    inode = os.stat(path).st_ino
    FileCrontab(path).write("new\n")
    assert os.stat(path).st_ino != inode
    assert reader.read() == b"old\n"
    reader.close()
    assert [child.name for child in tmp_path.iterdir()] == ["crontab"]


def test_a_file_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    availability = FileCrontab(tmp_path / "nowhere" / "crontab").available()
    assert not availability.ok
    assert "nowhere" in availability.reason


def test_a_failed_file_write_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(PermanentDriverError, match="nowhere"):
        FileCrontab(tmp_path / "nowhere" / "crontab").write("x\n")


def test_a_missing_crontab_command_makes_the_driver_unavailable() -> None:
    availability = CommandCrontab(binary="crontab-that-does-not-exist").available()
    assert not availability.ok
    assert "apt-get install cron" in availability.reason


# --- the real crontab(1): these change a throwaway user's crontab --------------------------


@pytest.mark.machine
def test_a_user_without_a_crontab_reads_as_empty(throwaway_user: str) -> None:
    backend = CommandCrontab(throwaway_user)
    assert backend.read() == ""
    assert backend.available().ok


@pytest.mark.machine
def test_the_real_crontab_round_trips_foreign_bytes(throwaway_user: str) -> None:
    backend = CommandCrontab(throwaway_user)
    backend.write(ODD_TEXT)
    assert backend.read() == ODD_TEXT


@pytest.mark.machine
def test_the_real_crontab_refuses_an_invalid_crontab_with_its_message(throwaway_user: str) -> None:
    with pytest.raises(PermanentDriverError, match="bad minute"):
        CommandCrontab(throwaway_user).write("61 * * * * x\n")


@pytest.mark.machine
def test_reconciles_through_the_real_crontab_keep_foreign_lines_and_skip_no_ops(
    throwaway_user: str,
) -> None:
    backend = CommandCrontab(throwaway_user)
    backend.write(ODD_TEXT)
    driver = CronDriver(backend, cron_tz=False, machine_zone="UTC")
    job = uuid4()
    wanted = DesiredEntry.build(
        job, "nightly 50%", "0 2 * * *", None, ["/usr/bin/crontopus-agent", "run-job", str(job)]
    )
    driver.apply([wanted])
    spool = Path("/var/spool/cron/crontabs") / throwaway_user
    stamp = spool.stat().st_mtime_ns if spool.exists() else None
    driver.apply([wanted])
    assert (spool.stat().st_mtime_ns if spool.exists() else None) == stamp
    assert set(driver.list_managed()) == {job}
    assert backend.read().startswith(ODD_TEXT)
    driver.remove([job])
    assert backend.read() == ODD_TEXT
