"""Schedules read as sentences, and fall back to the expression when no sentence fits."""

from __future__ import annotations

import pytest

from crontopus.core.describe import describe_schedule


@pytest.mark.parametrize(
    ("schedule", "sentence"),
    [
        ("30 2 * * *", "at 02:30 every day"),
        ("@daily", "at 00:00 every day"),
        ("*/5 * * * *", "every 5 minutes"),
        ("* * * * *", "every minute"),
        ("0 * * * *", "every hour"),
        ("15 * * * *", "every hour at minute 15"),
        ("0 */2 * * *", "every 2 hours at minute 0"),
        ("0 9 * * 1-5", "at 09:00 on weekdays"),
        ("0 9,17 * * mon", "at 09:00 and 17:00 on Monday"),
        ("0 0 1 * *", "at 00:00 on the 1st of every month"),
        ("5 4 1,15 * *", "at 04:05 on the 1st and 15th of every month"),
        ("0 0 29 2 *", "at 00:00 on the 29th of February"),
    ],
)
def test_a_common_schedule_reads_as_a_sentence(schedule: str, sentence: str) -> None:
    assert describe_schedule(schedule) == sentence


def test_the_time_zone_follows_the_sentence() -> None:
    assert describe_schedule("30 2 * * *", "Europe/Berlin") == "at 02:30 every day, Europe/Berlin"


def test_a_schedule_without_a_plain_sentence_is_shown_as_cron() -> None:
    # Day of month OR day of week (cron's star rule) has no short sentence that is right.
    assert describe_schedule("0 2 1 * 1", "UTC") == "cron 0 2 1 * 1, UTC"
    assert describe_schedule("1,2,3,4,5,6 * * * *") == "cron 1,2,3,4,5,6 * * * *"


def test_reboot_and_invalid_schedules_are_not_given_a_time_zone_or_a_sentence() -> None:
    assert describe_schedule("@reboot", "UTC") == "when the machine starts"
    assert describe_schedule("not cron", "UTC") == "not cron"
