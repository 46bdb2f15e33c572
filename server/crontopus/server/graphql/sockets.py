"""Bounds on GraphQL WebSockets: sockets per principal and operations per socket.

Every open socket holds memory and, once subscribed, a share of every event's fan-out, so one
user, token or agent may keep only so many open at a time (counted in this server process),
and one socket only so many operations. A socket counts from its accepted `connection_init`
until it closes; until then it is bounded by the init timeout instead.
"""

from __future__ import annotations

from crontopus.server.graphql.context import Context
from crontopus.server.security.principal import PrincipalKind
from crontopus.server.settings import TransportLimits

#: Where an admitted socket keeps its key in the context, to be released once.
#: The close code of a refused socket: "policy violation".
POLICY_VIOLATION = 1008


class TooManySockets(Exception):
    """The principal already has as many sockets open as it may."""

    def __init__(self, limit: int) -> None:
        # A close reason is at most 123 bytes: this one stays well under.
        self.reason = f"too many sockets: at most {limit} per user, token or endpoint"
        super().__init__(self.reason)


class SocketLimits:
    """The open sockets of each principal in this process, and the per-socket limits."""

    def __init__(self, limits: TransportLimits) -> None:
        self.per_principal = limits.sockets_per_principal
        self.subscriptions = limits.subscriptions_per_socket
        self.open: dict[str, int] = {}

    def admit(self, context: Context) -> None:
        """Count the socket of `context` against its principal, or refuse it."""
        if context.socket_key is not None:
            return  # a second connection_init (graphql-ws allows it) is the same socket
        key = _key_of(context)
        count = self.open.get(key, 0)
        if count >= self.per_principal:
            raise TooManySockets(self.per_principal)
        self.open[key] = count + 1
        context.socket_key = key

    def release(self, context: Context) -> None:
        """Stop counting the socket of `context` (it closed)."""
        key, context.socket_key = context.socket_key, None
        if key is None:
            return
        count = self.open.get(key, 0) - 1
        if count > 0:
            self.open[key] = count
        else:
            self.open.pop(key, None)

    def subscription_refusal(self) -> str:
        """The message answering one operation too many on a socket."""
        return (
            f"Too many operations on this socket: at most {self.subscriptions} run at once; "
            "complete one first or open another socket (the server's operator sets this "
            "limit with CRONTOPUS_MAX_SUBSCRIPTIONS_PER_SOCKET)"
        )


def _key_of(context: Context) -> str:
    principal = context.principal
    if principal is None:
        return f"address:{context.client_address}"
    if principal.kind is PrincipalKind.ENDPOINT:
        return f"endpoint:{principal.endpoint_id}"
    # A person's sockets count together, whether opened with a session or an API token.
    return f"user:{principal.user_id}"
