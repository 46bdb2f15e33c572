"""GraphQL subscription `agentEvents`: an agent's channel, opened with its endpoint token.

What a subscriber receives depends on its endpoint id and labels. On a WebSocket the process's
channels of one tenant share one run of this resolver (`fanout.py`): that run yields every
notice of the tenant and names each one's audience in `context.channel_feed`; each socket's
greeting (CONNECTED with HEAD) is a run of its own. Without a feed (an unshared run) the
resolver filters for its own endpoint and keeps the endpoint present itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import strawberry

from crontopus.server.events.codec import read_event
from crontopus.server.events.event import Event
from crontopus.server.events.topics import AgentEventKind, AgentNotice
from crontopus.server.graphql.channel.types import AgentEvent
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.credentials import relabel
from crontopus.server.services.channel import concerns
from crontopus.server.services.endpoints import require_endpoint


@strawberry.type
class ChannelSubscriptions:
    @strawberry.subscription(
        description=(
            "The agent channel (endpoint tokens only): first CONNECTED with the repository's"
            " HEAD, then this endpoint's repository changes, run requests, label changes and"
            " revocation."
        )
    )
    async def agent_events(self, info: Info) -> AsyncGenerator[AgentEvent, None]:
        context = info.context
        principal = context.require_principal()
        endpoint_id = require_endpoint(principal, "The agent channel")
        feed = context.channel_feed
        if feed is not None and feed.greeting:
            head = await context.gitstore.head(principal.tenant_slug)
            yield AgentEvent(kind=AgentEventKind.CONNECTED, commit_id=head)
            return
        labels = dict(principal.endpoint_labels)
        source = context.broadcaster.subscribe(principal.tenant_id, AgentNotice.TOPIC)
        # Subscribed before HEAD is read: a commit landing in between is told, never missed.
        pending = asyncio.ensure_future(anext(source))
        # A shared run's presence is its members' (fanout.py), not the first subscriber's.
        channels = context.channels if feed is None else None
        if channels is not None:
            channels.opened(endpoint_id)
        try:
            await asyncio.sleep(0)
            head = await context.gitstore.head(principal.tenant_slug)
            yield AgentEvent(kind=AgentEventKind.CONNECTED, commit_id=head)
            try:
                first = await pending
            except StopAsyncIteration:
                return
            async for event in _chain(first, source):
                notice = read_event(event, AgentNotice)
                if feed is not None:
                    feed.notice = notice
                    yield _agent_event(notice)
                    continue
                if concerns(notice, endpoint_id, labels):
                    if notice.kind is AgentEventKind.LABELS_CHANGED:
                        labels = dict(notice.labels or {})
                        relabel(context, labels)
                    told = _agent_event(notice)
                    yield told
                    if told.kind is AgentEventKind.REVOKED:
                        return
        finally:
            if channels is not None:
                channels.closed(endpoint_id)
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
            with contextlib.suppress(BaseException):
                await source.aclose()  # type: ignore[attr-defined]


async def _chain(first: Event, rest: AsyncIterator[Event]) -> AsyncIterator[Event]:
    yield first
    async for event in rest:
        yield event


def _agent_event(notice: AgentNotice) -> AgentEvent:
    return AgentEvent(
        kind=notice.kind,
        commit_id=notice.commit,
        job_id=notice.job_id,
        request_id=notice.request_id,
    )
