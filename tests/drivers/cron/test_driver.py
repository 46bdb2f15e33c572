"""The cron driver on a file crontab seeded with foreign content, across many reconciles."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from crontopus.drivers import (
    ConversionRefused,
    DesiredEntry,
    PermanentDriverError,
    RetryableDriverError,
)
from crontopus.drivers.cron import CommandCrontab, CronDriver, FileCrontab
from crontopus.drivers.cron.convert import CronConverter

AGENT = "/opt/crontopus/bin/crontopus-agent"
SEED = (
    b"# Edited by hand \xe2\x80\x94 keep\n"
    b"SHELL=/bin/bash\n"
    b'MAILTO="ops@example.com"\n'
    b"\n"
    b"   \n"
    b"# 0 3 * * * /usr/bin/disabled-job\n"
    b"*/10 * * * * /usr/bin/foreign --flag 'q \\%' >/dev/null 2>&1\n"
    b"@daily /usr/bin/nightly\r\n"
    b"0 5 * * 1-5 echo \xff\xfe latin-1 bytes\n"
    b"30 6 * * * /usr/bin/last-line-without-newline"
)


def foreign_bytes(data: bytes) -> bytes:
    """Remove Crontopus blocks (marker, up to the line naming its job) with no driver code."""
    kept: list[bytes] = []
    open_job: bytes | None = None
    for line in data.splitlines(keepends=True):
        if open_job is not None:
            if open_job in line:
                open_job = None
            continue
        marker = re.match(rb"# crontopus:job=(\S+) ", line)
        if marker:
            open_job = marker.group(1)
            continue
        kept.append(line)
    return b"".join(kept)


def entry(
    job_id: UUID,
    schedule: str = "0 2 * * *",
    name: str = "backup",
    *,
    timezone: str | None = "UTC",
    state_dir: str = "/srv/crontopus state",
) -> DesiredEntry:
    argv = [AGENT, "run-job", str(job_id), "--state-dir", state_dir]
    return DesiredEntry.build(job_id, name, schedule, timezone, argv)


@pytest.fixture
def crontab(tmp_path: Path) -> Path:
    path = tmp_path / "crontab"
    path.write_bytes(SEED)
    return path


@pytest.fixture
def driver(crontab: Path) -> CronDriver:
    return CronDriver(FileCrontab(crontab, user="alice"), cron_tz=False, machine_zone="UTC")


def test_foreign_bytes_survive_add_update_rename_remove_many_times(
    driver: CronDriver, crontab: Path
) -> None:
    jobs = [uuid4() for _ in range(5)]
    expected = SEED + b"\n"
    for round_ in range(4):
        driver.apply([entry(job, f"{round_} {index} * * *") for index, job in enumerate(jobs)])
        assert foreign_bytes(crontab.read_bytes()) == expected
        driver.apply([entry(jobs[0], "15 4 * * *", name=f"renamed été {round_} ☃")])
        assert foreign_bytes(crontab.read_bytes()) == expected
        driver.remove(jobs[1:3])
        assert foreign_bytes(crontab.read_bytes()) == expected
        assert set(driver.list_managed()) == {jobs[0], *jobs[3:]}
    driver.remove(jobs)
    assert crontab.read_bytes() == expected


def test_a_no_op_apply_leaves_the_file_untouched(driver: CronDriver, crontab: Path) -> None:
    wanted = [entry(uuid4()), entry(uuid4(), "@reboot")]
    driver.apply(wanted)
    before = os.stat(crontab)
    driver.apply(wanted)
    driver.remove([uuid4()])
    after = os.stat(crontab)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_no_op_on_a_file_without_final_newline_writes_nothing(
    driver: CronDriver, crontab: Path
) -> None:
    driver.remove([uuid4()])
    assert crontab.read_bytes() == SEED


def test_an_entry_edited_by_hand_is_put_back(driver: CronDriver, crontab: Path) -> None:
    job = uuid4()
    driver.apply([entry(job)])
    pristine = crontab.read_bytes()
    crontab.write_bytes(pristine.replace(b"0 2 * * *", b"0 9 * * *"))
    driver.apply([entry(job)])
    assert crontab.read_bytes() == pristine


def test_an_entry_updated_in_the_middle_keeps_its_place(driver: CronDriver, crontab: Path) -> None:
    job = uuid4()
    driver.apply([entry(job)])
    crontab.write_bytes(crontab.read_bytes() + b"# added after by hand\n")
    driver.apply([entry(job, "45 23 * * *")])
    text = crontab.read_bytes()
    assert text.endswith(b"\n# added after by hand\n")
    assert b"45 23 * * * " + AGENT.encode() in text


def test_the_written_line_runs_the_wrapper_by_absolute_path(
    driver: CronDriver, crontab: Path
) -> None:
    job = uuid4()
    driver.apply([entry(job, name="Nightly backup")])
    block = driver.list_managed()[job].native
    assert block.splitlines() == [
        f"# crontopus:job={job} hash={entry(job, name='Nightly backup').content_hash}"
        " name=Nightly backup",
        f"0 2 * * * {AGENT} run-job {job} --state-dir '/srv/crontopus state'",
    ]


def test_it_lists_every_foreign_job_line_and_nothing_else(driver: CronDriver) -> None:
    driver.apply([entry(uuid4())])
    found = [(item.schedule, item.command, item.user) for item in driver.list_foreign()]
    assert found == [
        ("*/10 * * * *", "/usr/bin/foreign --flag 'q \\%' >/dev/null 2>&1", "alice"),
        ("@daily", "/usr/bin/nightly", "alice"),
        ("0 5 * * 1-5", "echo \udcff\udcfe latin-1 bytes", "alice"),
        ("30 6 * * *", "/usr/bin/last-line-without-newline", "alice"),
    ]


def test_foreign_fingerprints_ignore_spacing(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_text("0 2 * * * /bin/x\n")
    two.write_text("0  2 *\t* *   /bin/x  \n")
    prints = [
        CronDriver(FileCrontab(path, user="bob")).list_foreign()[0].fingerprint
        for path in (one, two)
    ]
    assert prints[0] == prints[1]


def test_another_zone_is_gated_where_cron_has_no_cron_tz(driver: CronDriver, crontab: Path) -> None:
    job = uuid4()
    driver.apply([entry(job, "30 2 * * *", timezone="Europe/Berlin")])
    text = crontab.read_bytes().decode("utf-8", "replace")
    lines = text.splitlines()[-2:]
    # Both UTC offsets of Berlin, and 01:00 UTC on the last Sunday of March, where cron runs
    # the time the spring jump skips.
    assert [line.split(" /")[0] for line in lines] == ["30 0-1 * * *", "0 1 25-31 3 */7"]
    assert all(
        line.endswith(f"run-job {job} --state-dir '/srv/crontopus state' --gate") for line in lines
    )
    assert "CRON_TZ" not in text
    assert set(driver.list_managed()) == {job}
    assert driver.list_foreign() == CronDriver(FileCrontab(crontab, user="alice")).list_foreign()
    driver.remove([job])
    assert str(job) not in crontab.read_bytes().decode("utf-8", "replace")


def test_a_gated_conversion_says_how_many_firings_run_and_wake(driver: CronDriver) -> None:
    converted = driver.convert("30 2 * * *", "Europe/Berlin").to_json()
    assert converted["native"]["lines"] == ["30 0-1 * * *", "0 1 25-31 3 */7"]
    assert converted["native"]["environment"] == []
    assert converted["mode"] == "gated"
    assert converted["firingsPerDay"] == {"run": 1, "woken": 3}
    assert driver.convert("30 2 * * *", "UTC").to_json()["mode"] == "native"


def test_a_dated_plan_is_installed_again_from_its_renewal_date(crontab: Path) -> None:
    # A job in Berlin on a Casablanca machine, whose clock changes move with Ramadan: the
    # lines spell the coming year's change (February 7, 2027), and from March the next.
    job = uuid4()
    wanted = entry(job, "0 3 * * *", timezone="Europe/Berlin")

    def driver_on(today: date) -> CronDriver:
        backend = FileCrontab(crontab, user="alice")
        return CronDriver(backend, cron_tz=False, machine_zone="Africa/Casablanca", today=today)

    february = driver_on(date(2027, 2, 10))
    february.apply([wanted])
    text = crontab.read_text("utf-8", "replace")
    assert f"hash={wanted.content_hash}:renew:2027-03-01 name=" in text
    assert "*/30 2 7 2 */7" in text
    assert february.list_managed()[job].content_hash == wanted.content_hash
    march = driver_on(date(2027, 3, 1))
    assert march.list_managed()[job].content_hash != wanted.content_hash
    march.apply([wanted])
    text = crontab.read_text("utf-8", "replace")
    assert ":renew:2027-04-01 name=" in text
    assert "*/30 2 7 2 */7" not in text  # the next change falls on January 23, 2028
    assert "*/30 2 23 1 */7" in text
    assert march.list_managed()[job].content_hash == wanted.content_hash
    assert crontab.read_bytes().startswith(SEED + b"\n")


def test_a_conversion_says_until_when_a_dated_plan_holds(driver: CronDriver) -> None:
    converter = CronConverter(
        cron_tz=False, machine_zone="Africa/Casablanca", today=date(2027, 2, 10)
    )
    native = converter.plan("0 3 * * *", "Europe/Berlin").native().native
    assert (native["validUntil"], native["renewOn"]) == ("2028-01-28", "2027-03-01")
    # Lines for every year: planned again each January, they reach six years ahead.
    converter = CronConverter(cron_tz=False, machine_zone="UTC", today=date(2027, 2, 10))
    native = converter.plan("30 2 * * *", "Europe/Berlin").native().native
    assert (native["validUntil"], native["renewOn"]) == ("2033-01-04", "2028-01-01")
    assert "validUntil" not in converter.plan("30 2 * * *", "UTC").native().native


def test_the_machine_zone_under_another_name_needs_nothing(driver: CronDriver) -> None:
    assert driver.convert("0 2 * * *", "Etc/UTC").native == {"line": "0 2 * * *", "environment": []}


def test_reboot_jobs_ignore_the_zone(driver: CronDriver) -> None:
    assert driver.convert("@reboot", "Asia/Tokyo").native == {"line": "@reboot", "environment": []}


def test_macros_are_written_expanded(driver: CronDriver) -> None:
    assert driver.convert("@weekly", None).native["line"] == "0 0 * * 0"


def test_with_cron_tz_another_zone_gets_its_own_line_below_every_foreign_line(
    crontab: Path,
) -> None:
    driver = CronDriver(FileCrontab(crontab), cron_tz=True, machine_zone="UTC")
    tokyo, local = uuid4(), uuid4()
    driver.apply([entry(tokyo, timezone="Asia/Tokyo"), entry(local)])
    lines = crontab.read_text(errors="surrogateescape").splitlines()
    assert lines[-2:] == [
        "CRON_TZ=Asia/Tokyo",
        f"0 2 * * * {AGENT} run-job {tokyo} --state-dir '/srv/crontopus state'",
    ]
    assert "CRON_TZ" not in "".join(lines[:-3])
    assert driver.convert("0 2 * * *", "Asia/Tokyo").native["environment"] == ["CRON_TZ=Asia/Tokyo"]


def test_with_cron_tz_a_foreign_cron_tz_line_cannot_move_a_machine_zone_job(tmp_path: Path) -> None:
    path = tmp_path / "crontab"
    path.write_text("CRON_TZ=America/New_York\n0 1 * * * theirs\n")
    driver = CronDriver(FileCrontab(path, user="carol"), cron_tz=True, machine_zone="Europe/Paris")
    job = uuid4()
    driver.apply([entry(job, timezone="Europe/Paris")])
    assert "CRON_TZ=Europe/Paris\n0 2 * * * " in path.read_text()
    (foreign,) = driver.list_foreign()
    assert foreign.timezone == "America/New_York"


def test_a_command_without_the_job_uuid_is_refused(driver: CronDriver) -> None:
    job = uuid4()
    bad = DesiredEntry.build(job, "x", "* * * * *", None, ["/bin/true"])
    with pytest.raises(PermanentDriverError, match="must contain the job UUID"):
        driver.apply([bad])


def test_a_crontab_changed_during_apply_is_not_overwritten(crontab: Path) -> None:
    class RacingCrontab(FileCrontab):
        reads = 0

        def read(self) -> str:
            self.reads += 1
            if self.reads == 2:
                self.path.write_text("# someone else's edit\n")
            return super().read()

    driver = CronDriver(RacingCrontab(crontab), cron_tz=False, machine_zone="UTC")
    with pytest.raises(RetryableDriverError, match="retry"):
        driver.apply([entry(uuid4())])
    assert crontab.read_text() == "# someone else's edit\n"


def test_options_choose_a_file_or_a_user_crontab(tmp_path: Path) -> None:
    by_file = CronDriver.from_options({"crontab_file": str(tmp_path / "c"), "cron_tz": "no"})
    assert isinstance(by_file.backend, FileCrontab)
    assert by_file.available().ok
    by_user = CronDriver.from_options({"user": "alice"})
    assert isinstance(by_user.backend, CommandCrontab)
    assert by_user.backend.user == "alice"


@pytest.mark.parametrize(
    ("options", "message"),
    [({"cron_tz": "maybe"}, "auto, yes or no"), ({"colour": "red"}, "colour")],
)
def test_bad_options_are_refused_with_the_fix(options: dict[str, str], message: str) -> None:
    with pytest.raises(PermanentDriverError, match=message):
        CronDriver.from_options(options)


def test_adopting_removes_every_identical_foreign_line_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "crontab"
    path.write_text(
        "# keep\n0 1 * * * /bin/old\nMAILTO=x\n0  1 * * * /bin/old\n0 1 * * * /bin/other\n"
    )
    driver = CronDriver(FileCrontab(path, user="dave"), cron_tz=False, machine_zone="UTC")
    old = next(item for item in driver.list_foreign() if item.command == "/bin/old")
    job = uuid4()
    driver.adopt(entry(job, "0 1 * * *"), old.fingerprint)
    assert foreign_bytes(path.read_bytes()) == b"# keep\nMAILTO=x\n0 1 * * * /bin/other\n"
    assert [item.command for item in driver.list_foreign()] == ["/bin/other"]
    assert set(driver.list_managed()) == {job}


@pytest.mark.parametrize("machine_zone", ["Not/AZone", "Europe/Paris\nX=1"])
def test_a_bad_machine_zone_is_never_written_into_the_crontab(
    tmp_path: Path, machine_zone: str
) -> None:
    path = tmp_path / "crontab"
    path.write_text("CRON_TZ=America/New_York\n")
    driver = CronDriver(FileCrontab(path), cron_tz=True, machine_zone=machine_zone)
    with pytest.raises(ConversionRefused, match="machine's zone"):
        driver.apply([entry(uuid4(), timezone=None)])
    assert path.read_text() == "CRON_TZ=America/New_York\n"


def test_a_gated_monthly_job_wakes_only_on_the_last_day_of_the_month_before(
    driver: CronDriver,
) -> None:
    # 00:00 on the 1st in Berlin is 22:00 or 23:00 UTC on the last day of the month before.
    lines = driver.convert("0 0 1 * *", "Europe/Berlin").native["lines"]
    assert lines == [
        "0 22-23 31 1,3,5,7-8,10,12 *",
        "0 22-23 28-29 2 *",
        "0 22-23 30 4,6,9,11 *",
    ]


def test_a_gated_and_of_days_and_weekdays_stays_an_and_after_the_day_shift(
    driver: CronDriver,
) -> None:
    # Odd days that are Mondays in Berlin are even days (or a month's end) that are Sundays in
    # UTC; "*/7" (Sunday) starts the weekday field with "*", which keeps cron's AND.
    lines = driver.convert("0 0 */2 * 1", "Europe/Berlin").native["lines"]
    assert all(line.endswith(" */7") for line in lines)
    assert lines[1] == "0 22-23 2,4,6,8,10,12,14,16,18,20,22,24,26,28-29 2 */7"
