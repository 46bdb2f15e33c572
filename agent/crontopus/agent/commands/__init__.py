"""The `crontopus-agent` subcommands other than `run-job` (see cli.py for that fast path).

One module per command family; `dispatch` parses the command line and runs one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from crontopus.agent.commands.driver_tools import drivers
from crontopus.agent.commands.enrollment import enroll, unenroll
from crontopus.agent.commands.inspection import status, validate_config
from crontopus.agent.commands.output import EXIT_ERROR, EXIT_OK, EXIT_USAGE, stop_on_closed_pipe
from crontopus.agent.commands.parser import build_parser
from crontopus.agent.commands.scheduling import run, run_job, sync
from crontopus.agent.commands.service import service
from crontopus.agent.errors import UsageError
from crontopus.agent.statedir import StateDir, resolve_state_dir
from crontopus.core.errors import CrontopusError


def dispatch(argv: Sequence[str]) -> int:
    """Parse `argv` and run the subcommand."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors end here
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    state = StateDir(resolve_state_dir(args.state_dir))
    handlers = {
        "enroll": enroll,
        "run": run,
        "sync": sync,
        "status": status,
        "drivers": drivers,
        "validate-config": validate_config,
        "run-job": run_job,
        "unenroll": unenroll,
        "service": service,
    }
    try:
        code = handlers[args.command](state, args)
        sys.stdout.flush()  # inside the try: a closed pipe must surface here, not at exit
        return code
    except UsageError as exc:
        print(f"crontopus-agent {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CrontopusError as exc:  # agent and driver errors say what to fix; no traceback
        print(f"crontopus-agent {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return stop_on_closed_pipe()
