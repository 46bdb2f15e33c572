"""Dependencies the server cannot serve without, and how it behaves while one is away.

The contract (docs/reliability.md): a request that needs a dependency which is unavailable is
answered 503 with `Retry-After` (HTTP) or a GraphQL error with code `UNAVAILABLE`, never a 500;
the process logs one warning when a dependency goes away and one when it returns, never a
traceback per request; `/ready` and the `crontopus_dependency_up` gauge report it meanwhile.

`unavailability(error)` tells a dependency failure (a refused connection, a full disk, a lock
held too long) from a bug; `DependencyTracker` keeps the state of each dependency and probes
one that went away until it answers again, so its return is noticed without traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol

import asyncpg
from sqlalchemy import exc as sa_exc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ExceptionHandler

logger = logging.getLogger("crontopus.server.dependencies")

#: What a 503 tells a client to wait before retrying; the agent's spool backs off on its own.
RETRY_AFTER_SECONDS = 5
#: How often a dependency that went away is probed until it answers again.
PROBE_INTERVAL = 1.0

# PostgreSQL error classes that mean "the server cannot serve now", not "this query is wrong":
# 08 connection exception, 53 insufficient resources (disk full, too many connections),
# 57 operator intervention (shutdown, statement timeout), 58 system error (I/O).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58"})
# 55P03: a lock was not granted within lock_timeout (a slow or stuck transaction elsewhere).
_UNAVAILABLE_SQLSTATES = frozenset({"55P03"})
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
_DISK_MESSAGES = tuple(os.strerror(code) for code in sorted(_DISK_ERRNOS))


class _Setting(Protocol):
    def set(self, value: float) -> None: ...


class _Counting(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class DependencyMetrics(Protocol):
    """The two metrics the tracker keeps (`observability.metrics.Metrics` has them)."""

    @property
    def dependency_up(self) -> _LabelledGauge: ...

    @property
    def unavailable_answers(self) -> _LabelledCounter: ...


class _LabelledGauge(Protocol):
    def labels(self, *values: str) -> _Setting: ...


class _LabelledCounter(Protocol):
    def labels(self, *values: str) -> _Counting: ...


class Dependency(enum.Enum):
    """Something outside the process that requests need."""

    DATABASE = "database"
    GIT_STORE = "gitStore"

    @property
    def label(self) -> str:
        return "database" if self is Dependency.DATABASE else "Git store"


class Unavailable(Exception):
    """A dependency cannot serve now; the caller should retry after `retry_after` seconds."""

    def __init__(
        self, dependency: Dependency, reason: str, retry_after: int = RETRY_AFTER_SECONDS
    ) -> None:
        self.dependency = dependency
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return (
            f"the {self.dependency.label} is unavailable ({self.reason}); "
            f"nothing was changed: retry in {self.retry_after} s"
        )


def unavailability(error: BaseException) -> Unavailable | None:
    """Return what `error` says about a dependency being away, or None if it is a bug."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Unavailable):
            return current
        found = _classify(current, error)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _classify(error: BaseException, outer: BaseException) -> Unavailable | None:
    if isinstance(error, sa_exc.TimeoutError):
        return Unavailable(Dependency.DATABASE, "no connection became free in time")
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        ):
            return Unavailable(Dependency.DATABASE, _reason(error.orig or error))
        sqlstate = _sqlstate(error)
        if _unavailable_sqlstate(sqlstate):
            return Unavailable(Dependency.DATABASE, _reason(error.orig or error))
        return None
    if isinstance(error, sqlite3.OperationalError):
        return Unavailable(Dependency.DATABASE, _reason(error))
    if type(error).__module__.startswith("asyncpg"):
        sqlstate = getattr(error, "sqlstate", None)
        if type(error).__name__ in (
            "InterfaceError",
            "ConnectionDoesNotExistError",
        ) or _unavailable_sqlstate(sqlstate):
            return Unavailable(Dependency.DATABASE, _reason(error))
        return None
    if isinstance(error, ConnectionError | TimeoutError) or (
        isinstance(error, OSError) and error.errno in _DISK_ERRNOS
    ):
        return Unavailable(_owner(outer), _reason(error))
    # libgit2 reports a full disk as an OSError (or GitError) without errno, in its message.
    from_git = type(error).__module__.startswith("pygit2")
    if (isinstance(error, OSError) or from_git) and any(m in str(error) for m in _DISK_MESSAGES):
        return Unavailable(_owner(outer), _reason(error))
    return None


def _unavailable_sqlstate(sqlstate: object) -> bool:
    return isinstance(sqlstate, str) and (
        sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in _UNAVAILABLE_SQLSTATES
    )


def _sqlstate(error: sa_exc.DBAPIError) -> str | None:
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        sqlstate = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(sqlstate, str):
            return sqlstate
    return None


def _owner(error: BaseException) -> Dependency:
    """Tell which dependency a bare OS error came from, by the code it was raised in."""
    tb: TracebackType | None = error.__traceback__
    owner = Dependency.DATABASE
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("pygit2", "crontopus.server.gitstore")):
            owner = Dependency.GIT_STORE
        elif module.startswith(("sqlalchemy", "asyncpg", "aiosqlite")):
            return Dependency.DATABASE
        tb = tb.tb_next
    return owner


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    return f"{name}: {text[:200]}" if text else name


@dataclass
class DependencyState:
    """What is known of one dependency now."""

    up: bool = True
    since: float = 0.0
    changed_at: datetime | None = None
    reason: str = ""
    refused: int = 0  # failures met while it was away


Probe = Callable[[], Awaitable[None]]


class DependencyTracker:
    """The up/down state of each dependency, logged on change and exported as a gauge."""

    def __init__(
        self,
        probes: Mapping[Dependency, Probe] | None = None,
        metrics: DependencyMetrics | None = None,
        *,
        probe_interval: float = PROBE_INTERVAL,
        probe_timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probes = dict(probes or {})
        self._metrics = metrics
        self._interval = probe_interval
        # Longer than the database's own waits: a probe cancelled inside a driver call could
        # hand a connection back to the pool in the middle of it.
        self._probe_timeout = probe_timeout
        self._clock = clock
        self._states = {dependency: DependencyState() for dependency in Dependency}
        self._up_events: dict[Dependency, asyncio.Event] = {}
        self._probing: dict[Dependency, asyncio.Task[None]] = {}
        if metrics is not None:
            for dependency in Dependency:
                metrics.dependency_up.labels(dependency.value).set(1)

    def state(self, dependency: Dependency) -> DependencyState:
        return self._states[dependency]

    def is_up(self, dependency: Dependency) -> bool:
        return self._states[dependency].up

    def report(self) -> dict[str, dict[str, object]]:
        """The state of every dependency, for `/ready`."""
        out: dict[str, dict[str, object]] = {}
        for dependency, state in self._states.items():
            entry: dict[str, object] = {"status": "up" if state.up else "unavailable"}
            if state.changed_at is not None:
                entry["since"] = state.changed_at.isoformat(timespec="seconds")
            if not state.up:
                entry["reason"] = state.reason
            out[dependency.value] = entry
        return out

    def failed(self, problem: Unavailable) -> None:
        """Record a request that met `problem`; log only when the dependency just went away."""
        dependency = problem.dependency
        state = self._states[dependency]
        state.refused += 1
        if self._metrics is not None:
            self._metrics.unavailable_answers.labels(dependency.value).inc()
        if not state.up:
            return
        state.up = False
        state.since = self._clock()
        state.changed_at = datetime.now(UTC)
        state.reason = problem.reason
        state.refused = 1
        self._event(dependency).clear()
        if self._metrics is not None:
            self._metrics.dependency_up.labels(dependency.value).set(0)
        logger.warning(
            "the %s is unavailable (%s): requests that need it are answered 503 with "
            "Retry-After until it returns",
            dependency.label,
            problem.reason,
            extra={"dependency": dependency.value},
        )
        self._start_probe(dependency)

    def succeeded(self, dependency: Dependency) -> None:
        """Record that `dependency` served a request (or a probe); log if it just returned."""
        state = self._states[dependency]
        if state.up:
            return
        state.up = True
        seconds = self._clock() - state.since
        state.changed_at = datetime.now(UTC)
        self._event(dependency).set()
        if self._metrics is not None:
            self._metrics.dependency_up.labels(dependency.value).set(1)
        logger.warning(
            "the %s is back after %.1f s (%d failed requests or batches meanwhile)",
            dependency.label,
            seconds,
            state.refused,
            extra={"dependency": dependency.value, "outage_seconds": round(seconds, 1)},
        )
        state.reason = ""

    async def wait_up(self, dependency: Dependency, seconds: float) -> bool:
        """Wait at most `seconds` for `dependency` to be up; return whether it is."""
        if self.is_up(dependency):
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event(dependency).wait(), seconds)
        return self.is_up(dependency)

    async def stop(self) -> None:
        """Stop probing."""
        tasks = list(self._probing.values())
        self._probing.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _event(self, dependency: Dependency) -> asyncio.Event:
        event = self._up_events.get(dependency)
        if event is None:
            event = self._up_events[dependency] = asyncio.Event()
            if self._states[dependency].up:
                event.set()
        return event

    def _start_probe(self, dependency: Dependency) -> None:
        probe = self._probes.get(dependency)
        if probe is None or dependency in self._probing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._probe(dependency, probe), name=f"probe-{dependency.value}")
        self._probing[dependency] = task
        task.add_done_callback(lambda _: self._probing.pop(dependency, None))

    async def _probe(self, dependency: Dependency, probe: Probe) -> None:
        while not self.is_up(dependency):
            await asyncio.sleep(self._interval)
            if self.is_up(dependency):
                return
            try:
                await asyncio.wait_for(probe(), timeout=self._probe_timeout)
            except Exception as error:  # still away; the reason may have changed
                problem = unavailability(error)
                if problem is None:
                    logger.debug("probing the %s failed", dependency.label, exc_info=error)
                else:
                    self._states[dependency].reason = problem.reason
                continue
            self.succeeded(dependency)


def log_failure(
    log: logging.Logger,
    tracker: DependencyTracker | None,
    error: BaseException,
    message: str,
    *args: object,
) -> None:
    """Log a background failure: once per outage when a dependency is away, else in full."""
    problem = unavailability(error)
    if problem is not None and tracker is not None:
        tracker.failed(problem)
    else:
        log.error(message, *args, exc_info=error)


def unavailable_body(problem: Unavailable, *, graphql: bool) -> dict[str, object]:
    """The JSON of a 503: a GraphQL result on /graphql, the check-in shape elsewhere."""
    if graphql:
        return {"data": None, "errors": [graphql_error_payload(problem)]}
    return {
        "ok": False,
        "error": problem.message,
        "dependency": problem.dependency.value,
        "retryAfterSeconds": problem.retry_after,
    }


def graphql_error_payload(problem: Unavailable) -> dict[str, object]:
    return {"message": problem.message, "extensions": unavailable_extensions(problem)}


def unavailable_extensions(problem: Unavailable) -> dict[str, object]:
    """The `extensions` of a GraphQL error for `problem` (code UNAVAILABLE)."""
    return {
        "code": "UNAVAILABLE",
        "dependency": problem.dependency.value,
        "retryAfterSeconds": problem.retry_after,
    }


def unavailable_handlers(tracker: DependencyTracker) -> dict[Any, ExceptionHandler]:
    """Starlette exception handlers: 503 with Retry-After for any HTTP request that fails on
    an absent dependency; anything else goes on to the server error handler (a 500).

    Routes answer the failures they expect themselves; these catch the rest (an identity lookup
    in the GraphQL context, a metrics scrape). Exception handlers cost nothing until something
    is raised, where a middleware would wrap every request on the check-in path.
    """

    async def answer(request: Request, error: Exception) -> Response:
        problem = unavailability(error)
        if problem is None or request.scope["type"] != "http":
            raise error
        tracker.failed(problem)
        body = unavailable_body(problem, graphql=request.url.path == "/graphql")
        return JSONResponse(
            body, status_code=503, headers={"Retry-After": str(problem.retry_after)}
        )

    kinds: tuple[type[Exception], ...] = (
        Unavailable,
        sa_exc.SQLAlchemyError,
        sqlite3.Error,
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    )
    return dict.fromkeys(kinds, answer)
