"""The GraphQL client: gql's async client over HTTP, bearer auth and transparent token refresh.

gql and httpx are imported here only, and this module is imported only by commands that talk to
the server, so `crontopus --help` and the offline commands start fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXAsyncTransport

from crontopus.cli import operations as ops
from crontopus.cli.config import TOKEN_VARIABLE, Login, load_config, locked, parse_time, save_config
from crontopus.cli.errors import (
    AuthFailure,
    CliError,
    ConflictFailure,
    ServerUnreachable,
    UsageFailure,
    UserFailure,
)

if TYPE_CHECKING:
    from pathlib import Path

    from crontopus.cli.invocation import Invocation

TIMEOUT_SECONDS = 30.0
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"


@dataclass
class Api:
    """Send GraphQL operations to one server as one principal."""

    server: str
    config_path: Path
    tenant: str | None = None
    static_token: str | None = None
    login: Login | None = None

    @classmethod
    def for_invocation(cls, inv: Invocation) -> Api:
        """Pick the server and credentials: CRONTOPUS_TOKEN, else the stored login."""
        config = inv.config()
        server = inv.server(config)
        tenant = inv.value("tenant")
        token = inv.env.get(TOKEN_VARIABLE)
        if token:
            if tenant:
                raise UsageFailure(
                    f"--tenant: {TOKEN_VARIABLE} acts in its own tenant; "
                    f"unset {TOKEN_VARIABLE} to use a stored login for {tenant!r}"
                )
            return cls(server, inv.config_path, static_token=token.strip())
        login = config.logins_of(server).login_for(tenant)
        return cls(server, inv.config_path, tenant=tenant, login=login)

    @property
    def graphql_url(self) -> str:
        """Return the URL of the GraphQL endpoint."""
        return f"{self.server}/graphql"

    def bearer(self) -> str:
        """Return the token to send, or fail when there is none."""
        if self.static_token:
            return self.static_token
        if self.login is None:
            wanted = f" for tenant {self.tenant!r}" if self.tenant else ""
            raise AuthFailure(
                f"not logged in to {self.server}{wanted}: run `crontopus login` "
                f"or set {TOKEN_VARIABLE} to an API token"
            )
        return self.login.access_token

    async def fresh_bearer(self) -> str:
        """Return a token that has not expired, refreshing the stored login first if needed."""
        if self.static_token is None and self.login and self.login.access_token_expired():
            await self.refresh()
        return self.bearer()

    async def execute(
        self, document: str, variables: dict[str, Any] | None = None, *, auth: bool = True
    ) -> dict[str, Any]:
        """Run a query or mutation and return its data; refresh once on an expired token."""
        token = await self.fresh_bearer() if auth else None
        try:
            return await self._send(document, variables, token)
        except Unauthenticated as error:
            if not auth or self.static_token is not None or self.login is None:
                raise AuthFailure(error.message) from None
            await self.refresh()
            try:
                return await self._send(document, variables, self.bearer())
            except Unauthenticated as again:
                raise AuthFailure(again.message) from None

    async def mutate(
        self, document: str, variables: dict[str, Any], field: str, expected: str
    ) -> dict[str, Any]:
        """Run a mutation and return its payload, raising the union's error if it is one."""
        data = await self.execute(document, variables)
        payload = unwrap(data[field], expected)
        # The union member's name is plumbing, not part of the printed shape.
        return {key: value for key, value in payload.items() if key != "__typename"}

    async def refresh(self) -> None:
        """Trade the stored refresh token for a new pair and store it (the old one dies)."""
        assert self.login is not None
        with locked(self.config_path):
            # Another command may have rotated the pair meanwhile: use its result.
            config = load_config(self.config_path)
            stored = config.logins_of(self.server).logins.get(self.login.tenant)
            if stored is not None and stored.refresh_token != self.login.refresh_token:
                self.login = stored
                if not stored.access_token_expired():
                    return
            data = await self._send(ops.REFRESH, {"token": self.login.refresh_token}, None)
            result = data["refreshToken"]
            if result["__typename"] != "AuthPayload":
                raise AuthFailure(
                    f"your login to {self.server} expired ({result.get('message')}): "
                    "run `crontopus login` again"
                )
            self.login = login_from_payload(result)
            save_config(
                self.config_path,
                config.with_login(self.server, self.login, make_current=False),
            )

    async def _send(
        self, document: str, variables: dict[str, Any] | None, token: str | None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = HTTPXAsyncTransport(url=self.graphql_url, timeout=TIMEOUT_SECONDS)
        request = GraphQLRequest(document, variable_values=variables or {})
        try:
            async with Client(transport=transport) as session:
                data: dict[str, Any] = await session.execute(
                    request, extra_args={"headers": headers}
                )
                return data
        except TransportQueryError as error:
            raise query_error(error) from None
        except TransportServerError as error:
            raise server_error(self.server, error) from None
        except TransportProtocolError as error:
            raise ServerUnreachable(
                f"{self.graphql_url} did not answer like a Crontopus server ({error}): "
                "check --server"
            ) from None
        except (TimeoutError, httpx.TransportError, TransportError, OSError) as error:
            raise unreachable(self.server, error) from None


class Unauthenticated(CliError):
    """The server refused the token; the caller may refresh and retry once."""


def unreachable(server: str, error: BaseException) -> ServerUnreachable:
    """Describe a server that did not answer."""
    reason = str(error) or type(error).__name__
    return ServerUnreachable(
        f"cannot reach the Crontopus server at {server} ({reason}): "
        "check the URL (--server or CRONTOPUS_SERVER) and that the server runs"
    )


def server_error(server: str, error: TransportServerError) -> CliError:
    """Map an HTTP failure of the GraphQL endpoint to an exit code."""
    code = error.code or 0
    if code in (401, 403):
        return AuthFailure(f"{server} refused the credentials (HTTP {code}): log in again")
    if code in (404, 405, 501):
        return ServerUnreachable(
            f"{server} has no Crontopus GraphQL endpoint (HTTP {code} from /graphql): "
            "check the URL (--server or CRONTOPUS_SERVER)"
        )
    if code >= 500 or code == 0:
        return ServerUnreachable(f"{server} failed (HTTP {code or '?'}): {error}; try again later")
    return UserFailure(f"{server} refused the request (HTTP {code}): {error}")


def query_error(error: TransportQueryError) -> CliError:
    """Map GraphQL `errors` to an exit code, keeping the server's message and path."""
    errors = error.errors or [{"message": str(error)}]
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    lines = []
    for item in errors:
        path = ".".join(str(p) for p in item.get("path") or [])
        lines.append(f"{path}: {item['message']}" if path else str(item["message"]))
    message, details = lines[0], lines[1:]
    if UNAUTHENTICATED in codes:
        return Unauthenticated(message, details)
    if FORBIDDEN in codes:
        return AuthFailure(message, details)
    return UserFailure(message, details)


def unwrap(result: dict[str, Any], expected: str) -> dict[str, Any]:
    """Return a union's payload, or raise its error with the message and the field paths."""
    typename = result.get("__typename")
    if typename == expected:
        return result
    message = str(result.get("message") or f"unexpected answer {typename}")
    details = [
        f"{'.'.join(problem['path'])}: {problem['message']}" for problem in result.get("fields", [])
    ]
    if len(details) == 1 and message in (result["fields"][0]["message"], details[0]):
        # The one field problem is the message: say it once, with its field path.
        message, details = details[0], []
    if typename == "RateLimitedError":
        details.append(f"try again in {result.get('retryAfterSeconds')} s")
    if typename in ("AuthenticationError", "PermissionError"):
        raise AuthFailure(message, details)
    if typename == "ConflictError":
        raise ConflictFailure(message, details)
    raise UserFailure(message, details)


def login_from_payload(payload: dict[str, Any]) -> Login:
    """Build a stored login from an `AuthPayload`."""
    return Login(
        username=payload["user"]["username"],
        tenant=payload["tenant"]["slug"],
        access_token=payload["accessToken"],
        refresh_token=payload["refreshToken"],
        access_token_expires_at=parse_time(payload["accessTokenExpiresAt"]),
    )
