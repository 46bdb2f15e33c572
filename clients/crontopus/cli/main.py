"""The `crontopus` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import version


def main(argv: Sequence[str] | None = None) -> int:
    """Run `crontopus`; return the process exit code."""
    parser = argparse.ArgumentParser(
        prog="crontopus", description="Manage Crontopus jobs, runs and endpoints."
    )
    parser.add_argument(
        "--version", action="version", version=f"crontopus {version('crontopus-cli')}"
    )
    parser.parse_args(argv)
    parser.print_help()
    return 0
