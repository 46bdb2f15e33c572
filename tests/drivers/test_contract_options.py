"""The job options a DesiredEntry carries: DST opt-in, timeout, concurrency, and `Driver.check`."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from crontopus.core.enums import Concurrency
from crontopus.drivers import ConversionRefused, DesiredEntry
from crontopus.drivers.cron import CronDriver, FileCrontab
from crontopus.drivers.fake import FakeDriver

JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
ARGV = ["/usr/local/bin/crontopus-agent", "run-job", str(JOB)]
# The hash DesiredEntry.build gave before the options existed: agents upgraded past them must
# see every installed entry unchanged, or each would be rewritten once for nothing.
HASH_BEFORE_OPTIONS = "8c232418d34d8d600a572b3dacb2eba5"


def build(**options: object) -> DesiredEntry:
    return DesiredEntry.build(
        JOB,
        "backup/nightly",
        "0 2 * * *",
        "Europe/Berlin",
        ARGV,
        **options,  # type: ignore[arg-type]
    )


def test_an_entry_without_options_keeps_the_hash_it_had_before_options_existed() -> None:
    entry = build()
    assert entry.content_hash == HASH_BEFORE_OPTIONS
    assert (entry.accept_dst_difference, entry.timeout, entry.concurrency) == (False, None, "allow")


def test_options_at_their_defaults_keep_the_hash() -> None:
    assert build(accept_dst_difference=False, timeout=None, concurrency="allow") == build()
    assert build(concurrency=Concurrency.ALLOW).content_hash == HASH_BEFORE_OPTIONS


@pytest.mark.parametrize(
    "options",
    [
        {"accept_dst_difference": True},
        {"timeout": 3600},
        {"concurrency": "forbid"},
        {"accept_dst_difference": True, "timeout": 60, "concurrency": "forbid"},
    ],
)
def test_each_option_set_changes_the_hash(options: dict[str, object]) -> None:
    changed = build(**options)
    assert changed.content_hash != HASH_BEFORE_OPTIONS
    assert build(**options).content_hash == changed.content_hash


def test_different_values_give_different_hashes() -> None:
    hashes = {build(timeout=seconds).content_hash for seconds in (1, 60, 3600)}
    assert len(hashes) == 3


def test_options_cannot_be_confused_with_wrapper_arguments() -> None:
    with_argument = DesiredEntry.build(
        JOB, "n", "0 2 * * *", None, [*ARGV, "timeout=60"], timeout=None
    )
    with_timeout = DesiredEntry.build(JOB, "n", "0 2 * * *", None, ARGV, timeout=60)
    assert with_argument.content_hash != with_timeout.content_hash


def test_the_concurrency_enum_is_stored_as_its_manifest_spelling() -> None:
    entry = build(concurrency=Concurrency.FORBID)
    assert entry.concurrency == "forbid"
    assert type(entry.concurrency) is str


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout: 0 must be whole seconds >= 1 or None"),
        ({"timeout": True}, "timeout: True must be whole seconds"),
        ({"concurrency": "Forbid"}, "concurrency: 'Forbid' must be one of allow, forbid"),
    ],
)
def test_it_rejects_an_option_out_of_range_naming_the_job_and_field(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=f"job {JOB}: {message}"):
        build(**options)


def test_the_default_check_refuses_like_convert_and_names_the_job(tmp_path: Path) -> None:
    driver = CronDriver(FileCrontab(tmp_path / "crontab"), cron_tz=True, machine_zone="UTC")
    bad = DesiredEntry.build(JOB, "n", "5/15 * * * *", None, ARGV)
    with pytest.raises(ConversionRefused, match=f"job {JOB}: .*5-59/15") as refused:
        driver.check(bad)
    assert refused.value.job_id == JOB
    assert not (tmp_path / "crontab").exists()


def test_the_default_check_passes_an_entry_apply_accepts() -> None:
    driver = FakeDriver()
    driver.check(build())
    assert driver.writes == 0
