"""The driver contract, checked the same way against the fake driver and the cron driver."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from crontopus.drivers import (
    ConversionRefused,
    DesiredEntry,
    Driver,
    ForeignEntry,
    PermanentDriverError,
    foreign_fingerprint,
)
from crontopus.drivers.cron import CronDriver, FileCrontab
from crontopus.drivers.fake import FakeDriver

AGENT = "/usr/local/bin/crontopus-agent"
FOREIGN_SCHEDULE = "5 4 * * 1"
FOREIGN_COMMAND = "/usr/local/bin/backup --full"


class CountingCrontab(FileCrontab):
    """A file crontab that counts its writes, so a no-op can be proved to write nothing."""

    writes = 0

    def write(self, text: str) -> None:
        self.writes += 1
        super().write(text)


@dataclass
class Harness:
    driver: Driver
    writes: Callable[[], int]


def fake_harness(tmp_path: Path) -> Harness:
    foreign = ForeignEntry.build("fake", FOREIGN_SCHEDULE, FOREIGN_COMMAND, "alice")
    driver = FakeDriver(foreign=[foreign])
    return Harness(driver, lambda: driver.writes)


def cron_harness(tmp_path: Path) -> Harness:
    path = tmp_path / "crontab"
    path.write_text(f"# theirs\nMAILTO=ops\n{FOREIGN_SCHEDULE} {FOREIGN_COMMAND}\n")
    backend = CountingCrontab(path, user="alice")
    driver = CronDriver(backend, cron_tz=True, machine_zone="UTC")
    return Harness(driver, lambda: backend.writes)


@pytest.fixture(params=[fake_harness, cron_harness], ids=["fake", "cron"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    build: Callable[[Path], Harness] = request.param
    return build(tmp_path)


def entry(
    schedule: str = "0 2 * * *",
    *,
    job_id: UUID | None = None,
    name: str = "backup",
    timezone: str | None = "UTC",
) -> DesiredEntry:
    job_id = job_id or uuid4()
    return DesiredEntry.build(job_id, name, schedule, timezone, [AGENT, "run-job", str(job_id)])


def test_it_says_it_is_available(harness: Harness) -> None:
    availability = harness.driver.available()
    assert availability.ok
    assert isinstance(availability.reason, str)


def test_it_lists_an_applied_entry_by_job_uuid_with_its_content_hash(harness: Harness) -> None:
    wanted = entry()
    harness.driver.apply([wanted])
    installed = harness.driver.list_managed()
    assert set(installed) == {wanted.job_id}
    assert installed[wanted.job_id].content_hash == wanted.content_hash
    assert installed[wanted.job_id].native


def test_a_second_identical_apply_writes_nothing(harness: Harness) -> None:
    wanted = [entry(), entry("@reboot"), entry("*/5 * * * *", name="Ünïcode name")]
    harness.driver.apply(wanted)
    writes = harness.writes()
    harness.driver.apply(wanted)
    harness.driver.apply(list(reversed(wanted)))
    assert harness.writes() == writes


def test_it_updates_an_entry_in_place_by_uuid(harness: Harness) -> None:
    first = entry("0 2 * * *")
    harness.driver.apply([first])
    changed = entry("30 3 * * *", job_id=first.job_id)
    harness.driver.apply([changed])
    installed = harness.driver.list_managed()
    assert list(installed) == [first.job_id]
    assert installed[first.job_id].content_hash == changed.content_hash


def test_apply_leaves_entries_it_was_not_given_alone(harness: Harness) -> None:
    kept, other = entry(), entry("15 * * * *")
    harness.driver.apply([kept])
    harness.driver.apply([other])
    assert set(harness.driver.list_managed()) == {kept.job_id, other.job_id}


def test_remove_drops_only_the_named_entries(harness: Harness) -> None:
    gone, kept = entry(), entry("15 * * * *")
    harness.driver.apply([gone, kept])
    harness.driver.remove([gone.job_id])
    assert set(harness.driver.list_managed()) == {kept.job_id}


def test_removing_an_unknown_job_writes_nothing(harness: Harness) -> None:
    harness.driver.apply([entry()])
    writes = harness.writes()
    harness.driver.remove([uuid4()])
    harness.driver.remove([])
    assert harness.writes() == writes


def test_it_lists_foreign_entries_with_a_stable_fingerprint(harness: Harness) -> None:
    harness.driver.apply([entry()])
    foreign = harness.driver.list_foreign()
    assert [(item.schedule, item.command, item.user) for item in foreign] == [
        (FOREIGN_SCHEDULE, FOREIGN_COMMAND, "alice")
    ]
    assert foreign[0].driver == harness.driver.name
    assert foreign[0].fingerprint == foreign_fingerprint(FOREIGN_SCHEDULE, FOREIGN_COMMAND, "alice")


def test_managed_entries_are_never_listed_as_foreign(harness: Harness) -> None:
    wanted = entry()
    harness.driver.apply([wanted])
    assert all(str(wanted.job_id) not in item.command for item in harness.driver.list_foreign())


def test_convert_returns_json_able_native_form_named_after_the_driver(harness: Harness) -> None:
    native = harness.driver.convert("@weekly", None)
    assert native.driver == harness.driver.name
    assert json.loads(json.dumps(native.to_json())) == native.to_json()


def test_convert_accepts_reboot(harness: Harness) -> None:
    assert harness.driver.convert("@reboot", "Asia/Tokyo").driver == harness.driver.name


@pytest.mark.parametrize(
    "schedule", ["5/15 * * * *", "0 0 30 2 *", "* * * *", "0 0 L * *", "@fortnightly"]
)
def test_convert_refuses_what_cron_would_not_run(harness: Harness, schedule: str) -> None:
    with pytest.raises(ConversionRefused) as refused:
        harness.driver.convert(schedule, None)
    assert refused.value.reason
    assert isinstance(refused.value, PermanentDriverError)
    assert not refused.value.retryable


def test_convert_refuses_an_unknown_time_zone(harness: Harness) -> None:
    with pytest.raises(ConversionRefused, match="Mars/Olympus"):
        harness.driver.convert("0 2 * * *", "Mars/Olympus")


def test_apply_refuses_a_bad_entry_naming_the_job_and_writes_nothing(harness: Harness) -> None:
    good, bad = entry(), entry("5/15 * * * *")
    writes = harness.writes()
    with pytest.raises(ConversionRefused) as refused:
        harness.driver.apply([good, bad])
    assert refused.value.job_id == bad.job_id
    assert str(bad.job_id) in str(refused.value)
    assert harness.writes() == writes
    assert harness.driver.list_managed() == {}


def test_an_entry_hash_changes_with_every_field_that_shapes_the_entry() -> None:
    job = uuid4()
    base = entry(job_id=job)
    variants = [
        entry("0 3 * * *", job_id=job),
        entry(job_id=job, name="renamed"),
        entry(job_id=job, timezone="Europe/Berlin"),
        entry(job_id=job, timezone=None),
        DesiredEntry.build(job, "backup", "0 2 * * *", "UTC", [AGENT, "run-job", str(job), "-v"]),
    ]
    assert len({base.content_hash, *(variant.content_hash for variant in variants)}) == 6
    assert entry(job_id=job).content_hash == base.content_hash


@pytest.mark.parametrize("bad_hash", ["", "has space", "x" * 129, "new\nline"])
def test_an_entry_refuses_a_hash_no_marker_could_hold(bad_hash: str) -> None:
    with pytest.raises(ValueError, match="content_hash"):
        DesiredEntry(uuid4(), "x", "* * * * *", None, (AGENT,), bad_hash)


def test_an_entry_refuses_an_empty_command() -> None:
    with pytest.raises(ValueError, match="command"):
        DesiredEntry(uuid4(), "x", "* * * * *", None, (), "abc")


def test_fingerprints_ignore_spacing_and_case_of_the_schedule_only() -> None:
    same = foreign_fingerprint("0 2 * * MON", "/bin/x ", "alice")
    assert foreign_fingerprint("0  2 * *\tmon", "/bin/x", "alice") == same
    assert foreign_fingerprint("0 2 * * mon", "/bin/X", "alice") != same
    assert foreign_fingerprint("0 2 * * mon", "/bin/x", "bob") != same


def test_adopting_replaces_the_foreign_entry_by_the_managed_one(harness: Harness) -> None:
    (foreign,) = harness.driver.list_foreign()
    adopted = entry("5 4 * * 1")
    writes = harness.writes()
    harness.driver.adopt(adopted, foreign.fingerprint)
    assert harness.writes() == writes + 1
    assert harness.driver.list_foreign() == []
    assert set(harness.driver.list_managed()) == {adopted.job_id}
    harness.driver.adopt(adopted, foreign.fingerprint)
    assert harness.writes() == writes + 1


def test_adopting_an_unknown_fingerprint_only_applies_the_entry(harness: Harness) -> None:
    adopted = entry()
    harness.driver.adopt(adopted, "0" * 64)
    assert len(harness.driver.list_foreign()) == 1
    assert set(harness.driver.list_managed()) == {adopted.job_id}


def test_a_driver_that_cannot_adopt_says_so() -> None:
    class Minimal(FakeDriver):
        name = "minimal"
        adopt = Driver.adopt

    with pytest.raises(PermanentDriverError, match="cannot adopt"):
        Minimal().adopt(entry(), "f" * 64)
