"""Request bodies bounded per route, refused with 413 before they are read.

A declared `Content-Length` over the route's limit is answered at once, without reading a
byte of the body. A body without one (chunked) is counted as the route reads it; the read that
crosses the limit raises `BodyTooLarge`, and the client gets the same 413 unless the route had
already begun its answer. One middleware holds every limit so that no route can forget one.

Starlette's own `RequestBodyLimitMiddleware` answers a bare "Content Too Large" in plain text
once the route starts reading; this one answers before the route runs (no authentication, no
git process for a body that cannot be taken), in each route's own error format, naming the
limit and the setting that raises it.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crontopus.server.settings import MIB, TransportLimits


class BodyTooLarge(Exception):
    """A request body grew past its route's limit while being read."""


class Answer(enum.Enum):
    """How a route's clients expect to read an error."""

    GRAPHQL = "graphql"  # {"errors": [{"message": ..., "extensions": {...}}]}
    CHECKIN = "checkin"  # {"ok": false, "error": ...}, as the check-in route answers
    TEXT = "text"  # a line of plain text, which git prints


@dataclass(frozen=True)
class BodyRule:
    """The body limit of the paths starting with `prefix`."""

    prefix: str
    limit: int
    setting: str
    answer: Answer = Answer.TEXT

    def matches(self, path: str) -> bool:
        return path.startswith(self.prefix)

    def message(self, path: str) -> str:
        size = f"{self.limit // MIB} MiB" if self.limit % MIB == 0 else f"{self.limit // 1024} KiB"
        return (
            f"The request body is too large: {path} accepts at most {size} ({self.limit} bytes). "
            f"Send a smaller body; the server's operator sets this limit with {self.setting}."
        )

    def refusal(self, path: str) -> tuple[bytes, bytes]:
        """The 413 body and its content type."""
        message = self.message(path)
        if self.answer is Answer.GRAPHQL:
            extensions = {"code": "PAYLOAD_TOO_LARGE", "limit": self.limit}
            payload: object = {"errors": [{"message": message, "extensions": extensions}]}
        elif self.answer is Answer.CHECKIN:
            payload = {"ok": False, "error": message, "limit": self.limit}
        else:
            return (message + "\n").encode(), b"text/plain; charset=utf-8"
        return json.dumps(payload).encode(), b"application/json"


def body_rules(limits: TransportLimits) -> tuple[list[BodyRule], BodyRule]:
    """The per-route rules of the Crontopus app, and the rule for every other path."""
    rules = [
        BodyRule("/graphql", limits.graphql_body, "CRONTOPUS_MAX_GRAPHQL_BODY", Answer.GRAPHQL),
        BodyRule("/checkin/", limits.checkin_body, "CRONTOPUS_MAX_CHECKIN_BODY", Answer.CHECKIN),
        BodyRule("/git/", limits.git_body, "CRONTOPUS_MAX_GIT_BODY"),
        BodyRule("/git-hooks/", limits.git_hook_body, "CRONTOPUS_MAX_GIT_HOOK_BODY"),
    ]
    return rules, BodyRule("/", limits.other_body, "CRONTOPUS_MAX_REQUEST_BODY")


class BodyLimit:
    """ASGI middleware refusing request bodies over their route's limit with 413."""

    def __init__(self, app: ASGIApp, rules: Sequence[BodyRule], default: BodyRule) -> None:
        self.app = app
        self.rules = tuple(rules)
        self.default = default

    def rule_for(self, path: str) -> BodyRule:
        for rule in self.rules:
            if rule.matches(path):
                return rule
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        rule = self.rule_for(path)
        declared = _content_length(scope)
        if declared is not None and declared > rule.limit:
            await _refuse(rule, path, send)
            return
        if declared is not None:
            # The HTTP server frames the body by its Content-Length: it cannot grow past it.
            await self.app(scope, receive, send)
            return
        await self._counted(rule, path, scope, receive, send)

    async def _counted(
        self, rule: BodyRule, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > rule.limit:
                    exceeded = True
                    raise BodyTooLarge(rule.message(path))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the route went on after the refusal: the 413 below answers instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(rule, path, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server refuses it before it gets here
    return None


async def _refuse(rule: BodyRule, path: str, send: Send) -> None:
    body, content_type = rule.refusal(path)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
