"""What every subcommand shares: exit codes, output for people, logging."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from crontopus.agent.config import AgentConfig

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3


def stop_on_closed_pipe() -> int:
    """End quietly when a reader such as `head` closed standard output early."""
    # Python flushes stdout again at exit and would print a second traceback: point it at
    # /dev/null first (the recipe of the Python docs on SIGPIPE).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


def human(value: object) -> str:
    """Render a value for people: yes/no, "-" for nothing, lists and mappings as words."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(human(item) for item in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={human(v)}" for k, v in value.items()) or "none"
    return str(value)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_COUNT = 5


def _setup_logging(config: AgentConfig, log_file: str | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        from logging.handlers import RotatingFileHandler

        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            RotatingFileHandler(
                log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_COUNT, encoding="utf-8"
            )
        )
    logging.basicConfig(level=config.log_level.upper(), format=LOG_FORMAT, handlers=handlers)
