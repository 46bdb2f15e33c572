"""Seeded random schedules: the conversion and the DST model against systemd itself."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import fires_at, load_timezone, next_fire_times, parse_schedule
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.systemd.calendar import convert_schedule, on_calendar_lines
from crontopus.drivers.systemd.dst import systemd_fire_times, unreliable_gap_times
from crontopus.drivers.transitions import zone_transitions
from tests.drivers.systemd.conftest import SystemdOracle

FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def random_field(rng: random.Random, low: int, high: int) -> str:
    kind = rng.choice(["star", "step", "range", "range-step", "list", "single"])
    a, b = sorted(rng.sample(range(low, high + 1), 2))
    if kind == "star":
        return "*"
    if kind == "step":
        return f"*/{rng.randint(2, max(2, (high - low) // 2))}"
    if kind == "range":
        return f"{a}-{b}"
    if kind == "range-step":
        return f"{a}-{b}/{rng.randint(2, 9)}"
    if kind == "list":
        return ",".join(str(v) for v in sorted(rng.sample(range(low, high + 1), 3)))
    return str(a)


def random_schedules(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    found: list[str] = []
    while len(found) < count:
        text = " ".join(random_field(rng, low, high) for low, high in FIELDS)
        try:
            parse_schedule(text)
        except ScheduleError:
            continue
        found.append(text)
    return found


BASE = datetime(2026, 3, 27, 12, 0, 30, tzinfo=UTC)


def gated_elapses(
    systemd: SystemdOracle,
    lines: tuple[str, ...],
    expression: str,
    zone: str,
    base: datetime,
    count: int,
) -> list[datetime]:
    """Return the timer's elapses the run wrapper's gate lets run (a superset wakes <= 4x)."""
    elapses = systemd.union(lines, base, count * 5)
    return [t for t in elapses if fires_at(expression, zone, t)][:count]


@pytest.mark.parametrize("expression", random_schedules(2026, 40))
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_a_random_schedule_fires_like_cron_or_is_refused(
    systemd: SystemdOracle, expression: str, zone: str
) -> None:
    try:
        conversion = convert_schedule(expression, zone, now=BASE - timedelta(days=30))
    except ConversionRefused as refused:
        reason = refused.reason
    else:
        reason = ""
    if reason:
        assert "daylight-saving" in reason
        return
    expected = [t.astimezone(UTC) for t in next_fire_times(expression, zone, BASE, 60)]
    if conversion.gated:
        fired = gated_elapses(systemd, conversion.on_calendar, expression, zone, BASE, 60)
        assert fired == expected
        return
    assert systemd.union(conversion.on_calendar, BASE, len(expected)) == expected


@pytest.mark.parametrize("expression", random_schedules(7, 25))
@pytest.mark.parametrize(
    ("zone", "instant"),
    [
        ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
        ("Pacific/Chatham", datetime(2026, 4, 4, 14, 0, tzinfo=UTC)),
        ("Pacific/Chatham", datetime(2026, 9, 26, 14, 0, tzinfo=UTC)),
        ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, 0, tzinfo=UTC)),
        ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
    ],
)
def test_the_systemd_model_predicts_systemd_around_transitions(
    systemd: SystemdOracle, expression: str, zone: str, instant: datetime
) -> None:
    schedule = parse_schedule(expression)
    (transition,) = zone_transitions(
        load_timezone(zone), instant - timedelta(hours=2), instant + timedelta(hours=2)
    )
    if unreliable_gap_times(schedule, transition):
        # Gated even with the opt-in: the UTC superset, filtered by the gate, is the core's.
        conversion = convert_schedule(schedule, zone, now=BASE, accept_dst_difference=True)
        assert conversion.gated
        base = instant - timedelta(hours=3)
        expected = [t.astimezone(UTC) for t in next_fire_times(expression, zone, base, 20)]
        assert gated_elapses(systemd, conversion.on_calendar, expression, zone, base, 20) == (
            expected
        )
        return
    lines = on_calendar_lines(schedule, zone)
    low, high = instant - timedelta(hours=3), instant + timedelta(hours=3)
    predicted = systemd_fire_times(schedule, zone, low, high)
    # One elapse past the prediction shows both a missing and an extra elapse.
    elapses = systemd.union(lines, low - timedelta(seconds=30), len(predicted) + 1)
    assert [t for t in elapses if t <= high] == predicted
