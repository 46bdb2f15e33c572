"""`complete-names jobs|endpoints [PREFIX]`: names for shell completion, cached on disk.

The completion scripts call this hidden command when a job or endpoint name is due. It prints
one name per line (jobs as NAMESPACE/NAME, endpoints by name) and never an error: a shell
completing a word must not print a traceback, so anything that goes wrong (no login, no server)
completes nothing. Names are kept for `CACHE_SECONDS` in the user's cache directory, per server,
tenant and user, so pressing Tab again does not ask the server again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crontopus.cli import operations as ops
from crontopus.cli.invocation import Invocation
from crontopus.cli.pages import collect

CACHE_SECONDS = 60
#: A completion waits at most this long for the server; a slow one completes nothing.
QUERY_SECONDS = 5.0
#: Names fetched at most (a shell lists no more than this usefully).
MOST = 1000
KINDS = ("jobs", "endpoints")


def cache_dir(env: Mapping[str, str]) -> Path:
    """Return the XDG cache directory of Crontopus."""
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "crontopus"


def cache_file(env: Mapping[str, str], kind: str, who: str) -> Path:
    """The cache of `kind` names for one principal (`who`: server, tenant and user or token)."""
    key = hashlib.sha256(f"{kind}\0{who}".encode()).hexdigest()[:20]
    return cache_dir(env) / f"names-{key}.json"


def read_cache(path: Path, now: float) -> list[str] | None:
    """Return the cached names if they are younger than CACHE_SECONDS, else None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not 0 <= now - float(data.get("at", 0)) < CACHE_SECONDS:
        return None
    names = data.get("names")
    return [str(n) for n in names] if isinstance(names, list) else None


def write_cache(path: Path, names: list[str], now: float) -> None:
    """Store names readable by the user alone (they name the tenant's jobs and machines)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump({"at": now, "names": names}, file)
        temporary.replace(path)
    except OSError:
        pass  # no cache this time; the next Tab asks the server again


async def _fetch(inv: Invocation, kind: str) -> list[str]:
    api = inv.api()
    if kind == "jobs":
        jobs: list[dict[str, Any]] = await collect(api, ops.JOBS, {}, "jobs", MOST)
        return sorted(f"{j['namespace']}/{j['name']}" for j in jobs)
    endpoints = await collect(api, ops.ENDPOINTS, {}, "endpoints", MOST)
    return sorted(str(e["name"]) for e in endpoints)


def _who(inv: Invocation) -> str:
    api = inv.api()
    identity = api.static_token or (f"{api.login.username}" if api.login else "")
    return f"{api.server}\0{api.tenant or (api.login.tenant if api.login else '')}\0{identity}"


async def complete_names(inv: Invocation) -> int:
    """Print the names of `kind` that start with PREFIX, one a line; nothing on any failure."""
    kind: str = inv.value("kind")
    prefix: str = inv.value("prefix") or ""
    now = time.time()
    try:
        path = cache_file(inv.env, kind, _who(inv))
        names = read_cache(path, now)
        if names is None:
            names = await asyncio.wait_for(_fetch(inv, kind), QUERY_SECONDS)
            write_cache(path, names, now)
    except Exception:  # a completion prints nothing rather than a traceback
        return 0
    for name in names:
        if name.startswith(prefix):
            inv.out.write(name + "\n")
    return 0
