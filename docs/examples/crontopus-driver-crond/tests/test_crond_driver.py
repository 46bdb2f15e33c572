"""The crond example driver on a temporary cron.d directory: files, markers, discovery, refusals."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from crontopus_driver_crond import CronDDriver, file_name, parse_system_job

from crontopus.core.schedule import next_fire_times, parse_schedule
from crontopus.drivers import (
    ConversionRefused,
    DesiredEntry,
    PermanentDriverError,
    foreign_fingerprint,
)

JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
OTHER = UUID("6ba7b810-9dad-41d1-80b4-00c04fd430c8")
AGENT = "/usr/local/bin/crontopus-agent"
FOREIGN = (
    "# nightly jobs of the backup team\n"
    "MAILTO=ops@example.com\n"
    "30 1 * * * backup /usr/local/bin/backup --full\n"
    "CRON_TZ=America/New_York\n"
    "@weekly   root  /usr/sbin/logrotate /etc/logrotate.conf\n"
    "\n"
)


def entry(
    job_id: UUID = JOB,
    schedule: str = "0 2 * * *",
    timezone: str | None = "UTC",
    *,
    name: str = "backup/nightly",
    argv: list[str] | None = None,
) -> DesiredEntry:
    command = argv if argv is not None else [AGENT, "run-job", str(job_id)]
    return DesiredEntry.build(job_id, name, schedule, timezone, command)


@pytest.fixture
def cron_d(tmp_path: Path) -> Path:
    directory = tmp_path / "cron.d"
    directory.mkdir()
    return directory


@pytest.fixture
def driver(cron_d: Path) -> CronDDriver:
    return CronDDriver(cron_d, user="root", cron_tz=True, machine_zone="UTC")


def test_it_writes_one_file_per_job_in_system_crontab_format(
    driver: CronDDriver, cron_d: Path
) -> None:
    job = entry()
    driver.apply([job])
    path = cron_d / f"crontopus-{JOB}"
    assert path.read_text() == (
        f"# crontopus:job={JOB} hash={job.content_hash} name=backup/nightly\n"
        f"0 2 * * * root {AGENT} run-job {JOB}\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in cron_d.iterdir()) == [f"crontopus-{JOB}"]


def test_file_names_are_ones_debian_cron_reads() -> None:
    # Debian's cron skips cron.d files with anything but letters, digits, "_" and "-" in the name.
    assert all(char.isalnum() or char in "_-" for char in file_name(JOB))


def test_a_job_in_another_zone_gets_its_own_cron_tz_line(driver: CronDDriver, cron_d: Path) -> None:
    driver.apply([entry(timezone="Europe/Berlin")])
    lines = (cron_d / f"crontopus-{JOB}").read_text().splitlines()
    assert lines[1:] == ["CRON_TZ=Europe/Berlin", f"0 2 * * * root {AGENT} run-job {JOB}"]


def test_the_user_field_comes_from_the_options(cron_d: Path) -> None:
    driver = CronDDriver.from_options({"directory": str(cron_d), "user": "nobody"})
    driver.apply([entry()])
    assert f"0 2 * * * nobody {AGENT}" in (cron_d / f"crontopus-{JOB}").read_text()


def test_the_defaults_are_etc_cron_d_and_root() -> None:
    driver = CronDDriver.from_options({})
    assert (driver.directory, driver.user) == (Path("/etc/cron.d"), "root")


def test_it_lists_what_it_manages_with_the_content_hash(driver: CronDDriver) -> None:
    driver.apply([entry(), entry(OTHER, "*/5 * * * *")])
    managed = driver.list_managed()
    assert set(managed) == {JOB, OTHER}
    assert managed[JOB].content_hash == entry().content_hash
    assert managed[JOB].native.endswith(f"run-job {JOB}\n")


def test_a_second_apply_with_nothing_changed_writes_nothing(
    driver: CronDDriver, cron_d: Path
) -> None:
    driver.apply([entry()])
    before = (cron_d / f"crontopus-{JOB}").stat()
    driver.apply([entry()])
    after = (cron_d / f"crontopus-{JOB}").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_changed_schedule_rewrites_only_that_file(driver: CronDDriver, cron_d: Path) -> None:
    driver.apply([entry(), entry(OTHER)])
    other_before = (cron_d / f"crontopus-{OTHER}").stat().st_ino
    driver.apply([entry(schedule="30 3 * * *"), entry(OTHER)])
    assert f"30 3 * * * root {AGENT}" in (cron_d / f"crontopus-{JOB}").read_text()
    assert (cron_d / f"crontopus-{OTHER}").stat().st_ino == other_before


def test_an_entry_edited_by_hand_is_put_back(driver: CronDDriver, cron_d: Path) -> None:
    driver.apply([entry()])
    path = cron_d / f"crontopus-{JOB}"
    original = path.read_text()
    path.write_text(original.replace("0 2 * * *", "0 4 * * *"))
    driver.apply([entry()])
    assert path.read_text() == original


def test_remove_deletes_only_managed_files_and_ignores_unknown_ids(
    driver: CronDDriver, cron_d: Path
) -> None:
    driver.apply([entry(), entry(OTHER)])
    driver.remove([JOB, UUID(int=7)])
    assert set(driver.list_managed()) == {OTHER}
    assert not (cron_d / f"crontopus-{JOB}").exists()


def test_a_file_with_our_name_but_no_marker_is_never_written_or_deleted(
    driver: CronDDriver, cron_d: Path
) -> None:
    theirs = cron_d / f"crontopus-{JOB}"
    theirs.write_text("0 5 * * * root /usr/bin/true\n")
    with pytest.raises(PermanentDriverError, match="has no Crontopus marker"):
        driver.apply([entry()])
    driver.remove([JOB])
    assert theirs.read_text() == "0 5 * * * root /usr/bin/true\n"
    assert driver.list_managed() == {}


def test_foreign_files_are_listed_for_discovery_and_never_changed(
    driver: CronDDriver, cron_d: Path
) -> None:
    foreign = cron_d / "backup"
    foreign.write_bytes(FOREIGN.encode() + b"# caf\xe9 in latin-1\n")
    before = foreign.read_bytes()
    (cron_d / "backup.dpkg-old").write_text("* * * * * root /bin/false\n")
    (cron_d / ".placeholder").write_text("* * * * * root /bin/false\n")
    driver.apply([entry()])
    found = driver.list_foreign()
    assert [(f.schedule, f.user, f.command, f.timezone) for f in found] == [
        ("30 1 * * *", "backup", "/usr/local/bin/backup --full", None),
        ("@weekly", "root", "/usr/sbin/logrotate /etc/logrotate.conf", "America/New_York"),
    ]
    assert found[0].fingerprint == foreign_fingerprint(
        "30 1 * * *", "/usr/local/bin/backup --full", "backup"
    )
    assert found[1].native == "@weekly   root  /usr/sbin/logrotate /etc/logrotate.conf"
    assert {f.driver for f in found} == {"crond"}
    driver.remove([JOB])
    assert foreign.read_bytes() == before


def test_a_cron_that_ignores_cron_tz_reports_foreign_jobs_without_a_zone(cron_d: Path) -> None:
    (cron_d / "backup").write_text(FOREIGN)
    driver = CronDDriver(cron_d, cron_tz=False, machine_zone="UTC")
    assert [f.timezone for f in driver.list_foreign()] == [None, None]


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        ("0 2 * * * root /bin/true\n", ("0 2 * * *", "root", "/bin/true")),
        ("@reboot  www-data  /srv/start --now", ("@reboot", "www-data", "/srv/start --now")),
        ("*/5 9-17 * jan-mar mon-fri alice a b", ("*/5 9-17 * jan-mar mon-fri", "alice", "a b")),
        ("# 0 2 * * * root /bin/true", None),
        ("SHELL=/bin/bash", None),
        ("0 2 * * * root", None),
        ("", None),
    ],
)
def test_it_reads_system_crontab_lines(line: str, parts: tuple[str, str, str] | None) -> None:
    job = parse_system_job(line)
    assert (None if job is None else (job.schedule, job.user, job.command)) == parts


# --- conversion --------------------------------------------------------------------------------

TRICKY = [
    "*/35 * * * *",
    "*/7 */5 * * *",
    "5,10,50-55 1-3,22 * * *",
    "0 0 */2 * 1",
    "0 0 1-7 * */7",
    "0 0 1-7 * 1",
    "0 12 31 * *",
    "0 0 29 2 *",
    "15 6 * jan,jul sun,wed",
    "0 0 * * 7",
    "@yearly",
    "@monthly",
    "@weekly",
    "@daily",
    "@hourly",
]


@pytest.mark.parametrize("schedule", TRICKY)
def test_the_written_line_fires_exactly_when_the_schedule_does(
    driver: CronDDriver, schedule: str
) -> None:
    line = driver.convert(schedule, "Europe/Berlin").native["line"]
    after = datetime(2027, 1, 1, tzinfo=UTC)
    written = next_fire_times(line, "Europe/Berlin", after, 200)
    assert written == next_fire_times(schedule, "Europe/Berlin", after, 200)
    assert not line.startswith("@") or line == "@reboot"


def test_macros_are_written_expanded_so_weekly_stays_sunday(driver: CronDDriver) -> None:
    assert driver.convert("@weekly", None).native["line"] == "0 0 * * 0"
    assert parse_schedule("0 0 * * 0").weekdays == frozenset({0})


def test_convert_shows_the_line_the_user_and_the_whole_file(driver: CronDDriver) -> None:
    native = driver.convert("0 2 * * *", "Asia/Tokyo").to_json()
    assert native["driver"] == "crond"
    assert native["native"]["line"] == "0 2 * * *"
    assert native["native"]["user"] == "root"
    assert native["native"]["environment"] == ["CRON_TZ=Asia/Tokyo"]
    assert native["native"]["file"].endswith(
        "CRON_TZ=Asia/Tokyo\n0 2 * * * root /usr/local/bin/crontopus-agent run-job"
        " 00000000-0000-0000-0000-000000000000\n"
    )


def test_reboot_is_kept_and_needs_no_zone(driver: CronDDriver) -> None:
    native = driver.convert("@reboot", "Europe/Berlin").native
    assert (native["line"], native["environment"]) == ("@reboot", [])


# --- refusals, one by one ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "timezone", "reason"),
    [
        ("5/15 * * * *", None, "5-59/15"),
        ("0 0 30 2 *", None, "never"),
        ("0 0 * * * *", None, "6 fields where cron has 5"),
        ("0 0 L * *", None, "L"),
        ("0 2 * * *", "Mars/Olympus_Mons", "Mars/Olympus_Mons"),
    ],
)
def test_it_refuses_what_cron_cannot_run_with_the_reason(
    driver: CronDDriver, schedule: str, timezone: str | None, reason: str
) -> None:
    with pytest.raises(ConversionRefused) as refused:
        driver.convert(schedule, timezone)
    assert reason in refused.value.reason


def test_it_gates_a_foreign_zone_on_a_cron_without_cron_tz(cron_d: Path) -> None:
    driver = CronDDriver(cron_d, cron_tz=False, machine_zone="UTC")
    driver.apply([entry(schedule="30 2 * * *", timezone="Europe/Berlin")])
    (written,) = cron_d.iterdir()
    lines = [line for line in written.read_text().splitlines() if str(JOB) in line][1:]
    assert [line.split(" root ")[0] for line in lines] == ["30 0-1 * * *", "0 1 25-31 3 */7"]
    assert all(line.endswith(" --gate") for line in lines)
    assert set(driver.list_managed()) == {JOB}
    assert driver.convert("30 2 * * *", "Europe/Berlin").to_json()["mode"] == "gated"


def test_a_refused_entry_in_a_batch_writes_nothing(driver: CronDDriver, cron_d: Path) -> None:
    with pytest.raises(ConversionRefused, match=str(OTHER)):
        driver.apply([entry(), entry(OTHER, "5/15 * * * *")])
    assert list(cron_d.iterdir()) == []


def test_check_refuses_like_apply_and_names_the_job(driver: CronDDriver, cron_d: Path) -> None:
    with pytest.raises(ConversionRefused) as refused:
        driver.check(entry(schedule="0 0 31 4 *"))
    assert refused.value.job_id == JOB
    assert list(cron_d.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([AGENT, "run-job", str(JOB), "--note", "two\nlines"], "line breaks"),
        ([AGENT, "run-job", "some-other-job"], "must contain the job UUID"),
    ],
)
def test_it_refuses_a_command_a_cron_d_line_cannot_carry(
    driver: CronDDriver, cron_d: Path, argv: list[str], message: str
) -> None:
    with pytest.raises(PermanentDriverError, match=message):
        driver.apply([entry(argv=argv)])
    assert list(cron_d.iterdir()) == []


def test_percent_signs_and_quotes_reach_the_shell_intact(driver: CronDDriver, cron_d: Path) -> None:
    driver.apply([entry(argv=[AGENT, "run-job", str(JOB), "--tag", "50% it's"])])
    assert "'50\\% it'\"'\"'s'" in (cron_d / f"crontopus-{JOB}").read_text()


# --- options and availability --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"crontab_file": "crontab"}, "unknown crontab_file; known are directory, user"),
        ({"cron_tz": "maybe"}, "cron_tz='maybe' must be auto, yes or no"),
        ({"user": "root; rm"}, "user='root; rm' is not a user name"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: dict[str, str], message: str) -> None:
    with pytest.raises(PermanentDriverError, match=message.replace("(", r"\(")):
        CronDDriver.from_options(options)


def test_it_is_available_on_a_writable_directory(driver: CronDDriver) -> None:
    availability = driver.available()
    assert availability.ok
    assert "run as root" in availability.reason


def test_it_is_unavailable_without_the_directory(tmp_path: Path) -> None:
    availability = CronDDriver(tmp_path / "missing").available()
    assert not availability.ok
    assert "set the crond driver option directory" in availability.reason


def test_it_is_unavailable_for_a_user_that_does_not_exist(cron_d: Path) -> None:
    availability = CronDDriver(cron_d, user="nosuchuser42").available()
    assert not availability.ok
    assert "'nosuchuser42' does not exist" in availability.reason


def crontab_has_dry_run() -> bool:
    """Say whether crontab(1) is Debian's, whose -n checks syntax (cronie's -n names a host)."""
    if shutil.which("crontab") is None:
        return False
    usage = subprocess.run(["crontab", "-h"], capture_output=True, text=True, check=False)
    return "dry run" in usage.stdout + usage.stderr


@pytest.mark.skipif(not crontab_has_dry_run(), reason="needs Debian's crontab -n (dry run)")
def test_the_real_cron_parser_accepts_every_written_file(driver: CronDDriver, cron_d: Path) -> None:
    jobs = [entry(UUID(int=index + 1), schedule) for index, schedule in enumerate(TRICKY)]
    jobs.append(entry(OTHER, "0 2 * * *", "Europe/Berlin"))
    driver.apply(jobs)
    for path in cron_d.iterdir():
        # A system line reads as a user line whose command starts with the user name, so
        # crontab -n checks the schedule fields and CRON_TZ lines exactly as cron parses them.
        # Debian's crontab truncates long paths, so it is given the bare name.
        result = subprocess.run(
            ["crontab", "-n", path.name],
            capture_output=True,
            text=True,
            check=False,
            cwd=cron_d,
            env={**os.environ, "LC_ALL": "C"},
        )
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
