"""`login`, `logout` and `whoami`: the stored session with a server."""

from __future__ import annotations

import getpass

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.api import Api, login_from_payload, unwrap
from crontopus.cli.config import TOKEN_VARIABLE, locked, save_config
from crontopus.cli.errors import AuthFailure, ServerUnreachable, UsageFailure
from crontopus.cli.invocation import Invocation


def _ask_username(inv: Invocation) -> str:
    username: str | None = inv.value("username")
    if username:
        return username
    if not inv.stdin.isatty():
        raise UsageFailure("--username: give the user name (no terminal to ask on)")
    print("Username: ", end="", file=inv.err, flush=True)
    return inv.stdin.readline().strip()


def _ask_password(inv: Invocation) -> str:
    if inv.value("password_stdin"):
        password = inv.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageFailure("--password-stdin: standard input held no password")
        return password
    if not inv.stdin.isatty():
        raise UsageFailure(
            "no terminal to ask for the password on: pipe it in with --password-stdin"
        )
    return getpass.getpass("Password: ", stream=inv.err)


async def login(inv: Invocation) -> int:
    """Log in with a password and store the tokens."""
    config = inv.config()
    try:
        server = inv.server(config)
    except AuthFailure:
        raise UsageFailure("--server: give the server's URL to log in to") from None
    username = _ask_username(inv)
    password = _ask_password(inv)
    api = Api(server, inv.config_path)
    variables = {"username": username, "password": password, "tenant": inv.value("tenant")}
    data = await api.execute(ops.LOGIN, variables, auth=False)
    payload = unwrap(data["login"], "AuthPayload")
    stored = login_from_payload(payload)
    with locked(inv.config_path):
        save_config(inv.config_path, inv.config().with_login(server, stored))
    tenant = payload["tenant"]
    output.note(
        inv,
        f"Logged in to {server} as {stored.username} in tenant {tenant['slug']} "
        f"({payload['role'].lower()}).",
    )
    return 0


async def logout(inv: Invocation) -> int:
    """End the session on the server and forget its tokens."""
    if inv.env.get(TOKEN_VARIABLE):
        raise UsageFailure(f"{TOKEN_VARIABLE} is set: there is no stored login to end")
    api = inv.api()
    if api.login is None:
        api.bearer()  # raises "not logged in"
    assert api.login is not None
    try:
        data = await api.execute(ops.LOGOUT, {"refreshToken": api.login.refresh_token}, auth=False)
        result = data["logout"]
        if result["__typename"] != "LogoutPayload":
            # Already over (expired or revoked): forgetting it is all there is left to do.
            output.note(inv, f"The server said: {result.get('message')}")
    except ServerUnreachable as error:
        # Forget the tokens anyway: a dead server must not keep a login on this machine.
        output.note(inv, f"warning: {error.message}; the session may stay valid until it expires")
    with locked(inv.config_path):
        config = inv.config().without_login(api.server, api.login.tenant)
        save_config(inv.config_path, config)
    output.note(inv, f"Logged out of {api.server} (tenant {api.login.tenant}).")
    return 0


async def whoami(inv: Invocation) -> int:
    """Show the user, the active tenant, the role and the other tenants."""
    api = inv.api()
    me = (await api.execute(ops.ME))["me"]
    if inv.json:
        output.dump_json(inv, {"server": api.server, **me})
        return 0
    others = [
        f"{m['tenant']['slug']} ({m['role'].lower()})"
        for m in me["tenants"]
        if m["tenant"]["slug"] != me["tenant"]["slug"]
    ]
    output.fields(
        inv,
        [
            ("server", api.server),
            ("user", f"{me['user']['username']} <{me['user']['email']}>"),
            ("tenant", f"{me['tenant']['slug']} ({me['tenant']['name']})"),
            ("role", me["role"]),
            ("other tenants", ", ".join(others) or "-"),
        ],
    )
    return 0
