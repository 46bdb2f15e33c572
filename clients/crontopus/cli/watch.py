"""`runs watch`: a live tail over the `runEvents` subscription that reconnects on its own.

It speaks graphql-transport-ws (asked for explicitly: gql would offer the legacy protocol first)
and sends the token in `connection_init`. After a lost connection it reconnects with backoff and
then fills the gap from `runs`, so runs that happened meanwhile are still printed, once.
"""

from __future__ import annotations

import asyncio
import collections
from datetime import UTC, datetime, timedelta
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.api import Api, Unauthenticated, query_error, unreachable
from crontopus.cli.config import parse_time
from crontopus.cli.errors import AuthFailure, CliError, ExitCode
from crontopus.cli.invocation import Invocation
from crontopus.cli.jobs import duration
from crontopus.cli.output import STATE_COLOURS, paint, short_time
from crontopus.cli.pages import collect
from crontopus.cli.runs import job_label, run_filter

MAX_BACKOFF_SECONDS = 30.0
# Runs that started this long before the connection dropped may have finished during the gap.
BACKFILL_MARGIN = timedelta(hours=1)
BACKFILL_LIMIT = 500
CLOCK_SKEW = timedelta(seconds=5)
SEEN_MEMORY = 10_000
UNAUTHENTICATED_CLOSE = 4401
FORBIDDEN_CLOSE = 4403
#: The close codes of a credential the server no longer accepts (see docs/security.md).
CREDENTIAL_CLOSES = (UNAUTHENTICATED_CLOSE, FORBIDDEN_CLOSE)
LOST = (
    ConnectionClosed,
    InvalidHandshake,
    TransportClosed,
    TransportConnectionFailed,
    TransportProtocolError,
    OSError,
    asyncio.TimeoutError,
)


def websocket_url(server: str) -> str:
    """Return the WebSocket URL of the server's GraphQL endpoint."""
    return server.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/graphql"


class Tail:
    """Print each (run, status) once, as a line or as JSON; say when (re)connected."""

    def __init__(self, inv: Invocation, server: str) -> None:
        self.inv = inv
        self.server = server
        self.seen: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()
        self.ever_connected = False
        self.just_connected = False
        self.refused = False

    def connected(self) -> None:
        """Note a (re)established subscription."""
        verb = "Reconnected to" if self.ever_connected else "Watching runs on"
        output.note(self.inv, f"{verb} {self.server} (Ctrl-C to stop).")
        self.ever_connected = True
        self.just_connected = True
        self.refused = False

    def show(self, kind: str, run: dict[str, Any]) -> None:
        """Print one event unless it was printed already."""
        key = (run["id"], run["status"])
        if key in self.seen:
            return
        self.seen[key] = None
        if len(self.seen) > SEEN_MEMORY:
            self.seen.popitem(last=False)
        if self.inv.json:
            output.dump_json_line(self.inv, {"kind": kind, "run": run})
            return
        job = job_label(run)
        when = short_time(run["finishedAt"] if kind == "FINISHED" else run["startedAt"])
        status = paint(f"{run['status']:<8}", STATE_COLOURS.get(run["status"], ""), self.inv.colour)
        parts = [when, f"{kind:<8}", status, job]
        if kind == "FINISHED":
            parts += [f"exit={run['exitCode'] if run['exitCode'] is not None else '-'}"]
            parts += [duration(run["durationMs"])]
        parts.append(f"run={run['id']}")
        print("  ".join(parts), file=self.inv.out, flush=True)


async def _backfill(api: Api, tail: Tail, wanted: dict[str, Any] | None, since: datetime) -> None:
    variables = {"filter": {**(wanted or {}), "since": (since - BACKFILL_MARGIN).isoformat()}}
    runs = await collect(api, ops.RUNS, variables, "runs", BACKFILL_LIMIT)
    for run in reversed(runs):  # oldest first, like the live stream
        kind = "STARTED" if run["status"] == "RUNNING" else "FINISHED"
        happened = run["startedAt"] if kind == "STARTED" else run["finishedAt"] or run["startedAt"]
        # Only what happened during the gap: older runs were printed live, or predate the watch.
        if parse_time(happened) >= since - CLOCK_SKEW:
            tail.show(kind, run)


async def _stream(
    api: Api, tail: Tail, wanted: dict[str, Any] | None, lost_at: datetime | None
) -> None:
    token = await api.fresh_bearer()
    transport = WebsocketsTransport(
        url=websocket_url(api.server),
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        connect_timeout=10,
    )
    request = GraphQLRequest(ops.RUN_EVENTS, variable_values={"filter": wanted})
    async with Client(transport=transport) as session:
        tail.connected()
        if lost_at is not None:
            await _backfill(api, tail, wanted, lost_at)
        async for batch in session.subscribe(request):
            for event in batch["runEvents"]:
                tail.show(event["kind"], event["run"])


async def watch_runs(inv: Invocation) -> int:
    """Print runs as they start and finish until interrupted."""
    api = inv.api()
    wanted = await run_filter(inv, api)
    tail = Tail(inv, api.server)
    lost_at: datetime | None = None
    backoff = 1.0
    while True:
        quick = False  # reconnect at once: the server asked for a fresh credential
        try:
            await _stream(api, tail, wanted, lost_at)
            reason = "the server ended the subscription"
        except TransportQueryError as error:
            failure = query_error(error)
            lapse = lapse_code(error)
            if lapse is None and not isinstance(failure, Unauthenticated | AuthFailure):
                raise failure from None
            await _renew(api, tail, lapse, failure.message)
            reason, quick = failure.message, True
        except (*LOST, TransportError) as error:
            code = close_code(error)
            if code not in CREDENTIAL_CLOSES:
                if not tail.ever_connected:
                    raise unreachable(api.server, error) from None
                reason = str(error) or type(error).__name__
            else:
                await _renew(
                    api,
                    tail,
                    code,
                    f"{api.server} refused the token (WebSocket closed with {code})",
                )
                reason, quick = f"the server closed the connection with {code}", True
        except CliError as error:
            # The backfill's request failed: the server is away again.
            if not tail.ever_connected or error.exit_code != ExitCode.UNREACHABLE:
                raise
            reason = error.message
        if tail.just_connected:  # a working connection just ended: the gap starts now
            tail.just_connected = False
            lost_at = datetime.now(UTC)
            backoff = 1.0
        if quick:
            output.note(inv, f"Connection ended ({reason}); reconnecting…")
            continue
        output.note(inv, f"Connection lost ({reason}); reconnecting in {backoff:.0f} s…")
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


async def _renew(api: Api, tail: Tail, code: int | None, message: str) -> None:
    """Get ready to reconnect after the server refused the credential, or give up.

    4403 (the role or scopes changed) reconnects as is; 4401 and other refusals need a
    refreshed login. A refusal right after a reconnect means it will not get better.
    """
    if tail.refused or (code != FORBIDDEN_CLOSE and not _can_refresh(api)):
        raise AuthFailure(f"{message}: log in again or check CRONTOPUS_TOKEN") from None
    tail.refused = True
    if _can_refresh(api):
        await api.refresh()


def lapse_code(error: TransportQueryError) -> int | None:
    """Return the close code an operation was ended with when the server dropped the credential."""
    for item in error.errors or []:
        code = (item.get("extensions") or {}).get("closeCode")
        if code in CREDENTIAL_CLOSES:
            return int(code)
    return None


def close_code(error: BaseException) -> int | None:
    """Return the WebSocket close code behind an error (gql wraps the websockets one)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TransportServerError) and seen.code:
            return seen.code
        if isinstance(seen, ConnectionClosed) and seen.rcvd is not None:
            return seen.rcvd.code
        seen = seen.__cause__ or seen.__context__
    return None


def _can_refresh(api: Api) -> bool:
    return api.static_token is None and api.login is not None
