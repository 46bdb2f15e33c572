"""Agent channels fed from one execution per tenant, instead of one per socket.

Every connected agent holds `agentEvents`, and a commit concerns most of a fleet: run per
socket, each announcement was decoded, executed through GraphQL and encoded once per agent
(~0.4 ms each, seconds for ten thousand agents), and each socket held its own event-bus
subscription. Here the channels of one tenant that send the same document share one run
(the resolver's `ChannelFeed` mode): each notice is executed and encoded once, and its text
queued to every member the notice concerns (`services.channel.concerns`, by endpoint id and
labels), whose socket splices in its own operation id, as `graphql/groups.py` does for shared
subscriptions.

A member is greeted on its own: it joins the group (whose event-bus subscription is live by
then), and only then reads HEAD, through a run of the resolver that yields just CONNECTED. A
commit landing in between is told after the greeting, never missed. The member also keeps its
endpoint present (`AgentChannels`) while it is in the group, and a REVOKED notice for its
endpoint ends its stream after being told, as an unshared run does. A LABELS_CHANGED notice
for its endpoint gives it (and its socket's principal) the new labels, which the commits after
it are filtered by.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace

import strawberry
from strawberry.types.execution import PreExecutionError

from crontopus.server.events.topics import AgentEventKind
from crontopus.server.graphql.context import ChannelFeed, Context
from crontopus.server.graphql.credentials import relabel
from crontopus.server.graphql.extensions import mask_errors
from crontopus.server.graphql.groups import (
    DEFAULT_CAPACITY,
    DEFAULT_MAX_LAG,
    Delivery,
    Member,
    encode_result,
    root_field,
)
from crontopus.server.security.principal import PrincipalKind
from crontopus.server.services.channel import concerns

logger = logging.getLogger("crontopus.server.graphql")

FIELD = "agentEvents"


@dataclass(frozen=True)
class ChannelKey:
    """Channels with equal keys get equal texts for the notices that concern them."""

    tenant_id: uuid.UUID
    query: str
    operation_name: str | None
    variables: str


class _Listener(Member):
    __slots__ = ("context", "endpoint_id", "labels")

    def __init__(self, context: Context, capacity: int, max_lag: float) -> None:
        super().__init__(FIELD, capacity, max_lag)
        principal = context.principal
        assert principal is not None
        assert principal.endpoint_id is not None
        self.context = context
        self.endpoint_id = principal.endpoint_id
        self.labels = dict(principal.endpoint_labels)


class _Channel:
    """One tenant's shared run and the sockets it feeds."""

    def __init__(self, key: ChannelKey) -> None:
        self.key = key
        self.members: set[_Listener] = set()
        self.ready: asyncio.Future[PreExecutionError | None] = (
            asyncio.get_running_loop().create_future()
        )
        self.task: asyncio.Task[None] | None = None


class ChannelFanout:
    """The shared agent channels of one server process."""

    def __init__(
        self,
        schema: strawberry.Schema,
        capacity: int = DEFAULT_CAPACITY,
        max_lag: float = DEFAULT_MAX_LAG,
    ) -> None:
        self._schema = schema
        self._capacity = capacity
        self._max_lag = max_lag
        self._channels: dict[ChannelKey, _Channel] = {}

    def key_for(
        self, context: Context, query: object, variables: object, operation_name: object
    ) -> ChannelKey | None:
        """Return the shared channel an operation may join, or None to run it on its own."""
        principal = context.principal
        if principal is None or principal.kind is not PrincipalKind.ENDPOINT:
            return None
        if not isinstance(query, str) or principal.endpoint_id is None:
            return None
        if operation_name is not None and not isinstance(operation_name, str):
            return None
        if root_field(query, operation_name) != FIELD:
            return None
        try:
            frozen = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            return None
        return ChannelKey(principal.tenant_id, query, operation_name, frozen)

    def group_count(self) -> int:
        return len(self._channels)

    def member_count(self) -> int:
        return sum(len(channel.members) for channel in self._channels.values())

    async def stream(self, key: ChannelKey, context: Context) -> AsyncGenerator[Delivery, None]:
        """Yield the socket's greeting, then the texts of the notices that concern it."""
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = _Channel(key)
            channel.task = asyncio.create_task(self._run(channel, context))
            channel.task.add_done_callback(_retrieve)
        member = _Listener(context, self._capacity, self._max_lag)
        channel.members.add(member)
        presence = context.channels
        if presence is not None:
            presence.opened(member.endpoint_id)
        try:
            failure = await asyncio.shield(channel.ready)
            if failure is not None:
                yield failure
                return
            greeting = await self._greeting(key, context)
            if greeting is None:
                return
            yield greeting
            if isinstance(greeting, PreExecutionError):
                return
            while (delivery := await member.next()) is not None:
                yield delivery
        finally:
            if presence is not None:
                presence.closed(member.endpoint_id)
            channel.members.discard(member)
            if not channel.members:
                self._close(channel)

    async def _greeting(self, key: ChannelKey, context: Context) -> Delivery | None:
        source = await self._schema.subscribe(
            key.query,
            variable_values=json.loads(key.variables),
            context_value=replace(context, channel_feed=ChannelFeed(greeting=True)),
            operation_name=key.operation_name,
        )
        if isinstance(source, PreExecutionError):
            return source
        async with contextlib.aclosing(source):
            async for result in source:
                if isinstance(result, PreExecutionError):
                    return result
                if result.errors:
                    result.errors = mask_errors(result.errors, context)
                return encode_result(result)
        return None

    def _close(self, channel: _Channel) -> None:
        if self._channels.get(channel.key) is channel:
            del self._channels[channel.key]
        if channel.task is not None and not channel.task.done():
            channel.task.cancel()

    async def _run(self, channel: _Channel, context: Context) -> None:
        key = channel.key
        feed = ChannelFeed(greeting=False)
        try:
            source = await self._schema.subscribe(
                key.query,
                variable_values=json.loads(key.variables),
                context_value=replace(context, channel_feed=feed),
                operation_name=key.operation_name,
            )
            if isinstance(source, PreExecutionError):
                channel.ready.set_result(source)
                return
            async with contextlib.aclosing(source):
                async for result in source:
                    if isinstance(result, PreExecutionError):
                        if not channel.ready.done():
                            channel.ready.set_result(result)
                        return
                    if not channel.ready.done():
                        # The run's own greeting: its event-bus subscription is live now.
                        channel.ready.set_result(None)
                        continue
                    notice, feed.notice = feed.notice, None
                    if result.errors:
                        result.errors = mask_errors(result.errors, context)
                    text, now = encode_result(result), time.monotonic()
                    for member in list(channel.members):
                        if notice is None:
                            member.offer(text, now)  # an error: the run ends for everyone
                        elif concerns(notice, member.endpoint_id, member.labels):
                            member.offer(text, now)
                            if notice.kind is AgentEventKind.REVOKED:
                                member.end()
                            elif notice.kind is AgentEventKind.LABELS_CHANGED:
                                member.labels = dict(notice.labels or {})
                                relabel(member.context, member.labels)
        except Exception:
            logger.exception("the shared agent channel failed")
        finally:
            if self._channels.get(key) is channel:
                del self._channels[key]
            if not channel.ready.done():
                channel.ready.set_result(None)
            for member in list(channel.members):
                member.end()


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
