"""Cron to Task Scheduler triggers: the expanded triggers against the core evaluator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from crontopus.core.schedule import iter_fire_times, parse_schedule
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.taskscheduler.convert import (
    Run,
    build_triggers,
    convert_schedule,
    day_schedules,
    segments,
    time_runs,
)
from crontopus.drivers.taskscheduler.dst import check_dst, check_steady_state
from crontopus.drivers.taskscheduler.expand import expand
from crontopus.drivers.taskscheduler.triggers import (
    ALL_MONTHS,
    PAST_START,
    BootTrigger,
    ByDay,
    ByMonth,
    ByMonthDayOfWeek,
    ByWeek,
    CalendarTrigger,
    Repetition,
    TimeTrigger,
)

BASE = datetime(2026, 2, 20, 10, 17, 30, tzinfo=UTC)
YEAR = timedelta(days=366)

TRICKY = [
    ("* * * * *", "UTC", 200),
    ("*/7 * * * *", "UTC", 200),
    ("*/35 * * * *", "UTC", 100),
    ("5-59/15 * * * *", "UTC", 100),
    ("5-40/15 * * * *", "UTC", 100),
    ("1-5,10-12/2,59 * * * *", "UTC", 200),
    ("0 */5 * * *", "UTC", 100),
    ("0 */7 * * *", "UTC", 100),
    ("15,45 9-17 * * 1-5", "UTC", 200),
    ("0 0 1 * *", "UTC", 40),
    ("0 0 31 * *", "UTC", 40),
    ("0 0 30 * *", "UTC", 40),
    ("0 0 29 2 *", "UTC", 6),
    ("0 0 */2 * *", "UTC", 100),
    ("0 0 */10 * *", "UTC", 60),
    ("0 0 1 */3 *", "UTC", 20),
    ("0 0 1-7 * */7", "UTC", 40),
    ("0 0 1-7 * 1", "UTC", 80),
    ("0 0 1,15 * 5", "UTC", 80),
    ("0 0 13 * 5", "UTC", 80),
    ("0 0 1-31 * 1", "UTC", 40),
    ("0 0 * * 0", "UTC", 20),
    ("0 0 * * 7", "UTC", 20),
    ("0 0 * * 0,7", "UTC", 20),
    ("0 22 * * 5-7", "UTC", 40),
    ("0 0 * * 6,0", "UTC", 40),
    ("0 6 * jan,jul mon", "UTC", 40),
    ("0 6 * JAN-MAR MON-FRI", "UTC", 40),
    ("30 4 1,15 feb-apr sun", "UTC", 40),
    ("0 0 * * */2", "UTC", 40),
    ("0 12 2-30/3 * 1,3", "UTC", 60),
    ("@hourly", "UTC", 50),
    ("@daily", "UTC", 20),
    ("@midnight", "UTC", 20),
    ("@weekly", "UTC", 20),
    ("@monthly", "UTC", 20),
    ("@yearly", "UTC", 5),
    ("@annually", "UTC", 5),
    ("0 12 * * *", "Europe/Berlin", 60),
    ("0 9 * * 1-5", "America/New_York", 60),
    ("0 3 * * 0", "Europe/Berlin", 60),
    ("*/10 * * * *", "Asia/Kolkata", 200),
    ("0 0 1-7 * 1", "Asia/Kathmandu", 40),
    ("45 23 31 12 *", "Pacific/Chatham", 4),
    ("*/15 * * * *", "Europe/Berlin", 4000),
    ("0 */3 * * *", "Europe/Berlin", 400),
    ("*/20 9-17 * * 1-5", "America/New_York", 600),
    ("0 0 * * 1", "Europe/London", 20),
]


@pytest.mark.parametrize(("expression", "zone", "count"), TRICKY)
def test_the_triggers_fire_exactly_when_cron_would(expression: str, zone: str, count: int) -> None:
    conversion = convert_schedule(expression, zone, machine_timezone=zone, now=BASE)
    fires = itertools.islice(iter_fire_times(expression, zone, BASE), count)
    expected = [t.astimezone(UTC) for t in fires]
    expansion = expand(conversion.triggers, zone, BASE + timedelta(seconds=1), expected[-1])
    assert expansion.uncertain == ()
    assert list(expansion.times) == expected


def test_an_even_step_over_every_day_becomes_one_repeating_time_trigger() -> None:
    (trigger,) = build_triggers(parse_schedule("*/15 * * * *"))
    assert trigger == TimeTrigger(PAST_START, Repetition(timedelta(minutes=15)), utc=True)


def test_the_time_trigger_starts_in_the_past_so_it_runs_today() -> None:
    (trigger,) = build_triggers(parse_schedule("5-59/15 * * * *"))
    assert isinstance(trigger, TimeTrigger)
    assert trigger.start == datetime(2000, 1, 1, 0, 5)


def test_a_step_that_does_not_divide_the_hour_becomes_one_hourly_trigger_per_minute() -> None:
    triggers = build_triggers(parse_schedule("*/7 * * * *"))
    assert len(triggers) == 9
    assert all(t.repetition == Repetition(timedelta(hours=1)) for t in triggers)  # type: ignore[union-attr]


def test_a_run_within_the_day_repeats_until_halfway_to_the_next_time() -> None:
    (trigger,) = build_triggers(parse_schedule("*/5 9-17 * * 1-5"))
    assert trigger == CalendarTrigger(
        datetime(2000, 1, 1, 9, 0),
        ByWeek(frozenset({1, 2, 3, 4, 5})),
        Repetition(timedelta(minutes=5), timedelta(hours=8, minutes=57)),
    )


def test_consecutive_minutes_repeat_up_to_the_last_which_the_schema_includes() -> None:
    assert Run(540, 1, 60).repetition() == Repetition(timedelta(minutes=1), timedelta(minutes=59))


def test_segments_split_values_into_evenly_spaced_runs() -> None:
    assert segments([0, 7, 14, 20, 40, 60]) == [Run(0, 7, 3), Run(20, 20, 3)]
    assert segments([5]) == [Run(5, 0, 1)]


def test_it_picks_the_spelling_with_the_fewest_runs() -> None:
    assert time_runs(parse_schedule("1,2,4,8,16,32 * * * *")) == [
        Run(m, 60, 24) for m in (1, 2, 4, 8, 16, 32)
    ]
    assert time_runs(parse_schedule("*/15 9-17 * * *")) == [Run(540, 15, 36)]


def test_cron_day_or_becomes_two_triggers() -> None:
    assert day_schedules(parse_schedule("0 0 1,15 * 5")) == [
        ByMonth(frozenset({1, 15})),
        ByWeek(frozenset({5})),
    ]


def test_a_weekday_in_the_first_week_becomes_a_month_day_of_week_trigger() -> None:
    assert day_schedules(parse_schedule("0 0 1-7 * */7")) == [
        ByMonthDayOfWeek(frozenset({1}), frozenset({0}))
    ]
    assert day_schedules(parse_schedule("0 0 8-21 * */5")) == [
        ByMonthDayOfWeek(frozenset({2, 3}), frozenset({0, 5}))
    ]


def test_weekdays_in_some_months_cover_every_week_and_the_last() -> None:
    assert day_schedules(parse_schedule("0 6 * jan,jul mon")) == [
        ByMonthDayOfWeek(frozenset({1, 2, 3, 4}), frozenset({1}), frozenset({1, 7}), True)
    ]


def test_every_day_is_by_day_and_every_day_of_some_months_is_by_month() -> None:
    assert day_schedules(parse_schedule("0 0 * * *")) == [ByDay(1)]
    assert day_schedules(parse_schedule("0 0 * 2 *")) == [
        ByMonth(frozenset(range(1, 32)), frozenset({2}))
    ]
    assert ByMonth(frozenset({1})).months == ALL_MONTHS


def test_reboot_becomes_a_boot_trigger() -> None:
    conversion = convert_schedule("@reboot", "UTC", now=BASE)
    assert conversion.triggers == (BootTrigger(),)


def test_days_anded_with_weekdays_that_are_not_whole_weeks_run_gated_on_the_weekdays() -> None:
    # Odd days that are Mondays: Task Scheduler cannot AND them, so every Monday wakes.
    with pytest.raises(ConversionRefused, match=r"days \*/2 that are also weekdays 1"):
        day_schedules(parse_schedule("0 0 */2 * 1"))
    conversion = convert_schedule("0 0 */2 * 1", "UTC", now=BASE)
    assert conversion.gated
    assert conversion.triggers == (CalendarTrigger(PAST_START, ByWeek(frozenset({1})), utc=True),)
    assert (conversion.figures.runs_per_day, conversion.figures.wakes_per_day) == (1, 1)


def test_more_than_48_triggers_run_gated_with_fewer() -> None:
    with pytest.raises(ConversionRefused, match="needs 50 Task Scheduler triggers") as refused:
        build_triggers(parse_schedule("1,2,4,8,16,32,33 1,2,4,8,16,17,19 1 * 1"))
    assert "at most 48" in refused.value.reason
    conversion = convert_schedule("1,2,4,8,16,32,33 1,2,4,8,16,17,19 1 * 1", "UTC", now=BASE)
    assert conversion.gated
    assert len(conversion.triggers) <= 48


def test_an_uneven_step_is_spelled_exactly_rather_than_refused() -> None:
    # */7 is :00 :07 ... :56 each hour: one hourly trigger per minute value, at most 9 x 2.
    conversion = convert_schedule("*/7 */5 1,15 * 1-5", "UTC", now=BASE)
    assert len(conversion.triggers) == 10
    end = BASE + timedelta(days=60)
    fires = (t.astimezone(UTC) for t in iter_fire_times("*/7 */5 1,15 * 1-5", "UTC", BASE))
    expected = list(itertools.takewhile(lambda t: t <= end, fires))
    assert list(expand(conversion.triggers, "UTC", BASE, end).times) == expected


def test_a_job_zone_with_dst_on_a_machine_in_another_zone_runs_gated_in_utc() -> None:
    conversion = convert_schedule("0 12 * * *", "Europe/Berlin", machine_timezone="UTC", now=BASE)
    # 10:00 UTC in summer, 11:00 UTC in winter: one start repeating once an hour later.
    assert conversion.gated
    assert conversion.triggers == (
        CalendarTrigger(
            PAST_START + timedelta(hours=10),
            ByDay(1),
            Repetition(timedelta(hours=1), timedelta(minutes=90)),
            utc=True,
        ),
    )
    assert (conversion.figures.runs_per_day, conversion.figures.wakes_per_day) == (1, 2)


def test_a_fixed_offset_zone_on_a_machine_in_another_zone_runs_gated_at_its_instants() -> None:
    conversion = convert_schedule("0 12 * * *", "Asia/Tokyo", machine_timezone="UTC", now=BASE)
    assert conversion.gated
    assert conversion.triggers == (
        CalendarTrigger(PAST_START + timedelta(hours=3), ByDay(1), utc=True),
    )


def test_a_zone_that_keeps_the_machine_clock_is_accepted() -> None:
    assert convert_schedule("0 12 * * *", "Etc/UTC", machine_timezone="UTC", now=BASE)
    assert convert_schedule(
        "0 12 * * *", "Europe/Paris", machine_timezone="Europe/Berlin", now=BASE
    )


def test_a_start_inside_the_spring_gap_is_not_native() -> None:
    triggers = build_triggers(parse_schedule("30 2 * * *"))
    with pytest.raises(ConversionRefused) as refused:
        check_dst(parse_schedule("30 2 * * *"), "Europe/Berlin", triggers, BASE, BASE + YEAR)
    reason = refused.value.reason
    assert "2026-03-29 in Europe/Berlin (clocks jump forward from 02:00 to 03:00)" in reason
    assert "a trigger starts at 2026-03-29 02:30" in reason
    conversion = convert_schedule(
        "30 2 * * *", "Europe/Berlin", machine_timezone="Europe/Berlin", now=BASE
    )
    assert conversion.gated


def test_a_start_in_the_repeated_hour_is_not_native() -> None:
    triggers = build_triggers(parse_schedule("30 2 * 10 *"))
    with pytest.raises(ConversionRefused, match=r"2026-10-25 in Europe/Berlin .*go back"):
        check_dst(parse_schedule("30 2 * 10 *"), "Europe/Berlin", triggers, BASE, BASE + YEAR)
    assert convert_schedule(
        "30 2 * 10 *", "Europe/Berlin", machine_timezone="Europe/Berlin", now=BASE
    ).gated


def test_a_repetition_that_drifts_from_the_wall_clock_runs_gated() -> None:
    # Every two hours from midnight counts elapsed time: after the spring change it lands on
    # odd hours. One trigger per time would need 02:00, which does not exist that day.
    triggers = build_triggers(parse_schedule("0 */2 * * *"), utc_offset=timedelta(hours=1))
    with pytest.raises(ConversionRefused, match="cron runs it at 03-29 04:00"):
        check_dst(parse_schedule("0 */2 * * *"), "Europe/Berlin", triggers, BASE, BASE + YEAR)
    assert convert_schedule(
        "0 */2 * * *", "Europe/Berlin", machine_timezone="Europe/Berlin", now=BASE
    ).gated


def test_it_falls_back_to_one_trigger_per_time_when_repetition_would_drift() -> None:
    conversion = convert_schedule(
        "0 */3 * * *", "Europe/Berlin", machine_timezone="Europe/Berlin", now=BASE
    )
    assert len(conversion.triggers) == 8
    assert all(t.repetition is None for t in conversion.triggers)  # type: ignore[union-attr]


def test_a_quarter_hour_step_survives_dst_because_the_shift_is_whole_quarters() -> None:
    conversion = convert_schedule(
        "*/15 * * * *", "Europe/Berlin", machine_timezone="Europe/Berlin", now=BASE
    )
    assert conversion.triggers == (
        TimeTrigger(PAST_START, Repetition(timedelta(minutes=15)), utc=True),
    )


def test_an_endless_repetition_is_anchored_on_the_zone_wall_clock_grid() -> None:
    conversion = convert_schedule(
        "*/20 * * * *", "Asia/Kathmandu", machine_timezone="Asia/Kathmandu", now=BASE
    )
    # +05:45: 00:15Z is 06:00 in Kathmandu, on the :00/:20/:40 grid.
    assert conversion.triggers == (
        TimeTrigger(datetime(2000, 1, 1, 0, 15), Repetition(timedelta(minutes=20)), utc=True),
    )


def test_the_anchor_is_the_same_in_summer_and_winter() -> None:
    summer = datetime(2026, 7, 1, tzinfo=UTC)
    assert convert_schedule(
        "*/15 * * * *", "Europe/Berlin", machine_timezone="Europe/Berlin", now=summer
    ) == convert_schedule(
        "*/15 * * * *", "Europe/Berlin", machine_timezone="Europe/Berlin", now=BASE
    )


def test_an_hourly_job_in_a_half_hour_zone_is_anchored_at_half_past_utc() -> None:
    conversion = convert_schedule(
        "0 * * * *", "Asia/Kolkata", machine_timezone="Asia/Kolkata", now=BASE
    )
    (trigger,) = conversion.triggers
    assert trigger == TimeTrigger(
        datetime(2000, 1, 1, 0, 30), Repetition(timedelta(hours=1)), utc=True
    )


def test_triggers_off_the_wall_clock_grid_are_refused_by_the_steady_state_check() -> None:
    misaligned = (TimeTrigger(PAST_START, Repetition(timedelta(hours=1)), utc=True),)
    with pytest.raises(ConversionRefused, match=r"would miss runs at 02-20 16:00\+0530"):
        check_steady_state(parse_schedule("0 * * * *"), "Asia/Kolkata", misaligned, BASE)


def test_the_opt_in_accepts_task_scheduler_behaviour() -> None:
    conversion = convert_schedule(
        "30 2 * * *",
        "Europe/Berlin",
        machine_timezone="Europe/Berlin",
        now=BASE,
        accept_dst_difference=True,
    )
    assert len(conversion.triggers) == 1


def test_repetition_limits_follow_the_schema() -> None:
    with pytest.raises(ValueError, match="outside 1 minute to 31 days"):
        Repetition(timedelta(seconds=30))
    with pytest.raises(ValueError, match="outside 1 minute to 31 days"):
        Repetition(timedelta(days=32))
    with pytest.raises(ValueError, match="shorter than its interval"):
        Repetition(timedelta(minutes=10), timedelta(minutes=5))


def test_a_gated_superset_joins_triggers_that_differ_only_in_their_months() -> None:
    # Odd-day Mondays in Berlin are Sundays at 22:00 or 23:00 UTC; the month-end lines of the
    # superset share that weekday and become one weekly trigger.
    conversion = convert_schedule("0 0 */2 * 1", "Europe/Berlin", machine_timezone="UTC", now=BASE)
    assert conversion.triggers == (
        CalendarTrigger(
            PAST_START + timedelta(hours=22),
            ByWeek(frozenset({0})),
            Repetition(timedelta(hours=1), timedelta(minutes=90)),
            utc=True,
        ),
    )
