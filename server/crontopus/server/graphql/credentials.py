"""A WebSocket's credential, checked again before every operation and while subscriptions run.

A socket is authenticated once, at `connection_init`; without more, a revoked token, a removed
member or an expired access token would go on running queries and receiving events for as long
as the socket lives. So the credential is resolved again through the identity cache (a dict
look-up while the entry is fresh, a database round trip once it is not, so a change is seen at
most `CRONTOPUS_AUTH_CACHE_SECONDS` late; at once in the process that made it). When it no longer
stands, every running operation ends with an error and the socket closes:

- 4401 when the credential is no longer valid (expired, revoked, membership ended): clients
  refresh or log in, then reconnect;
- 4403 when it is still valid but stands for something else (another role, other scopes):
  clients reconnect and go on with what the new role allows.

Endpoint sockets (agent channels, thousands per process) are checked together instead: every
`CRONTOPUS_AUTH_CACHE_SECONDS` one statement reads the token hash, labels and revocation of the
endpoints whose credentials changed lately (`EndpointWatches`), so a fleet's sockets cost one
indexed read an interval rather than a task waking every second per socket and a cache miss
every few seconds. `endpoints.credentials_changed_at` is stamped by a database trigger with the
database's clock whenever one of those columns changes, whoever writes it; a check reads the
rows stamped since its previous check began, plus `CHANGE_MARGIN_SECONDS` for transactions that
committed late and identities resolved from the cache before the change. Endpoint tokens do
not expire, so time alone changes nothing. Every `FULL_CHECK_SECONDS` a check reads every
watched row again (one query per 500), which also catches a row that was deleted.

An endpoint's new labels reach its channel as a LABELS_CHANGED notice (`updateEndpoint`),
which also gives the socket's principal the new labels (`relabel`): the socket stays open. Only
labels that differ from the socket's on two checks in a row (a change the channel was never
told of) close it with 4403, so a notice on its way when a check reads the row closes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from graphql import GraphQLFormattedError
from sqlalchemy import ColumnElement, Interval, func, literal, select

from crontopus.server.availability import unavailability
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import Endpoint
from crontopus.server.errors import AuthenticationFailed
from crontopus.server.graphql.context import Context
from crontopus.server.security.identity_cache import Identity, IdentityCache
from crontopus.server.security.principal import PrincipalKind

logger = logging.getLogger("crontopus.server.graphql")

UNAUTHENTICATED_CLOSE = 4401
FORBIDDEN_CLOSE = 4403
#: How often a socket with running operations looks at its credential (a cache hit when fresh).
RECHECK_SECONDS = 1.0
#: Endpoints read per statement by `EndpointWatches`.
ENDPOINT_CHUNK = 500
#: How far before its previous check a check looks for changed credentials: longer than a
#: transaction stays open and than an identity stays cached (CRONTOPUS_AUTH_CACHE_SECONDS).
CHANGE_MARGIN_SECONDS = 300.0
#: How often every watched endpoint's row is read, changed or not (deleted rows, a backstop).
FULL_CHECK_SECONDS = 600.0
#: A WebSocket close reason may carry at most 123 bytes.
MAX_REASON_BYTES = 123

Identify = Callable[[str], Awaitable[Identity]]


@dataclass(frozen=True)
class Lapse:
    """Why a socket's credential no longer stands, and how to close the socket."""

    close_code: int
    message: str

    @property
    def code(self) -> str:
        return "UNAUTHENTICATED" if self.close_code == UNAUTHENTICATED_CLOSE else "FORBIDDEN"

    @property
    def error(self) -> GraphQLFormattedError:
        """The GraphQL error each running operation ends with."""
        return {
            "message": self.message,
            "extensions": {"code": self.code, "closeCode": self.close_code},
        }

    @property
    def reason(self) -> str:
        return close_reason(self.message)


def close_reason(message: str) -> str:
    """Cut `message` to what a close frame can carry, on a character boundary."""
    encoded = message.encode()
    if len(encoded) <= MAX_REASON_BYTES:
        return message
    return encoded[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


async def lapse_of(context: Context, identify: Identify) -> Lapse | None:
    """Return why the socket's credential no longer stands, or None while it does."""
    token = context.credential
    if token is None or context.principal is None:
        return None  # an anonymous socket: every operation checks for itself
    try:
        identity = await identify(token)
    except AuthenticationFailed as error:
        return Lapse(UNAUTHENTICATED_CLOSE, f"{error.message} (the connection was closed)")
    except Exception as error:
        # The database is away: that is no lapse. Keep the socket; the next check decides.
        # An outage is logged once by the dependency tracker, not once per socket and check.
        problem = unavailability(error)
        if problem is None:
            logger.warning("re-checking a WebSocket's credential failed", exc_info=True)
        elif context.dependencies is not None:
            context.dependencies.failed(problem)
        return None
    if identity.principal != context.principal:
        before, after = context.principal, identity.principal
        change = (
            f"your role changed from {before.role.value} to {after.role.value}"
            if before.role is not after.role
            else "the token's scopes changed"
        )
        return Lapse(FORBIDDEN_CLOSE, f"{change}; reconnect to go on with what it allows")
    return None


def relabel(context: Context, labels: Mapping[str, str]) -> None:
    """Give an endpoint socket's principal the labels its channel was just told."""
    principal = context.principal
    if principal is not None and principal.kind is PrincipalKind.ENDPOINT:
        pairs = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        context.principal = replace(principal, endpoint_labels=pairs)


class CredentialWatch:
    """Looks at one socket's credential every `interval` seconds; reports a lapse once."""

    def __init__(
        self,
        context: Context,
        identify: Identify,
        on_lapse: Callable[[Lapse], Awaitable[None]],
        interval: float = RECHECK_SECONDS,
        endpoints: EndpointWatches | None = None,
    ) -> None:
        self._context = context
        self._identify = identify
        self._on_lapse = on_lapse
        self._interval = interval
        self._endpoints = endpoints
        self._task: asyncio.Task[None] | None = None
        self.lapsed = False
        #: Labels read on the last check that differed from the socket's (a notice may be due).
        self._unexpected_labels: tuple[tuple[str, str], ...] | None = None

    @property
    def token_digest(self) -> str | None:
        identity = self._context.identity
        return identity.token_digest if identity is not None else None

    @property
    def endpoint_id(self) -> uuid.UUID | None:
        principal = self._context.principal
        return principal.endpoint_id if principal is not None else None

    def current_identity(self) -> Identity | None:
        """The identity the socket stands for now (its labels as last told), None once lapsed."""
        identity, principal = self._context.identity, self._context.principal
        if self.lapsed or identity is None or principal is None:
            return None
        return replace(identity, principal=principal)

    def start(self) -> None:
        """Begin the periodic checks (a no-op for anonymous sockets)."""
        if self._context.credential is None:
            return
        principal = self._context.principal
        endpoint = principal is not None and principal.kind is PrincipalKind.ENDPOINT
        if self._endpoints is not None and endpoint:
            self._endpoints.add(self)
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def still_stands(self, row: Any) -> Lapse | None:
        """Judge the socket against its endpoint's row as read now (None: no such endpoint)."""
        principal, identity = self._context.principal, self._context.identity
        if principal is None:
            return None
        if row is None or row.revoked_at is not None:
            message = (
                "this endpoint was revoked; enroll the agent again (the connection was closed)"
            )
            return Lapse(UNAUTHENTICATED_CLOSE, message)
        if identity is not None and identity.token_digest not in (None, row.token_hash):
            message = "the endpoint token was replaced; use the new one (the connection was closed)"
            return Lapse(UNAUTHENTICATED_CLOSE, message)
        labels = tuple(sorted((str(k), str(v)) for k, v in (row.labels or {}).items()))
        if labels == principal.endpoint_labels:
            self._unexpected_labels = None
            return None
        if labels != self._unexpected_labels:
            # Its LABELS_CHANGED notice may be on its way: give it until the next check.
            self._unexpected_labels = labels
            return None
        message = "the endpoint's labels changed; reconnect to go on with the new ones"
        return Lapse(FORBIDDEN_CLOSE, message)

    async def lapse(self, lapse: Lapse) -> None:
        """End the socket with `lapse` (once)."""
        if self.lapsed:
            return
        self.lapsed = True
        await self._on_lapse(lapse)

    async def check(self) -> bool:
        """Check now; return False (after ending the socket) when the credential lapsed."""
        if self.lapsed:
            return False
        lapse = await lapse_of(self._context, self._identify)
        if lapse is None:
            return True
        self.lapsed = True
        await self._on_lapse(lapse)
        return False

    async def stop(self) -> None:
        if self._endpoints is not None:
            self._endpoints.discard(self)
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self.lapsed:
            await asyncio.sleep(self._interval)
            await self.check()


def changed_within(dialect: str, seconds: float) -> ColumnElement[bool]:
    """Endpoints whose credentials changed in the last `seconds`, by the database's clock."""
    column = Endpoint.credentials_changed_at
    if dialect == "sqlite":
        # The trigger's text format (migration 0016), so the comparison is the text order.
        since = func.strftime("%Y-%m-%d %H:%M:%f000", "now", f"-{seconds:.3f} seconds")
        return column >= since
    return column >= func.now() - literal(timedelta(seconds=seconds), Interval())


class EndpointWatches:
    """The credentials of this process's endpoint sockets, checked together every interval."""

    def __init__(
        self,
        session: SessionFactory,
        interval: float,
        *,
        identities: IdentityCache | None = None,
        full_every: float = FULL_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        #: Where the sockets' identities answer for their tokens (check-ins, heartbeats).
        self._identities = identities
        self._interval = max(RECHECK_SECONDS, interval)
        self._full_every = full_every
        self._clock = clock
        #: Each socket's watch and the endpoint it was opened for.
        self._watches: dict[CredentialWatch, uuid.UUID | None] = {}
        # The same sockets by endpoint, kept as they come and go, so that a check which finds
        # no changed row costs nothing per socket (ten thousand of them, every interval).
        self._by_endpoint: dict[uuid.UUID, set[CredentialWatch]] = {}
        self._task: asyncio.Task[None] | None = None
        #: When the last check began and the last full check began (monotonic seconds).
        self._checked_at: float | None = None
        self._fully_checked_at: float | None = None
        #: How many rows the last check read (for tests and the curious).
        self.rows_read = 0

    def add(self, watch: CredentialWatch) -> None:
        endpoint_id = watch.endpoint_id
        self._watches[watch] = endpoint_id
        if endpoint_id is not None:
            self._by_endpoint.setdefault(endpoint_id, set()).add(watch)
        if self._identities is not None and (digest := watch.token_digest) is not None:
            self._identities.stand(digest, watch.current_identity)
        if self._task is None or self._task.done():
            self._checked_at = None  # sockets of a while ago: their first check reads all
            self._task = asyncio.create_task(self._run())

    def discard(self, watch: CredentialWatch) -> None:
        if self._identities is not None and (digest := watch.token_digest) is not None:
            self._identities.sit(digest, watch.current_identity)
        endpoint_id = self._watches.pop(watch, None)
        same = self._by_endpoint.get(endpoint_id) if endpoint_id is not None else None
        if endpoint_id is not None and same is not None:
            same.discard(watch)
            if not same:
                del self._by_endpoint[endpoint_id]

    def __len__(self) -> int:
        return len(self._watches)

    async def check_all(self, *, full: bool = False) -> int:
        """Check every endpoint socket once; return how many lapsed.

        Reads only the rows whose credentials changed since the previous check began (and the
        margin before it); every row when `full`, on the first check and every `full_every`.
        """
        now = self._clock()
        checked, fully = self._checked_at, self._fully_checked_at
        if checked is None or fully is None or now - fully >= self._full_every:
            full = True
        window = CHANGE_MARGIN_SECONDS + (now - checked if checked is not None else 0.0)
        if full:
            watches = [watch for watch in self._watches if not watch.lapsed]
            ids = {watch.endpoint_id for watch in watches if watch.endpoint_id is not None}
            rows = await self._read_all(list(ids))
        else:
            rows = await self._read_changed(window)
            # Only the sockets of changed rows: the others' credentials were found good.
            watches = [
                watch
                for endpoint_id in rows
                for watch in tuple(self._by_endpoint.get(endpoint_id, ()))
                if not watch.lapsed
            ]
        self._checked_at = now
        if full:
            self._fully_checked_at = now
        self.rows_read = len(rows)
        lapsed = 0
        for watch in watches:
            endpoint_id = watch.endpoint_id
            lapse = watch.still_stands(rows.get(endpoint_id))  # type: ignore[arg-type]
            if lapse is not None:
                lapsed += 1
                # Each socket closes on its own: one slow peer must not hold up the others.
                task = asyncio.create_task(watch.lapse(lapse))
                _closing.add(task)
                task.add_done_callback(_closing.discard)
        return lapsed

    async def _read_all(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        rows: dict[uuid.UUID, Any] = {}
        for start in range(0, len(ids), ENDPOINT_CHUNK):
            chunk = ids[start : start + ENDPOINT_CHUNK]
            async with self._session() as session:
                result = await session.execute(select(*_COLUMNS).where(Endpoint.id.in_(chunk)))
                rows.update({row.id: row for row in result})
        return rows

    async def _read_changed(self, seconds: float) -> dict[uuid.UUID, Any]:
        # Every tenant's changed rows, through the index; this process's are kept.
        async with self._session() as session:
            dialect = session.get_bind().dialect.name
            result = await session.execute(
                select(*_COLUMNS).where(changed_within(dialect, seconds))
            )
            return {row.id: row for row in result if row.id in self._by_endpoint}

    async def _run(self) -> None:
        while self._watches:
            await asyncio.sleep(self._interval)
            try:
                await self.check_all()
            except Exception as error:
                # The database is away: that is no lapse. The next interval decides; the
                # outage itself is logged once by the dependency tracker.
                if unavailability(error) is None:
                    logger.warning(
                        "re-checking endpoint sockets' credentials failed", exc_info=True
                    )


_COLUMNS = (Endpoint.id, Endpoint.token_hash, Endpoint.labels, Endpoint.revoked_at)
_closing: set[asyncio.Task[None]] = set()
