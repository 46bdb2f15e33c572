"""The real `systemd-analyze calendar`, used as the oracle for OnCalendar= expressions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")

_ELAPSE = re.compile(
    r"^\s*(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$", re.M
)


class SystemdOracle:
    """Ask the installed systemd what a calendar expression means and whether units parse."""

    def elapses(self, expression: str, base: datetime, iterations: int) -> list[datetime]:
        """Return the elapses systemd computes for one expression after `base`, in UTC."""
        return systemd_elapses(expression, base, iterations)

    def union(self, lines: tuple[str, ...], base: datetime, count: int) -> list[datetime]:
        """Return the first `count` elapses of a timer with several OnCalendar= lines."""
        return union_of_elapses(lines, base, count)

    def verify(self, *paths: str) -> str:
        """Run `systemd-analyze verify` and return what it complained about (empty: clean)."""
        assert SYSTEMD_ANALYZE is not None
        result = subprocess.run(
            [SYSTEMD_ANALYZE, "verify", *paths],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
        return (result.stdout + result.stderr).strip() + (
            f"\nexit {result.returncode}" if result.returncode else ""
        )

    @property
    def version(self) -> int:
        """Return the installed systemd's major version."""
        return systemd_version()


@pytest.fixture
def systemd() -> SystemdOracle:
    """Give a test the installed systemd-analyze, skipping when it is missing."""
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze is not installed")
    return SystemdOracle()


def systemd_elapses(expression: str, base: datetime, iterations: int) -> list[datetime]:
    """Return the elapses systemd computes for one expression after `base`, in UTC."""
    assert SYSTEMD_ANALYZE is not None
    # TZ=UTC makes systemd-analyze print every elapse in UTC, whatever the expression's zone.
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    result = subprocess.run(
        [
            SYSTEMD_ANALYZE,
            "calendar",
            f"--iterations={iterations}",
            f"--base-time=@{int(base.timestamp())}",
            expression,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"systemd-analyze rejected {expression!r}: {result.stderr}"
    return [
        datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        for text in _ELAPSE.findall(result.stdout)
    ]


def union_of_elapses(lines: tuple[str, ...], base: datetime, count: int) -> list[datetime]:
    """Return the first `count` elapses of a timer with several OnCalendar= lines."""
    found: set[datetime] = set()
    for line in lines:
        found.update(systemd_elapses(line, base, count))
    return sorted(found)[:count]


def systemd_version() -> int:
    """Return the installed systemd's major version."""
    assert SYSTEMD_ANALYZE is not None
    out = subprocess.run(
        [SYSTEMD_ANALYZE, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.match(r"systemd (\d+)", out)
    assert match is not None
    return int(match.group(1))
