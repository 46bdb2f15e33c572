"""Fixtures for CLI tests: a real `crontopus-server` per module (SQLite, and PostgreSQL when
CRONTOPUS_TEST_POSTGRES_URL is set), users registered on it, and the CLI run in-process."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from crontopus.cli.main import main
from crontopus.server.db.migrate import upgrade
from tests.server.conftest import (
    BACKENDS,
    PASSWORD,
    LiveServer,
    create_postgres_database,
    drop_postgres_database,
    require_postgres,
    sqlite_template,
    start_server,
    stop_server,
)

__all__ = ["sqlite_template"]  # a fixture, used through `server`

COMMAND = str(Path(sys.executable).parent / "crontopus")
# A known key, so tests can sign a token the server accepts (and then let it expire).
SECRET_KEY = "crontopus-cli-tests-secret-key-0123456789abcdef"
REGISTER = """
mutation Register($username: String!, $email: String!, $password: String!) {
  register(username: $username, email: $email, password: $password) {
    __typename ... on AuthPayload { accessToken refreshToken tenant { slug } }
  }
}
"""


@dataclass
class Server:
    """A running server and how it was configured."""

    live: LiveServer
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.live.url

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Run a GraphQL operation directly (to set up what a test needs)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One real server per test module and database backend."""
    data_dir = tmp_path_factory.mktemp("server")
    database_name = None
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, data_dir / "crontopus.db")
        database_url = f"sqlite+aiosqlite:///{data_dir / 'crontopus.db'}"
    else:
        admin_url = require_postgres()
        database_name = f"crontopus_cli_{uuid.uuid4().hex[:10]}"
        database_url = asyncio.run(create_postgres_database(admin_url, database_name))
        asyncio.run(upgrade(database_url))
    env = {
        "CRONTOPUS_DATA_DIR": str(data_dir),
        "CRONTOPUS_DATABASE_URL": database_url,
        "CRONTOPUS_SECRET_KEY": SECRET_KEY,
        # One server serves a whole module, whose every test signs up and logs in from
        # 127.0.0.1: far more than one address may in production.
        "CRONTOPUS_RATE_LIMIT_REGISTER": "off",
        "CRONTOPUS_RATE_LIMIT_LOGIN_ADDRESS": "off",
        # A module may set SERVER_ENV, e.g. a small page cap to make listings follow cursors.
        **getattr(request.module, "SERVER_ENV", {}),
    }
    live = start_server(env)
    yield Server(live, env)
    stop_server(live)
    if database_name is not None:
        asyncio.run(drop_postgres_database(require_postgres(), database_name))


@dataclass
class Result:
    """What one CLI run left behind."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class TerminalInput(io.StringIO):
    """Standard input that claims to be a terminal (for prompts)."""

    def isatty(self) -> bool:
        return True


@dataclass
class Cli:
    """The `crontopus` command with its own config directory."""

    home: Path
    server_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            **self.env,
        }
        if self.server_url:
            env.setdefault("CRONTOPUS_SERVER", self.server_url)
        env.update(extra or {})
        return env

    def __call__(
        self,
        *args: str,
        stdin: str = "",
        env: dict[str, str] | None = None,
        terminal: bool = False,
    ) -> Result:
        """Run `crontopus ARGS` in this process, as `main` would for the installed command."""
        out, err = io.StringIO(), io.StringIO()
        given = TerminalInput(stdin) if terminal else io.StringIO(stdin)
        code = main(list(args), env=self.environment(env), stdin=given, stdout=out, stderr=err)
        return Result(code, out.getvalue(), err.getvalue())

    def run(self, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> Result:
        """Run the installed `crontopus` command in a child process."""
        done = subprocess.run(
            [COMMAND, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.environment(env),
            timeout=120,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    @property
    def config_file(self) -> Path:
        return self.home / "config" / "crontopus" / "config.json"

    def config(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.config_file.read_text())
        return data

    def stored_login(self) -> dict[str, Any]:
        """Return the one login stored in the config file."""
        servers = self.config()["servers"]
        (logins,) = servers.values()
        current = logins["current"]
        login: dict[str, Any] = logins["logins"][current]
        return login


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The CLI with an empty config directory and no server."""
    return Cli(tmp_path / "home")


@dataclass
class User:
    username: str
    tenant: str
    access_token: str
    password: str = PASSWORD


def register(server: Server, prefix: str = "user") -> User:
    """Register a fresh user (owner of a fresh tenant) on the module's server."""
    username = f"{prefix}{uuid.uuid4().hex[:8]}"
    data = server.graphql(
        REGISTER,
        {"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    payload = data["register"]
    assert payload["__typename"] == "AuthPayload", payload
    return User(username, payload["tenant"]["slug"], payload["accessToken"])


@pytest.fixture
def user(server: Server) -> User:
    """A fresh user who owns a fresh tenant."""
    return register(server)


@pytest.fixture
def logged_in(cli: Cli, server: Server, user: User) -> Cli:
    """The CLI after `crontopus login` as `user`."""
    result = cli(
        "login", "--server", server.url, "--username", user.username, "--password-stdin",
        stdin=user.password + "\n",
    )  # fmt: skip
    assert result.code == 0, result.err
    return cli
