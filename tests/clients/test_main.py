"""The installed `crontopus` command starts and reports its version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_cli_reports_its_version() -> None:
    command = Path(sys.executable).parent / "crontopus"
    result = subprocess.run([command, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "crontopus 0.1.0"
