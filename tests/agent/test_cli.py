"""The installed `crontopus-agent` command starts and reports its version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_agent_command_reports_its_version() -> None:
    command = Path(sys.executable).parent / "crontopus-agent"
    result = subprocess.run([command, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "crontopus-agent 0.1.0"
