"""A driver's tool that hangs is a retryable failure; one that cannot start is a permanent one."""

from __future__ import annotations

import sys

import pytest

from crontopus.drivers.commands import SubprocessRunner
from crontopus.drivers.errors import PermanentDriverError, RetryableDriverError


def test_a_command_runs_without_a_shell_and_its_output_is_captured() -> None:
    result = SubprocessRunner().run([sys.executable, "-c", "print('a;b')"])
    assert (result.returncode, result.stdout.strip()) == (0, b"a;b")


def test_a_command_that_outlives_its_time_limit_is_retryable() -> None:
    with pytest.raises(RetryableDriverError, match="did not finish within 0s"):
        SubprocessRunner(timeout=0.2).run([sys.executable, "-c", "import time; time.sleep(5)"])


def test_a_tool_that_does_not_exist_is_a_permanent_failure() -> None:
    with pytest.raises(PermanentDriverError, match="cannot run /nonexistent/systemctl"):
        SubprocessRunner().run(["/nonexistent/systemctl", "--version"])
