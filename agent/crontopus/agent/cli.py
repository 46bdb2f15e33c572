"""The `crontopus-agent` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import version


def main(argv: Sequence[str] | None = None) -> int:
    """Run `crontopus-agent`; return the process exit code."""
    parser = argparse.ArgumentParser(
        prog="crontopus-agent",
        description="Reconciles this machine's scheduler from the Crontopus Git repository.",
    )
    parser.add_argument(
        "--version", action="version", version=f"crontopus-agent {version('crontopus-agent')}"
    )
    parser.parse_args(argv)
    parser.print_help()
    return 0
