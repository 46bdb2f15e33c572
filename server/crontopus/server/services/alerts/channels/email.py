"""E-mail channels: the alert as a message, sent by the server's one SMTP transport.

A channel that names an SMTP server (`host`) has it resolved and judged by the outbound policy
first, and the socket goes to a judged address. A channel without `host` sends through the
server's own CRONTOPUS_SMTP_URL, from CRONTOPUS_MAIL_FROM unless it names a `sender`: the
operator configured that server, so the policy for tenants' peers does not apply to it.
mail/smtp.py holds the conversation itself, shared with account mail.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from crontopus.server.mail.smtp import DEFAULT_PORTS, SECURITIES, SmtpServer, deliver
from crontopus.server.security.outbound import OutboundRefused, OutboundUnresolved, Service
from crontopus.server.services.alerts.channels.errors import PermanentDelivery, RetryableDelivery
from crontopus.server.services.alerts.channels.message import Message
from crontopus.server.services.alerts.channels.network import Network

__all__ = ["SECURITIES", "build", "destination", "send"]


def build(config: dict[str, Any], message: Message) -> EmailMessage:
    """Return the e-mail for `message`."""
    mail = EmailMessage()
    mail["Subject"] = message.summary
    mail["From"] = str(config.get("sender") or config.get("server_sender"))
    mail["To"] = ", ".join(config["recipients"])
    mail["Date"] = formatdate(message.at.timestamp())
    mail["Message-ID"] = make_msgid(idstring=str(message.notification_id))
    if message.incident_id is not None:
        # Mail clients thread the resolution under the trigger.
        thread = f"<incident-{message.incident_id}@crontopus>"
        mail["References"] = thread
        mail["X-Crontopus-Incident"] = str(message.incident_id)
    mail.set_content(message.as_text())
    return mail


async def send(config: dict[str, Any], message: Message, network: Network) -> None:
    """Deliver the message to the configured recipients."""
    if not config.get("host"):
        server = network.mail.smtp if network.mail is not None else None
        if server is None or network.mail is None:
            raise PermanentDelivery(
                "this channel names no SMTP server (host), and CRONTOPUS_SMTP_URL is not set: "
                "give the channel a host, or ask the operator to set CRONTOPUS_SMTP_URL"
            )
        own = build({**config, "server_sender": network.mail.sender}, message)
        await deliver(server, own, [server.host])
        return
    mail = build(config, message)
    host, port = destination(config)
    where = f"SMTP server {host}:{port}"
    try:
        addresses = await network.policy.resolve(host, port, Service.SMTP)
    except OutboundRefused as refused:
        raise PermanentDelivery(f"{where}: {refused.message}") from None
    except OutboundUnresolved as unresolved:
        raise RetryableDelivery(f"{where}: {unresolved.message}") from None
    server = SmtpServer(
        host,
        port,
        str(config.get("security", "starttls")),
        str(config["username"]) if config.get("username") else None,
        str(config.get("password", "")),
    )
    await deliver(server, mail, [str(a) for a in addresses])


def destination(config: dict[str, Any]) -> tuple[str, int]:
    """Return the SMTP server's host and port (the port by security when not set)."""
    security = str(config.get("security", "starttls"))
    return str(config["host"]), int(config.get("port") or DEFAULT_PORTS[security])


def _status(said: bytes | str) -> str:
    """The enhanced status code of an SMTP reply (5.7.1), never its free text."""
    text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
    code = text.split(" ", 1)[0]
    parts = code.split(".")
    if len(parts) == 3 and all(part.isdigit() for part in parts):
        return f" ({code})"
    return ""
