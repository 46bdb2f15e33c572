"""The managed Git store: bare repositories that Crontopus itself hosts and serves."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from .local import LocalGitStore

HOOK_MODULE = "crontopus.server.gitstore.hook"


class ManagedGitStore(LocalGitStore):
    """Bare repositories under `root` (the server passes `<data dir>/git`), one per tenant.

    Commits are built in memory with pygit2 (no work tree). People and agents reach
    the repositories over Git smart HTTP (see `crontopus.server.gitstore.http`).
    """

    def clone_url(self, tenant: str, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/git/{tenant}/jobs.git"

    def hooks_dir(self) -> Path:
        """Write the push-validation hooks for this Python and return their directory.

        `git receive-pack` runs with `core.hooksPath` pointing here, so the hook is
        always the current server's own code: no per-repository copies to go stale.
        """
        hooks = self.root / ".hooks"
        hooks.mkdir(parents=True, exist_ok=True)
        script = hooks / "pre-receive"
        body = f'#!/bin/sh\nexec "{sys.executable}" -m {HOOK_MODULE}\n'
        if not script.exists() or script.read_text() != body:
            temporary = hooks / f"pre-receive.{os.getpid()}.tmp"
            temporary.write_text(body)
            temporary.chmod(temporary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            os.replace(temporary, script)
        return hooks
