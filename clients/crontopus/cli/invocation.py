"""One run of the command: its parsed arguments, environment, streams and where to connect."""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from crontopus.cli.config import Config, config_path, load_config
from crontopus.cli.errors import AuthFailure, UsageFailure

if TYPE_CHECKING:
    from crontopus.cli.api import Api

SERVER_VARIABLE = "CRONTOPUS_SERVER"


@dataclass
class Invocation:
    """What a command handler needs: arguments, environment, output streams and the API."""

    args: argparse.Namespace
    env: Mapping[str, str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    _api: Api | None = None

    @property
    def json(self) -> bool:
        """Say whether the user asked for JSON output."""
        return bool(getattr(self.args, "json", False))

    @property
    def colour(self) -> bool:
        """Say whether to colour output: only on a terminal, never with NO_COLOR set."""
        if getattr(self.args, "no_color", False) or "NO_COLOR" in self.env:
            return False
        return bool(getattr(self.out, "isatty", lambda: False)())

    @property
    def config_path(self) -> Path:
        """Return the path of the config file."""
        return config_path(self.env)

    def config(self) -> Config:
        """Read the config file."""
        return load_config(self.config_path)

    def server(self, config: Config | None = None) -> str:
        """Return the server URL: --server, then CRONTOPUS_SERVER, then the last login's."""
        url = (
            getattr(self.args, "server", None)
            or self.env.get(SERVER_VARIABLE)
            or (config or self.config()).server
        )
        if not url:
            raise AuthFailure(
                f"no server to talk to: run `crontopus login --server URL` or set {SERVER_VARIABLE}"
            )
        return normalise_server(url)

    def api(self) -> Api:
        """Return the API client of this invocation (created on first use)."""
        if self._api is None:
            from crontopus.cli.api import Api

            self._api = Api.for_invocation(self)
        return self._api

    def value(self, name: str, default: Any = None) -> Any:
        """Return an argument by name, or `default` when the command has no such argument."""
        return getattr(self.args, name, default)


def object_id(text: str, what: str, hint: str = "", *, flag: str | None = None) -> str:
    """Check an id given on the command line; fail naming what it should identify."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        where = f"{flag}: " if flag else ""
        raise UsageFailure(f"{where}{text!r} is not {what} id (a UUID{hint})") from None


def normalise_server(url: str) -> str:
    """Return the server URL without a trailing slash, refusing anything but http(s)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageFailure(
            f"--server: {url!r} is not an http:// or https:// URL "
            "(give the server's address, e.g. https://crontopus.example.com)"
        )
    return url.removesuffix("/graphql")
