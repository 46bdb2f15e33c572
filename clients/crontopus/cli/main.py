"""The `crontopus` command: parse, run the handler, turn failures into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import re
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TextIO

from crontopus.cli.errors import CliError, ExitCode, report
from crontopus.cli.invocation import Invocation
from crontopus.cli.parser import PROG, build_parser

Handler = Callable[[Invocation], Coroutine[Any, Any, int | None]]


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run `crontopus`; return the process exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    usage = io.StringIO()
    try:
        # argparse prints help, versions and usage errors itself: send them where asked.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(usage):
            args = parser.parse_args(words)
    except SystemExit as stop:  # argparse: --help and --version exit 0, bad usage exits 2
        err.write(usage.getvalue())
        if (hint := dash_value_hint(usage.getvalue(), words)) is not None:
            print(hint, file=err)
        return int(stop.code or 0) if isinstance(stop.code, int | None) else ExitCode.USAGE
    err.write(usage.getvalue())
    handler_name: str | None = getattr(args, "handler", None)
    if handler_name is None:
        command_parser: argparse.ArgumentParser = args.command_parser
        command_parser.print_help(err)
        return ExitCode.USAGE
    inv = Invocation(
        args,
        os.environ if env is None else env,
        out=out,
        err=err,
        stdin=stdin or sys.stdin,
    )
    try:
        handler = _load(handler_name)
        import asyncio

        return int(asyncio.run(handler(inv)) or ExitCode.OK)
    except CliError as error:
        report(error, err)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error worth a traceback.
        return ExitCode.OK


def dash_value_hint(message: str, words: Sequence[str]) -> str | None:
    """Explain how to give a flag a value that starts with "-" when argparse took it for a flag."""
    found = re.search(r"argument (\S+?)(?:/\S+)?: expected one argument", message)
    if found is None:
        return None
    flag = found.group(1)
    for index, word in enumerate(words[:-1]):
        if word == flag and words[index + 1].startswith("-"):
            value = words[index + 1]
            return (
                f"{PROG}: hint: a value starting with '-' must be attached to its flag: "
                f"write {flag}={value}"
            )
    return None


def _load(name: str) -> Handler:
    module_name, _, function = name.partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), function)
    return handler
