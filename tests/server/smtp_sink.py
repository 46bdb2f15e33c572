"""A real SMTP server (aiosmtpd) that keeps what it receives, and a way to read a mail's link."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import re
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.server.conftest import free_port


@dataclass
class MailSink:
    """Mail received on 127.0.0.1:`port`; `start`/`stop` it to play an SMTP outage."""

    port: int = field(default_factory=free_port)
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append(message)
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def wait_for(self, to: str, count: int = 1, within: float = 15) -> list[Any]:
        """The first `count` mails to `to`, waiting up to `within` seconds for them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found = [m for m in self.messages if m["To"] == to]
            if len(found) >= count:
                return found[:count]
            assert loop.time() < deadline, f"no mail to {to} within {within} s: {self.subjects}"
            await asyncio.sleep(0.05)

    @property
    def subjects(self) -> list[tuple[str, str]]:
        return [(str(m["To"]), str(m["Subject"])) for m in self.messages]


def bodies(message: email.message.EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies of a multipart/alternative mail."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def link_in(message: email.message.EmailMessage) -> str:
    """The console link a mail carries (the same in its text and its HTML)."""
    text, html = bodies(message)
    links: list[str] = re.findall(r"https?://\S+#token=[A-Za-z0-9_]+", text)
    assert len(links) == 1, text
    assert links[0] in html
    return links[0]


def token_in(message: email.message.EmailMessage) -> str:
    return link_in(message).split("#token=", 1)[1]
