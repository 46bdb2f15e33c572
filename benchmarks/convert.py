"""Schedule conversions per second for each driver over a table of tricky expressions.

Every driver converts the same table (steps that do not divide the field, lists, the
day-of-month/day-of-week star rule both ways, month ends, leap days, names, macros, zones with
and without daylight saving). Refusals count: refusing is conversion work too, and the table
holds schedules each driver must refuse. Two figures per driver:

- cold: Crontopus' lru caches are cleared before each pass over the table, so each conversion
  parses its schedule and walks its zone's transitions from scratch (an agent's first
  reconcile, or `crontopus-agent drivers convert`);
- warm: caches kept (an agent's repeated reconciles within one UTC day).

The baseline, measured in the same run, is `crontopus.core.schedule.parse_schedule` alone with
its cache cleared before each pass; the ratio says how many parses one conversion costs.

    .venv/bin/python benchmarks/convert.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from crontopus_driver_crond import CronDDriver
from results import record

from crontopus.core.schedule import parse_schedule
from crontopus.drivers import ConversionRefused, Driver
from crontopus.drivers.cron import CronDriver, FileCrontab
from crontopus.drivers.systemd.driver import SystemdDriver
from crontopus.drivers.taskscheduler.driver import TaskSchedulerDriver

TABLE: tuple[tuple[str, str], ...] = (
    ("* * * * *", "UTC"),
    ("*/7 * * * *", "UTC"),
    ("*/35 * * * *", "UTC"),
    ("5-59/15 * * * *", "UTC"),
    ("1-5,10-12/2,59 * * * *", "UTC"),
    ("0 */5 * * *", "UTC"),
    ("0 */7 * * *", "UTC"),
    ("15,45 9-17 * * 1-5", "UTC"),
    ("0 0 31 * *", "UTC"),
    ("0 0 29 2 *", "UTC"),
    ("0 0 */2 * 1", "UTC"),
    ("0 0 1-7 * */7", "UTC"),
    ("0 0 1-7 * 1", "UTC"),
    ("0 0 13 * 5", "UTC"),
    ("0 22 * * 5-7", "UTC"),
    ("0 6 * JAN-MAR MON-FRI", "UTC"),
    ("30 4 1,15 feb-apr sun", "UTC"),
    ("0 12 2-30/3 * 1,3", "UTC"),
    ("@hourly", "UTC"),
    ("@weekly", "UTC"),
    ("@yearly", "UTC"),
    ("@reboot", "UTC"),
    ("0 12 * * *", "Europe/Berlin"),
    ("30 2 * * *", "Europe/Berlin"),
    ("*/15 * * * *", "Europe/Berlin"),
    ("0 */3 * * *", "Europe/Berlin"),
    ("0 9 * * 1-5", "America/New_York"),
    ("30 1 * * 0", "America/New_York"),
    ("0 0 * * *", "Asia/Kolkata"),
    ("45 5 * * *", "Asia/Kathmandu"),
    ("0 3 * * *", "Australia/Lord_Howe"),
    ("50 2 * * *", "Pacific/Chatham"),
)


@dataclass(frozen=True)
class Measure:
    """Conversions per second of one subject, and how its table pass ended."""

    name: str
    cold_rate: float
    warm_rate: float
    accepted: int
    refused: int


def clear_caches() -> None:
    """Clear the per-schedule and per-zone lru caches of the loaded Crontopus modules.

    Unbounded caches (`functools.cache`: the list of zone names) hold per-process tables that a
    process builds once whatever it converts, so they stay.
    """
    for name, module in list(sys.modules.items()):
        if not name.startswith(("crontopus.", "crontopus_")):
            continue
        for value in list(vars(module).values()):
            info = getattr(value, "cache_info", None)
            if callable(info) and info().maxsize is not None:
                value.cache_clear()


def one_pass(convert: Callable[[str, str], object]) -> tuple[int, int]:
    """Convert the whole table once; return (accepted, refused)."""
    accepted = refused = 0
    for schedule, zone in TABLE:
        try:
            convert(schedule, zone)
        except ConversionRefused:
            refused += 1
        else:
            accepted += 1
    return accepted, refused


def rate(convert: Callable[[str, str], object], seconds: float, *, cold: bool) -> float:
    """Return conversions per second over whole passes lasting at least `seconds` in total."""
    spent = 0.0
    done = 0
    while spent < seconds or done == 0:
        if cold:
            clear_caches()
        started = time.perf_counter()
        one_pass(convert)
        spent += time.perf_counter() - started
        done += len(TABLE)
    return done / spent


def measure(name: str, convert: Callable[[str, str], object], seconds: float) -> Measure:
    """Measure one subject cold and warm, and count its refusals."""
    clear_caches()
    accepted, refused = one_pass(convert)
    cold = rate(convert, seconds, cold=True)
    one_pass(convert)  # fill the caches before the warm runs
    warm = rate(convert, seconds, cold=False)
    return Measure(name, cold, warm, accepted, refused)


def parse_only(schedule: str, zone: str) -> object:
    """Parse a schedule (the baseline); the zone is ignored."""
    return parse_schedule(schedule)


@contextmanager
def drivers() -> Iterator[list[Driver]]:
    """Build each driver the way `drivers convert` would, on throwaway paths."""
    with tempfile.TemporaryDirectory(prefix="crontopus-bench-convert-") as scratch:
        base = Path(scratch)
        (base / "cron.d").mkdir()
        yield [
            CronDriver(FileCrontab(base / "crontab"), cron_tz=True, machine_zone="UTC"),
            SystemdDriver(base / "units", systemd_version=252),
            # No machine zone: previews a machine in each job's own zone, DST checks included.
            TaskSchedulerDriver(platform="win32"),
            CronDDriver(base / "cron.d", cron_tz=True, machine_zone="UTC"),
        ]


def main() -> None:
    """Measure the baseline and every driver, then print rates and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per figure (s)")
    args = parser.parse_args()
    seconds: float = args.seconds

    baseline = measure("parse_schedule (baseline)", parse_only, seconds)
    with drivers() as subjects:
        results = [measure(driver.name, driver.convert, seconds) for driver in subjects]

    print(f"Crontopus schedule conversion: {len(TABLE)} schedules, {seconds:g} s per figure")
    print(
        f"{'subject':<28} {'ok':>3} {'refused':>7} {'cold /s':>10} {'cost':>7}"
        f" {'warm /s':>10} {'cost':>7}"
    )
    for result in [baseline, *results]:
        # Cost: time of one conversion in parses of the same schedule (cold baseline).
        cold_cost = baseline.cold_rate / result.cold_rate
        warm_cost = baseline.cold_rate / result.warm_rate
        print(
            f"{result.name:<28} {result.accepted:>3} {result.refused:>7}"
            f" {result.cold_rate:>10,.0f} {cold_cost:>6.1f}x"
            f" {result.warm_rate:>10,.0f} {warm_cost:>6.1f}x"
        )
    print("cost = time per conversion in cold parse_schedule calls, measured in this run")
    record(
        "convert.py",
        "schedule conversions per second per driver (cold)",
        "—",
        ", ".join(f"{r.name} {r.cold_rate:,.0f}/s" for r in results),
        None,
    )


if __name__ == "__main__":
    main()
