"""Strawberry's two WebSocket protocols, with shared subscriptions sent from one encoding.

An operation that `SubscriptionGroups.key_for` accepts joins its group (see `groups.py`) and
sends each encoded result with its own operation id spliced into the frame: one string
concatenation and one socket write per subscriber, instead of a GraphQL execution and a JSON
encoding. Everything else (queries, unshared or unauthenticated subscriptions, errors before
execution) takes Strawberry's own path, so the protocols behave exactly as before.

Both handlers also enforce the socket limits of `sockets.py`: a principal's sockets are counted
from the accepted `connection_init` until the socket closes, a socket runs a bounded number of
operations at once, and a socket that never sends `connection_init` is closed after the init
timeout (Strawberry does that for `graphql-transport-ws`; `graphql-ws` gets it here).

And both check the socket's credential again before every operation and while operations run
(see `credentials.py`): a refused credential closes the socket with 4401 at `connection_init`,
a lapsed one ends the running operations and closes it with 4401 or 4403.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any, Protocol, cast

from graphql import GraphQLError, GraphQLFormattedError
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,  # raised by the base class when it closed the socket itself
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportErrorMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    CompleteMessage,
    ConnectionErrorMessage,
    ErrorMessage,
    StartMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.types.execution import PreExecutionError

from crontopus.server.availability import Unavailable
from crontopus.server.graphql.channel.fanout import ChannelFanout
from crontopus.server.graphql.context import Context
from crontopus.server.graphql.credentials import (
    UNAUTHENTICATED_CLOSE,
    CredentialWatch,
    EndpointWatches,
    Lapse,
    close_reason,
)
from crontopus.server.graphql.groups import Delivery, SubscriptionGroups
from crontopus.server.graphql.sockets import POLICY_VIOLATION, SocketLimits, TooManySockets
from crontopus.server.security.identity_cache import Identity

# RFC 6455's "Try Again Later": a client reconnects after the reason's delay, where 4403 would
# tell it that its credentials were refused.
TRY_AGAIN_LATER = 1013
#: graphql-transport-ws closes a socket that sent no connection_init in time with this code.
INIT_TIMEOUT_CODE = 4408


def _close_reason(problem: Unavailable) -> str:
    # A close frame's reason holds at most 123 bytes.
    return f"{problem.dependency.label} unavailable; reconnect in {problem.retry_after} s"[:123]


class GroupedView(Protocol):
    """The GraphQL view: the process's subscription groups and how it authenticates."""

    subscription_groups: SubscriptionGroups
    channel_fanout: ChannelFanout

    async def authenticate_connection(
        self, context: Context, params: dict[str, Any]
    ) -> str | None: ...

    async def identify(self, token: str) -> Identity: ...

    endpoint_watches: EndpointWatches


def _shared_stream(
    view: GroupedView, context: Context, query: object, variables: object, operation_name: object
) -> AsyncGenerator[Delivery, None] | None:
    """The deliveries of a shared subscription or agent channel; None to run on its own."""
    key = view.subscription_groups.key_for(context, query, variables, operation_name)
    if key is not None:
        return view.subscription_groups.stream(key, context)
    channel = view.channel_fanout.key_for(context, query, variables, operation_name)
    if channel is not None:
        return view.channel_fanout.stream(channel, context)
    return None


def _view(handler: object) -> GroupedView:
    return cast(GroupedView, handler.view)  # type: ignore[attr-defined]


class LimitedView(Protocol):
    """A GraphQL view that bounds its sockets."""

    socket_limits: SocketLimits
    connection_init_wait_timeout: timedelta


def _too_many_operations(view: object) -> GraphQLFormattedError:
    limits = cast(LimitedView, view).socket_limits
    return GraphQLError(
        limits.subscription_refusal(),
        extensions={"code": "TOO_MANY_OPERATIONS", "limit": limits.subscriptions},
    ).formatted


async def _send_text(adapter: object, text: str) -> None:
    try:
        await cast(ASGIWebSocketAdapter, adapter).ws.send_text(text)
    except WebSocketDisconnect as error:
        raise WebSocketDisconnected from error


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """`graphql-transport-ws`, with shared subscriptions, socket limits and credential checks."""

    watch: CredentialWatch | None = None

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            cast(LimitedView, self.view).socket_limits.release(self.context)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        if isinstance(payload, dict) and not self.connection_init_received:
            refusal = await _view(self).authenticate_connection(self.context, payload)
            if refusal is not None and self.context.unavailable is None:
                # Refused before the acknowledgement: 4401 says "log in", not Strawberry's 4403.
                self.connection_init_received = True
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                await self.websocket.close(code=UNAUTHENTICATED_CLOSE, reason=close_reason(refusal))
                return
        try:
            await super().handle_connection_init(message)
        except Unavailable as problem:
            await self.websocket.close(code=TRY_AGAIN_LATER, reason=_close_reason(problem))
        except TooManySockets as refusal:
            await self.websocket.close(code=POLICY_VIOLATION, reason=refusal.reason)
        if self.connection_acknowledged:
            view = _view(self)
            self.watch = CredentialWatch(
                self.context, view.identify, self._end, endpoints=view.endpoint_watches
            )
            self.watch.start()

    async def _end(self, lapse: Lapse) -> None:
        """End every running operation with the lapse's error, then close the socket."""
        for operation in list(self.operations.values()):
            with contextlib.suppress(Exception):
                await operation.send_operation_message(
                    TransportErrorMessage(id=operation.id, type="error", payload=[lapse.error])
                )
        with contextlib.suppress(Exception):
            await self.websocket.close(code=lapse.close_code, reason=lapse.reason)

    async def shutdown(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        await super().shutdown()

    async def handle_subscribe(self, message: Any) -> None:
        if self.watch is not None and not await self.watch.check():
            return
        limit = cast(LimitedView, self.view).socket_limits.subscriptions
        operation_id = message["id"]  # a KeyError is Strawberry's "Failed to parse message"
        if (
            self.connection_acknowledged
            and operation_id not in self.operations
            and len(self.operations) >= limit
        ):
            refusal: TransportErrorMessage = {
                "id": operation_id,
                "type": "error",
                "payload": [_too_many_operations(self.view)],
            }
            await self.send_message(refusal)
            return
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        stream = _shared_stream(
            _view(self),
            self.context,
            operation.query,
            operation.variables,
            operation.operation_name,
        )
        if stream is None:
            await super().run_operation(operation)
            return
        head = '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":'
        try:
            async with contextlib.aclosing(stream) as deliveries:
                async for delivery in deliveries:
                    if isinstance(delivery, PreExecutionError):
                        await self._handle_pre_execution_error(operation, delivery)
                        break
                    if operation.completed:
                        break
                    await _send_text(self.websocket, head + delivery + "}")
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return  # a document that cannot run: the base class closed the socket
        except WebSocketDisconnected:
            # The subscriber went away mid-send: nothing to answer and nothing to log.
            self.operations.pop(operation.id, None)
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise


class GraphQLWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy `graphql-ws` protocol, with shared subscriptions, limits and credential checks.

    The protocol has no close codes of its own; a lapsed credential closes with 4401/4403 all
    the same.
    """

    watch: CredentialWatch | None = None

    init_received = False

    async def handle(self) -> None:
        timeout = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            timeout.cancel()
            cast(LimitedView, self.view).socket_limits.release(self.context)

    async def _close_unless_initialised(self) -> None:
        wait = cast(LimitedView, self.view).connection_init_wait_timeout.total_seconds()
        await asyncio.sleep(wait)
        if not self.init_received:
            with contextlib.suppress(Exception):  # the peer may be gone already
                await self.websocket.close(
                    code=INIT_TIMEOUT_CODE, reason="Connection initialisation timeout"
                )

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        self.init_received = True
        payload = message.get("payload") or {}
        if isinstance(payload, dict):
            refusal = await _view(self).authenticate_connection(self.context, payload)
            if refusal is not None and self.context.unavailable is None:
                await self.send_message(
                    ConnectionErrorMessage(type="connection_error", payload={"message": refusal})
                )
                await self.websocket.close(code=UNAUTHENTICATED_CLOSE, reason=close_reason(refusal))
                return
        try:
            await super().handle_connection_init(message)
        except Unavailable as problem:
            await self.send_message(
                ConnectionErrorMessage(
                    type="connection_error", payload={"message": problem.message}
                )
            )
            await self.websocket.close(code=TRY_AGAIN_LATER, reason=_close_reason(problem))
        except TooManySockets as refusal:
            await self.send_message(
                ConnectionErrorMessage(type="connection_error", payload={"message": refusal.reason})
            )
            await self.websocket.close(code=POLICY_VIOLATION, reason=refusal.reason)
        if self.connection_acknowledged:
            view = _view(self)
            self.watch = CredentialWatch(
                self.context, view.identify, self._end, endpoints=view.endpoint_watches
            )
            self.watch.start()

    async def _end(self, lapse: Lapse) -> None:
        """End every running operation with the lapse's error, then close the socket."""
        for operation_id in list(self.tasks):
            with contextlib.suppress(Exception):
                await self.send_message(
                    ErrorMessage(type="error", id=operation_id, payload=lapse.error)
                )
        with contextlib.suppress(Exception):
            await self.websocket.close(code=lapse.close_code, reason=lapse.reason)

    async def cleanup(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        await super().cleanup()

    async def handle_start(self, message: StartMessage) -> None:
        if self.watch is not None and not await self.watch.check():
            return
        limit = cast(LimitedView, self.view).socket_limits.subscriptions
        operation_id = message["id"]
        if (
            self.connection_acknowledged
            and operation_id not in self.tasks
            and len(self.tasks) >= limit
        ):
            error = _too_many_operations(self.view)
            await self.send_message(ErrorMessage(type="error", id=operation_id, payload=error))
            return
        await super().handle_start(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        stream = _shared_stream(_view(self), self.context, query, variables, operation_name)
        if stream is None:
            await super().handle_async_results(operation_id, query, operation_name, variables)
            return
        head = '{"type":"data","id":' + json.dumps(operation_id) + ',"payload":'
        try:
            async with contextlib.aclosing(stream) as deliveries:
                async for delivery in deliveries:
                    if isinstance(delivery, PreExecutionError):
                        assert delivery.errors
                        await self.send_message(
                            ErrorMessage(
                                type="error", id=operation_id, payload=delivery.errors[0].formatted
                            )
                        )
                        return
                    await _send_text(self.websocket, head + delivery + "}")
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except asyncio.CancelledError:
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except WebSocketDisconnected:
            pass  # the subscriber went away mid-send: nothing to answer and nothing to log
        finally:
            # As Strawberry's own path: the id is free again and no longer counts.
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)
