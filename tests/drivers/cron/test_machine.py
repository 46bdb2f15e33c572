"""What the machine's cron supports and which zone it runs in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crontopus.drivers.cron.machine import detect_cron_tz_support, machine_timezone, same_zone


def stub_binary(directory: Path, name: str, output: str, code: int = 0) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    path.chmod(0o755)


def test_cronie_is_recognised_by_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cronie is not installed here; a stand-in answers -V the way cronie's crontab does.
    stub_binary(tmp_path, "crontab", "cronie 1.7.2")
    monkeypatch.setenv("PATH", str(tmp_path))
    support = detect_cron_tz_support()
    assert support.supported
    assert "cronie 1.7.2" in support.evidence


def test_a_cron_that_does_not_name_itself_cronie_has_no_cron_tz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_binary(tmp_path, "crontab", "crontab: invalid option -- 'V'", code=1)
    monkeypatch.setenv("PATH", str(tmp_path))
    support = detect_cron_tz_support()
    assert not support.supported
    assert "CRON_TZ" in support.evidence


@pytest.mark.skipif(shutil.which("cron") is None, reason="Debian's cron is not installed")
def test_debian_cron_installed_here_is_not_taken_for_cronie() -> None:
    assert not detect_cron_tz_support().supported


def test_the_zone_is_read_from_the_localtime_link(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Europe/Berlin")
    assert machine_timezone(link, tmp_path / "none") == "Europe/Berlin"


def test_an_alias_link_keeps_its_own_name(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to("../usr/share/zoneinfo/UTC")
    assert machine_timezone(link, tmp_path / "none") == "UTC"


def test_a_copied_localtime_falls_back_to_etc_timezone(tmp_path: Path) -> None:
    (tmp_path / "localtime").write_bytes(b"TZif")
    (tmp_path / "timezone").write_text("America/Chicago\n")
    assert machine_timezone(tmp_path / "localtime", tmp_path / "timezone") == "America/Chicago"


def test_an_unnamed_copied_zone_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "localtime").write_bytes(b"TZif")
    assert machine_timezone(tmp_path / "localtime", tmp_path / "timezone") is None


def test_no_localtime_means_utc(tmp_path: Path) -> None:
    assert machine_timezone(tmp_path / "localtime", tmp_path / "timezone") == "UTC"


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("UTC", "UTC", True),
        ("UTC", "Etc/UTC", True),
        ("Europe/Berlin", "Europe/Paris", False),
        ("Asia/Calcutta", "Asia/Kolkata", True),
        ("Europe/Berlin", "../etc/passwd", False),
    ],
)
def test_zone_aliases_count_as_the_same_zone(first: str, second: str, same: bool) -> None:
    assert same_zone(first, second) is same
