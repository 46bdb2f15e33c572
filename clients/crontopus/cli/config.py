"""The config file: the server last logged in to and one stored login per server and tenant.

It lives at `$XDG_CONFIG_HOME/crontopus/config.json` (default `~/.config/crontopus/`), is written
atomically with mode 0600 (it holds refresh tokens), and is locked while a refresh rotates tokens
so two commands running at once do not both spend the same single-use refresh token.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crontopus.cli.errors import UserFailure

#: An API token in this variable replaces the stored login (scripts, CI).
TOKEN_VARIABLE = "CRONTOPUS_TOKEN"

# Refresh a little early so a token does not expire between the check and the request.
EXPIRY_MARGIN = timedelta(seconds=10)


@dataclass(frozen=True)
class Login:
    """Tokens of one user acting in one tenant of one server."""

    username: str
    tenant: str
    access_token: str
    refresh_token: str
    access_token_expires_at: datetime | None = None

    def access_token_expired(self, now: datetime | None = None) -> bool:
        """Say whether the access token has expired (or is about to)."""
        if self.access_token_expires_at is None:
            return False
        return (now or datetime.now(UTC)) + EXPIRY_MARGIN >= self.access_token_expires_at


@dataclass(frozen=True)
class ServerLogins:
    """Every tenant logged in to on one server, and the one used without `--tenant`."""

    current: str | None = None
    logins: Mapping[str, Login] = field(default_factory=dict)

    def login_for(self, tenant: str | None) -> Login | None:
        """Return the stored login for `tenant` (or the current tenant)."""
        wanted = tenant or self.current
        return self.logins.get(wanted) if wanted else None


@dataclass(frozen=True)
class Config:
    """Everything the config file holds."""

    server: str | None = None
    servers: Mapping[str, ServerLogins] = field(default_factory=dict)

    def logins_of(self, server: str) -> ServerLogins:
        """Return the logins stored for `server` (none yet: empty)."""
        return self.servers.get(server, ServerLogins())

    def with_login(self, server: str, login: Login, *, make_current: bool = True) -> Config:
        """Return a config that stores `login` for `server`."""
        known = self.logins_of(server)
        logins = {**known.logins, login.tenant: login}
        current = login.tenant if make_current or known.current is None else known.current
        servers = {**self.servers, server: ServerLogins(current, logins)}
        return replace(self, server=server, servers=servers)

    def without_login(self, server: str, tenant: str) -> Config:
        """Return a config that forgets `server`'s login for `tenant`."""
        known = self.logins_of(server)
        logins = {k: v for k, v in known.logins.items() if k != tenant}
        current = known.current if known.current in logins else next(iter(logins), None)
        servers = {**self.servers, server: ServerLogins(current, logins)}
        if not logins:
            servers.pop(server)
        return replace(self, servers=servers)


def config_dir(env: Mapping[str, str]) -> Path:
    """Return the XDG config directory of Crontopus."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "crontopus"


def config_path(env: Mapping[str, str]) -> Path:
    """Return the path of the config file."""
    return config_dir(env) / "config.json"


def load_config(path: Path) -> Config:
    """Read the config file; a missing file is an empty config."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    except (OSError, ValueError) as error:
        raise UserFailure(
            f"{path}: cannot read the config file ({error}): fix it or delete it and log in again"
        ) from error
    try:
        return _config_from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserFailure(
            f"{path}: the config file is not in the expected shape ({error!r}): "
            "delete it and log in again"
        ) from error


def save_config(path: Path, config: Config) -> None:
    """Write the config file atomically, readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(_config_to_json(config), handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the config file while tokens rotate."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks; a rare race remains
        yield
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _config_to_json(config: Config) -> dict[str, Any]:
    return {
        "server": config.server,
        "servers": {
            url: {
                "current": known.current,
                "logins": {tenant: _login_to_json(login) for tenant, login in known.logins.items()},
            }
            for url, known in config.servers.items()
        },
    }


def _login_to_json(login: Login) -> dict[str, Any]:
    expires = login.access_token_expires_at
    return {
        "username": login.username,
        "tenant": login.tenant,
        "accessToken": login.access_token,
        "accessTokenExpiresAt": expires.isoformat() if expires else None,
        "refreshToken": login.refresh_token,
    }


def _config_from_json(data: dict[str, Any]) -> Config:
    servers = {
        url: ServerLogins(
            current=known.get("current"),
            logins={tenant: _login_from_json(v) for tenant, v in known["logins"].items()},
        )
        for url, known in data.get("servers", {}).items()
    }
    return Config(server=data.get("server"), servers=servers)


def _login_from_json(data: dict[str, Any]) -> Login:
    expires = data.get("accessTokenExpiresAt")
    return Login(
        username=data["username"],
        tenant=data["tenant"],
        access_token=data["accessToken"],
        refresh_token=data["refreshToken"],
        access_token_expires_at=parse_time(expires) if expires else None,
    )


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time from the server; naive times are UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
