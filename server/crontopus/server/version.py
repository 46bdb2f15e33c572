"""The version of the running server (every Crontopus distribution shares it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def server_version() -> str:
    """Return the installed crontopus-server version."""
    try:
        return version("crontopus-server")
    except PackageNotFoundError:  # pragma: no cover - imported from a tree nobody installed
        return "0+unknown"
