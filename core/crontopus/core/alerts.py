"""The `spec.alerts` block of a job manifest: which conditions alert, and through which channels.

Every field is optional; a field the manifest leaves out takes the tenant's default on the
server. So `Alerts` keeps "not said" (None) apart from "said no" (False), and writes back
only what the manifest said, which keeps `parse(dump(m)) == m`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from crontopus.core.limits import MAX_SECONDS
from crontopus.core.namespaces import slug_problem
from crontopus.core.problems import Checker, describe_type, join_path

ALERTS_FIELDS: Final = (
    "onFailure",
    "consecutiveFailures",
    "failureRate",
    "missedRun",
    "maxDuration",
    "minDuration",
    "channels",
)
FAILURE_RATE_FIELDS: Final = ("percent", "window", "minRuns")
MAX_CONSECUTIVE_FAILURES: Final = 1000
MAX_CHANNELS: Final = 16
DEFAULT_MIN_RUNS: Final = 3


@dataclass(frozen=True)
class FailureRate:
    """Alert when at least `percent` of the runs of the last `window` seconds failed."""

    percent: int
    window: int
    min_runs: int = DEFAULT_MIN_RUNS


@dataclass(frozen=True)
class Alerts:
    """A job's alert rules as its manifest states them; None means "the tenant default"."""

    on_failure: bool | None = None
    consecutive_failures: int | None = None
    failure_rate: FailureRate | None = None
    missed_run: bool | None = None
    max_duration: int | None = None
    min_duration: int | None = None
    channels: tuple[str, ...] | None = None


def check_alerts(value: object, c: Checker) -> Alerts | None:
    """Return spec.alerts (None when absent), recording every problem of the block."""
    path = "spec.alerts"
    if value is None:
        return None
    block = c.mapping(value, path, known=ALERTS_FIELDS, required={})
    if block is None:
        return None
    on_failure = _flag(block.get("onFailure"), c, join_path(path, "onFailure"))
    missed_run = _flag(block.get("missedRun"), c, join_path(path, "missedRun"))
    consecutive = _count(
        block.get("consecutiveFailures"),
        c,
        join_path(path, "consecutiveFailures"),
        MAX_CONSECUTIVE_FAILURES,
    )
    max_duration = _seconds(block.get("maxDuration"), c, join_path(path, "maxDuration"))
    min_duration = _seconds(block.get("minDuration"), c, join_path(path, "minDuration"))
    if max_duration is not None and min_duration is not None and min_duration >= max_duration:
        c.add(
            join_path(path, "minDuration"),
            f"{min_duration} is not below maxDuration ({max_duration}): no run could pass both",
        )
    return Alerts(
        on_failure=on_failure,
        consecutive_failures=consecutive,
        failure_rate=_failure_rate(block.get("failureRate"), c, join_path(path, "failureRate")),
        missed_run=missed_run,
        max_duration=max_duration,
        min_duration=min_duration,
        channels=_channels(block.get("channels"), c, join_path(path, "channels")),
    )


def alerts_to_dict(alerts: Alerts) -> dict[str, Any]:
    """Return the block as manifest data, with only the fields the manifest states."""
    data: dict[str, Any] = {}
    if alerts.on_failure is not None:
        data["onFailure"] = alerts.on_failure
    if alerts.consecutive_failures is not None:
        data["consecutiveFailures"] = alerts.consecutive_failures
    if alerts.failure_rate is not None:
        rate = alerts.failure_rate
        data["failureRate"] = {
            "percent": rate.percent,
            "window": rate.window,
            "minRuns": rate.min_runs,
        }
    if alerts.missed_run is not None:
        data["missedRun"] = alerts.missed_run
    if alerts.max_duration is not None:
        data["maxDuration"] = alerts.max_duration
    if alerts.min_duration is not None:
        data["minDuration"] = alerts.min_duration
    if alerts.channels is not None:
        data["channels"] = list(alerts.channels)
    return data


def _flag(value: object, c: Checker, path: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        c.add(path, f"must be true or false (unquoted), not {describe_type(value)}")
        return None
    return value


def _count(value: object, c: Checker, path: str, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        c.add(path, f"must be a whole number such as 3, not {describe_type(value)}")
        return None
    if not 1 <= value <= maximum:
        c.add(path, f"{value} is out of range: use 1 to {maximum}")
        return None
    return value


def _seconds(value: object, c: Checker, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        hint = ' (units such as "1h" are not supported)' if isinstance(value, str) else ""
        c.add(
            path, f"must be a whole number of seconds such as 600, not {describe_type(value)}{hint}"
        )
        return None
    if not 1 <= value <= MAX_SECONDS:
        c.add(path, f"{value} is out of range: use 1 to {MAX_SECONDS} seconds (31 days)")
        return None
    return value


def _failure_rate(value: object, c: Checker, path: str) -> FailureRate | None:
    if value is None:
        return None
    block = c.mapping(
        value,
        path,
        known=FAILURE_RATE_FIELDS,
        required={
            "percent": "add the share of failed runs that alerts, e.g. percent: 50",
            "window": "add the window in seconds the share is taken over, e.g. window: 3600",
        },
    )
    if block is None:
        return None
    percent = _count(block.get("percent"), c, join_path(path, "percent"), 100)
    window = _seconds(block.get("window"), c, join_path(path, "window"))
    min_runs = _count(block.get("minRuns"), c, join_path(path, "minRuns"), 100_000)
    if percent is None or window is None:
        return None
    return FailureRate(percent, window, DEFAULT_MIN_RUNS if min_runs is None else min_runs)


def _channels(value: object, c: Checker, path: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        c.add(path, f'must be a list of channel names such as ["ops"], not {describe_type(value)}')
        return None
    if len(value) > MAX_CHANNELS:
        c.add(path, f"names {len(value)} channels, more than {MAX_CHANNELS}")
    names: list[str] = []
    for index, name in enumerate(value):
        problem = slug_problem(name, "a channel name")
        if problem is not None:
            c.add(join_path(path, index), problem)
        elif name in names:
            c.add(join_path(path, index), f'"{name}" is listed twice: keep one')
        else:
            names.append(str(name))
    return tuple(names)
