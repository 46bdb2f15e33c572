"""Seeded random schedules: the expanded triggers against the core evaluator, native or gated."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import iter_fire_times, parse_schedule
from crontopus.drivers.taskscheduler.convert import convert_schedule
from crontopus.drivers.taskscheduler.expand import expand

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


BASE = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("expression", random_schedules(2027, 80))
@pytest.mark.parametrize(
    "zone",
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
    ],
)
def test_a_random_schedule_expands_like_cron_natively_or_gated(expression: str, zone: str) -> None:
    conversion = convert_schedule(expression, zone, machine_timezone=zone, now=BASE)
    end = BASE + timedelta(days=400)
    fires = (t.astimezone(UTC) for t in iter_fire_times(expression, zone, BASE))
    expected = list(itertools.islice(itertools.takewhile(lambda t: t <= end, fires), 3000))
    end = expected[-1] if len(expected) == 3000 else end
    expansion = expand(conversion.triggers, zone, BASE + timedelta(seconds=1), end)
    assert expansion.uncertain == ()
    if conversion.gated:
        # The gate runs exactly the firings that are instants: they must all be there.
        instants = set(expected)
        assert [t for t in expansion.times if t in instants] == expected
    else:
        assert list(expansion.times) == expected
