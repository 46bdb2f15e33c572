"""`service`: installing the agent as a system service."""

from __future__ import annotations

import argparse

from crontopus.agent.statedir import StateDir


def service(state: StateDir, args: argparse.Namespace) -> int:
    """Install, remove, start, stop or show the agent's service."""
    from crontopus.agent.service.command import service as act

    return act(state, args)
