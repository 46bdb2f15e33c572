"""`login`, `logout`, `whoami`, `--tenant`, token refresh, env overrides and exit codes 3 and 4."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from crontopus.server.security.jwt import issue_access_token
from crontopus.server.settings import Settings
from tests.clients.conftest import COMMAND, Cli, Server, User, register
from tests.server.conftest import free_port

ME = "{ me { user { id } tenant { id } } }"
ADD_MEMBER = """
mutation Add($username: String!) {
  addMember(username: $username, role: MEMBER) { __typename }
}
"""
REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(token: $token) { __typename ... on UserError { message } }
}
"""
LOGOUT = "mutation Logout($t: String!) { logout(refreshToken: $t) { __typename } }"


def edit_login(cli: Cli, **changes: Any) -> dict[str, Any]:
    config = cli.config()
    (logins,) = config["servers"].values()
    login: dict[str, Any] = logins["logins"][logins["current"]]
    login.update(changes)
    cli.config_file.write_text(json.dumps(config))
    return login


def expired_token(server: Server, user: User) -> str:
    """Sign an access token for `user` with the server's key that expired an hour ago."""
    me = server.graphql(ME, token=user.access_token)["me"]
    settings = Settings.from_env(server.env)
    token, _ = issue_access_token(
        settings,
        uuid.UUID(me["user"]["id"]),
        uuid.UUID(me["tenant"]["id"]),
        uuid.uuid4(),
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    return token


def test_login_stores_the_tokens_readable_by_the_owner_only(
    cli: Cli, server: Server, user: User
) -> None:
    result = cli("login", "--server", server.url + "/", "--username", user.username,
                 "--password-stdin", stdin=user.password + "\n")  # fmt: skip
    assert result.code == 0, result.err
    assert f"Logged in to {server.url} as {user.username} in tenant {user.tenant}" in result.err
    assert stat.S_IMODE(cli.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_file.parent.stat().st_mode) == 0o700
    assert cli.config()["server"] == server.url
    assert cli.stored_login()["refreshToken"].startswith("ctr_")


def test_whoami_shows_the_user_the_tenant_and_the_role(logged_in: Cli, user: User) -> None:
    result = logged_in("whoami", "--json")
    assert result.code == 0, result.err
    me = result.json()
    assert set(me) == {"server", "role", "user", "tenant", "tenants"}
    assert (me["user"]["username"], me["tenant"]["slug"], me["role"]) == (
        user.username,
        user.tenant,
        "OWNER",
    )
    table = logged_in("whoami").out
    assert f"user:          {user.username} <{user.username}@example.com>" in table


def test_a_wrong_password_exits_4_with_the_servers_message(
    cli: Cli, server: Server, user: User
) -> None:
    result = cli("login", "--server", server.url, "--username", user.username,
                 "--password-stdin", stdin="not the password\n")  # fmt: skip
    assert result.code == 4
    assert result.err.startswith("crontopus: error: ")
    assert not cli.config_file.exists()


def test_login_without_a_terminal_needs_password_stdin(cli: Cli, server: Server) -> None:
    result = cli("login", "--server", server.url, "--username", "someone")
    assert result.code == 2
    assert "--password-stdin" in result.err


def test_tenant_picks_among_the_tenants_logged_in_to(cli: Cli, server: Server, user: User) -> None:
    other = register(server, "owner")
    server.graphql(ADD_MEMBER, {"username": user.username}, token=other.access_token)
    for tenant in (user.tenant, other.tenant):
        result = cli(
            "login", "--server", server.url, "--username", user.username,
            "--tenant", tenant, "--password-stdin", stdin=user.password + "\n",
        )  # fmt: skip
        assert result.code == 0, result.err
    assert cli("whoami", "--json").json()["tenant"]["slug"] == other.tenant  # the latest login
    mine = cli("whoami", "--json", "--tenant", user.tenant).json()
    assert (mine["tenant"]["slug"], mine["role"]) == (user.tenant, "OWNER")
    assert cli("--tenant", other.tenant, "whoami", "--json").json()["role"] == "MEMBER"
    assert {m["tenant"]["slug"] for m in mine["tenants"]} == {user.tenant, other.tenant}
    missing = cli("whoami", "--tenant", "nowhere")
    assert missing.code == 4
    assert "not logged in" in missing.err
    assert "for tenant 'nowhere'" in missing.err


def test_an_access_token_the_server_calls_expired_is_refreshed_once_and_stored(
    logged_in: Cli, server: Server, user: User
) -> None:
    before = edit_login(
        logged_in,
        accessToken=expired_token(server, user),
        accessTokenExpiresAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    )
    result = logged_in("namespaces", "list", "--json")
    assert result.code == 0, result.err
    after = logged_in.stored_login()
    assert after["refreshToken"] != before["refreshToken"]
    assert after["accessToken"] != before["accessToken"]
    # Rotation: the refresh token just spent is dead on the server.
    refused = server.graphql(REFRESH, {"token": before["refreshToken"]})["refreshToken"]
    assert refused["__typename"] == "AuthenticationError"


def test_an_access_token_past_its_expiry_is_refreshed_before_the_request(
    logged_in: Cli,
) -> None:
    before = edit_login(logged_in, accessTokenExpiresAt="2020-01-01T00:00:00+00:00")
    assert logged_in("whoami").code == 0
    after = logged_in.stored_login()
    assert after["refreshToken"] != before["refreshToken"]
    assert datetime.fromisoformat(after["accessTokenExpiresAt"]) > datetime.now(UTC)


def test_two_commands_refreshing_at_once_both_succeed(logged_in: Cli) -> None:
    edit_login(logged_in, accessTokenExpiresAt="2020-01-01T00:00:00+00:00")
    children = [
        subprocess.Popen(
            [COMMAND, "whoami", "--json"],
            env=logged_in.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(child.wait(timeout=60), child.communicate()[1]) for child in children]
    assert outcomes == [(0, "")] * 3
    assert logged_in("whoami").code == 0


def test_an_expired_login_exits_4_and_asks_to_log_in_again(
    logged_in: Cli, server: Server, user: User
) -> None:
    login = edit_login(logged_in, accessToken=expired_token(server, user))
    server.graphql(LOGOUT, {"t": login["refreshToken"]})  # the session ends elsewhere
    result = logged_in("jobs", "list")
    assert result.code == 4
    assert "expired" in result.err
    assert "run `crontopus login` again" in result.err


def test_logout_ends_the_session_and_forgets_it(logged_in: Cli, server: Server) -> None:
    refresh_token = logged_in.stored_login()["refreshToken"]
    result = logged_in("logout")
    assert result.code == 0, result.err
    assert "Logged out of" in result.err
    assert logged_in.config()["servers"] == {}
    refused = server.graphql(REFRESH, {"token": refresh_token})["refreshToken"]
    assert refused["__typename"] == "AuthenticationError"
    after = logged_in("whoami")
    assert after.code == 4
    assert "not logged in" in after.err


def test_an_api_token_in_the_environment_replaces_the_login(
    logged_in: Cli, server: Server, user: User
) -> None:
    token = logged_in("tokens", "create", "script", "--scope", "read").out.strip()
    fresh = Cli(logged_in.home.parent / "elsewhere")
    env = {"CRONTOPUS_SERVER": server.url, "CRONTOPUS_TOKEN": token}
    result = fresh("whoami", "--json", env=env)
    assert result.code == 0, result.err
    assert result.json()["tenant"]["slug"] == user.tenant
    assert fresh("whoami", "--tenant", user.tenant, env=env).code == 2
    typo = token[:-1] + ("y" if token.endswith("x") else "x")
    refused = fresh("whoami", env={**env, "CRONTOPUS_TOKEN": typo})
    assert refused.code == 4


def test_an_unreachable_server_exits_3(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {"CRONTOPUS_SERVER": url, "CRONTOPUS_TOKEN": "ctp_anything"}
    for command in (["jobs", "list"], ["runs", "watch"]):
        result = cli.run(*command, env=env)
        assert result.code == 3, result.err
        assert f"cannot reach the Crontopus server at {url}" in result.err


def test_without_a_server_it_says_how_to_name_one(cli: Cli) -> None:
    result = cli("jobs", "list")
    assert result.code == 4
    assert "run `crontopus login --server URL` or set CRONTOPUS_SERVER" in result.err


def test_logout_forgets_the_login_even_when_the_server_is_gone(logged_in: Cli) -> None:
    config = logged_in.config()
    (url,) = config["servers"]
    gone = f"http://127.0.0.1:{free_port()}"
    config["servers"] = {gone: config["servers"][url]}
    config["server"] = gone
    logged_in.config_file.write_text(json.dumps(config))
    result = logged_in("logout")
    assert result.code == 0, result.err
    assert "warning: cannot reach the Crontopus server" in result.err
    assert logged_in.config()["servers"] == {}


def test_a_server_that_is_not_crontopus_exits_3(cli: Cli, tmp_path: Path) -> None:
    port = free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        result = cli("jobs", "list", env={"CRONTOPUS_SERVER": url, "CRONTOPUS_TOKEN": "ctp_x"})
    finally:
        other.terminate()
        other.wait(timeout=10)
    assert result.code == 3
    assert f"{url} has no Crontopus GraphQL endpoint" in result.err
