"""Shared execution of live subscriptions: one GraphQL execution per group, not per subscriber.

Strawberry runs a subscription's selection and serialises its result once per subscriber per
message (~120 µs), so a thousand dashboards watching runs would spend a core on identical
work. Subscribers whose results are necessarily equal form a group instead: same tenant and
same visibility (principal kind, role, token scopes, endpoint), same document, operation name
and variables. The group runs the subscription once, with its first member's context, encodes
each result to JSON once, and hands that text to every member, whose WebSocket handler splices
in its own operation id (see `graphql/websocket.py`).

Only fields marked `metadata=SHARED` are grouped, and only when the operation's single root
field is one of them: a field that reads the caller's user id (or anything else outside the
key) must not be marked. Everything else runs per subscriber, as before.

Every member has its own bounded queue of encoded messages: a member that lets `capacity`
messages pile up, or whose oldest waiting message is older than `max_lag` seconds, is cut off
with the same "resubscribe and reload" error a slow subscriber gets from the event bus, and
the others go on. When the last member leaves, the group's execution is closed (releasing its
event-bus subscription); the next subscriber starts a new group.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import strawberry
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.types.execution import ExecutionResult, PreExecutionError

from crontopus.server.graphql.context import Context
from crontopus.server.graphql.extensions import mask_errors
from crontopus.server.security.principal import Principal

logger = logging.getLogger("crontopus.server.graphql")

#: `@strawberry.subscription(metadata=SHARED)`: the field's results depend only on the
#: group key, so subscribers may share one execution.
SHARED: Final[Mapping[str, bool]] = {"crontopus.shared": True}

DEFAULT_CAPACITY = 1000
DEFAULT_MAX_LAG = 10.0

#: What a member receives: a result's payload as JSON text, or the error that ends the
#: operation before it started (validation, an unknown operation).
Delivery = str | PreExecutionError


@dataclass(frozen=True)
class GroupKey:
    """What a shared result depends on; subscribers with equal keys get equal results."""

    visibility: tuple[object, ...]
    query: str
    operation_name: str | None
    variables: str


def visibility_of(principal: Principal) -> tuple[object, ...]:
    """Return what decides which data `principal` may see (never its user or token id)."""
    return (
        principal.tenant_id,
        principal.kind,
        principal.role,
        tuple(sorted(principal.scopes)),
        principal.endpoint_id,
    )


def shared_fields(schema: strawberry.Schema) -> frozenset[str]:
    """Return the GraphQL names of the subscription fields marked `SHARED`."""
    subscription = schema._schema.subscription_type
    if subscription is None:
        return frozenset()
    names = set()
    for name, field in subscription.fields.items():
        definition = field.extensions.get("strawberry-definition")
        metadata = getattr(definition, "metadata", None) or {}
        if all(metadata.get(flag) == value for flag, value in SHARED.items()):
            names.add(name)
    return frozenset(names)


@functools.lru_cache(maxsize=256)
def root_field(query: str, operation_name: str | None) -> str | None:
    """Return the one root field of the subscription `query` runs, else None."""
    try:
        document = parse(query)
    except GraphQLError:
        return None  # the normal path reports the syntax error
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operations[0].selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    return selections[0].name.value


def encode_result(result: ExecutionResult) -> str:
    """Return the `payload` of a `next`/`data` message for `result`, as JSON text."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return json.dumps(payload, separators=(",", ":"))


class Member:
    """One subscriber's place in a group: a bounded queue of deliveries."""

    __slots__ = ("capacity", "ended", "field", "max_lag", "queue", "waiter")

    def __init__(self, field: str, capacity: int, max_lag: float) -> None:
        self.field = field
        self.capacity = capacity
        self.max_lag = max_lag
        self.queue: deque[tuple[Delivery, float]] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.ended = False

    def offer(self, delivery: Delivery, now: float) -> None:
        if self.ended:
            return
        if len(self.queue) >= self.capacity:
            problem = f"more than {self.capacity} {self.field} messages were waiting"
        elif self.queue and now - self.queue[0][1] > self.max_lag:
            # Behind in time though not in count, as the event bus measures it too.
            problem = f"{self.field} messages waited more than {self.max_lag:g} s"
        else:
            self.queue.append((delivery, now))
            self._wake()
            return
        self.queue.clear()
        message = f"{problem} for this subscriber; resubscribe and reload the current state"
        self.queue.append((json.dumps({"data": None, "errors": [{"message": message}]}), now))
        self.end()

    def end(self) -> None:
        """End the stream after what is queued."""
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self) -> Delivery | None:
        while not self.queue:
            if self.ended:
                return None
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.queue.popleft()[0]


class _Group:
    """One execution of a subscription and the members it feeds."""

    def __init__(self, key: GroupKey, field: str) -> None:
        self.key = key
        self.field = field
        self.members: set[Member] = set()
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    def offer(self, delivery: Delivery) -> None:
        now = time.monotonic()
        for member in list(self.members):
            member.offer(delivery, now)


class SubscriptionGroups:
    """The groups of one server process (one per GraphQL app)."""

    def __init__(
        self,
        schema: strawberry.Schema,
        capacity: int = DEFAULT_CAPACITY,
        max_lag: float = DEFAULT_MAX_LAG,
    ) -> None:
        self._schema = schema
        self._shared = shared_fields(schema)
        self._capacity = capacity
        self._max_lag = max_lag
        self._groups: dict[GroupKey, _Group] = {}

    def key_for(
        self,
        context: Context,
        query: object,
        variables: object,
        operation_name: object,
    ) -> GroupKey | None:
        """Return the group an operation may join, or None when it must run on its own."""
        principal = context.principal
        if principal is None or not isinstance(query, str):
            return None  # unauthenticated: the resolver's own check answers it
        if operation_name is not None and not isinstance(operation_name, str):
            return None
        if root_field(query, operation_name) not in self._shared:
            return None
        try:
            frozen = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            return None
        return GroupKey(visibility_of(principal), query, operation_name, frozen)

    async def stream(self, key: GroupKey, context: Context) -> AsyncGenerator[Delivery, None]:
        """Yield the group's deliveries from now on; join (or start) the group of `key`."""
        group = self._groups.get(key)
        if group is None:
            field = root_field(key.query, key.operation_name) or "subscription"
            group = self._groups[key] = _Group(key, field)
            group.task = asyncio.create_task(self._run(group, context))
            group.task.add_done_callback(_retrieve)
        member = Member(group.field, self._capacity, self._max_lag)
        group.members.add(member)
        try:
            while (delivery := await member.next()) is not None:
                yield delivery
        finally:
            group.members.discard(member)
            if not group.members:
                self._close(group)

    def group_count(self) -> int:
        return len(self._groups)

    def member_count(self) -> int:
        return sum(len(group.members) for group in self._groups.values())

    def _close(self, group: _Group) -> None:
        if self._groups.get(group.key) is group:
            del self._groups[group.key]
        group.closed = True
        if group.task is not None and not group.task.done():
            group.task.cancel()

    async def _run(self, group: _Group, context: Context) -> None:
        key = group.key
        try:
            source = await self._schema.subscribe(
                key.query,
                variable_values=json.loads(key.variables),
                context_value=context,
                operation_name=key.operation_name,
            )
            first = True
            async with contextlib.aclosing(source):
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        group.offer(result)
                        return
                    first = False
                    if result.errors:
                        # As on every other path: failures masked, outages UNAVAILABLE.
                        result.errors = mask_errors(result.errors, context)
                    group.offer(encode_result(result))
        except Exception:
            logger.exception("shared subscription %s failed", group.field)
        finally:
            # Members drain what they have, then complete; newcomers start a new group.
            if self._groups.get(key) is group:
                del self._groups[key]
            group.closed = True
            for member in list(group.members):
                member.end()


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


__all__ = ["SHARED", "GroupKey", "SubscriptionGroups", "shared_fields", "visibility_of"]
