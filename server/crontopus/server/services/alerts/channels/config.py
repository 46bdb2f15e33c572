"""The settings of each channel kind: checked on create and update, secrets never shown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx

from crontopus.server.db.models import ChannelKind
from crontopus.server.errors import FieldProblem, ValidationFailed
from crontopus.server.security.outbound import (
    OutboundPolicy,
    OutboundRefused,
    OutboundUnresolved,
    Service,
)
from crontopus.server.services.alerts.channels import email, pagerduty, slack, webhook
from crontopus.server.services.alerts.channels.message import Message
from crontopus.server.services.alerts.channels.network import Network
from crontopus.server.settings import MailSettings

Sender = Callable[[dict[str, Any], Message, Network], Awaitable[None]]

SENDERS: Final[dict[ChannelKind, Sender]] = {
    ChannelKind.WEBHOOK: webhook.send,
    ChannelKind.SLACK: slack.send,
    ChannelKind.EMAIL: email.send,
    ChannelKind.PAGERDUTY: pagerduty.send,
}
#: Settings that are secrets: stored, used, never returned.
SECRET_KEYS: Final = frozenset({"secret", "password", "routing_key"})
_KNOWN: Final[dict[ChannelKind, tuple[str, ...]]] = {
    ChannelKind.WEBHOOK: ("url", "secret"),
    ChannelKind.SLACK: ("url",),
    ChannelKind.EMAIL: (
        "host",
        "port",
        "security",
        "username",
        "password",
        "sender",
        "recipients",
    ),
    ChannelKind.PAGERDUTY: ("routing_key", "severity", "url"),
}


def check_config(kind: ChannelKind, config: dict[str, Any]) -> dict[str, Any]:
    """Return the channel settings cleaned up; raise ValidationFailed naming each bad one."""
    problems: list[FieldProblem] = []

    def bad(key: str, message: str) -> None:
        problems.append(FieldProblem(("input", "config", key), message))

    known = _KNOWN[kind]
    for key in config:
        if key not in known:
            bad(key, f"is not a {kind.value} setting (the settings are {', '.join(known)})")
    clean = {key: value for key, value in config.items() if key in known and value is not None}
    if kind in (ChannelKind.WEBHOOK, ChannelKind.SLACK) or "url" in clean:
        _check_url(clean, bad, required=kind is not ChannelKind.PAGERDUTY)
    if kind is ChannelKind.EMAIL:
        _check_email(clean, bad)
    if kind is ChannelKind.PAGERDUTY:
        routing_key = clean.get("routing_key")
        if not isinstance(routing_key, str) or len(routing_key) != 32:
            bad("routing_key", "must be the 32-character integration key of a PagerDuty service")
        severity = clean.setdefault("severity", "error")
        if severity not in pagerduty.SEVERITIES:
            bad("severity", f"use one of {', '.join(pagerduty.SEVERITIES)}")
    if kind is ChannelKind.WEBHOOK and "secret" in clean:
        secret = clean["secret"]
        if not isinstance(secret, str) or len(secret) < 16:
            bad("secret", "must be at least 16 characters (it signs every request)")
    if problems:
        raise ValidationFailed(problems)
    return clean


async def check_destination(
    kind: ChannelKind,
    config: dict[str, Any],
    policy: OutboundPolicy,
    mail: MailSettings | None = None,
) -> None:
    """Raise ValidationFailed naming the setting when the channel's peer may not be reached.

    `config` has passed `check_config`. Delivery judges the peer again, at every connection:
    what a name resolves to can change after it was saved. An e-mail channel without a host
    sends through the server's own SMTP server (`mail`), which must then be configured.
    """
    if kind is ChannelKind.EMAIL and not config.get("host"):
        if mail is None or not mail.enabled:
            raise ValidationFailed.single(
                "input.config.host",
                "is missing: give the SMTP server's host name (this server has no "
                "CRONTOPUS_SMTP_URL to send through)",
            )
        return
    if kind is ChannelKind.EMAIL:
        host, port = email.destination(config)
        key, service, shown = "host", Service.SMTP, f"{host}:{port}"
    elif "url" in config:
        url = httpx.URL(str(config["url"]))
        host, port, key, service = url.host, url.port or _PORTS[url.scheme], "url", Service.HTTP
        shown = f"{url.scheme}://{url.netloc.decode()}"  # paths may hold secrets
    else:
        return  # PagerDuty's own address
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            await policy.resolve(host, port, service)
    except TimeoutError:
        raise ValidationFailed.single(
            f"input.config.{key}",
            f"{host} could not be resolved within {RESOLVE_TIMEOUT:g} s: check the host name",
        ) from None
    except OutboundRefused as refused:
        if refused.port and kind is ChannelKind.EMAIL:
            key = "port"
        problem = f"{shown}: {refused.message}"
        raise ValidationFailed.single(f"input.config.{key}", problem) from None
    except OutboundUnresolved as unresolved:
        raise ValidationFailed.single(
            f"input.config.{key}", f"{unresolved.message}: check the host name"
        ) from None


_PORTS: Final = {"http": 80, "https": 443}
#: How long saving a channel waits for its host name to resolve.
RESOLVE_TIMEOUT: Final = 5.0


def public_config(kind: ChannelKind, config: dict[str, Any]) -> dict[str, Any]:
    """Return the settings with secrets replaced by whether they are set."""
    shown: dict[str, Any] = {}
    for key, value in config.items():
        if key in SECRET_KEYS:
            shown[key] = "(set)" if value else "(not set)"
        elif key == "url" and kind is ChannelKind.SLACK:
            # A Slack incoming-webhook URL is itself the credential.
            shown[key] = str(httpx.URL(str(value)).copy_with(path="/…"))
        else:
            shown[key] = value
    return shown


def _check_url(clean: dict[str, Any], bad: Callable[[str, str], None], *, required: bool) -> None:
    url = clean.get("url")
    if url is None:
        if required:
            bad("url", "is missing: give the http(s) address to POST to")
        return
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        bad("url", "must be an http:// or https:// address")
        return
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        bad("url", f"is not a usable address: {error}")
        return
    if not parsed.host:
        bad("url", "has no host: write it like https://hooks.example.com/crontopus")


def _check_email(clean: dict[str, Any], bad: Callable[[str, str], None]) -> None:
    if not clean.get("host"):
        # No host: the server's own SMTP server (CRONTOPUS_SMTP_URL), its security and login.
        for key in ("port", "security", "username", "password"):
            if key in clean:
                bad(key, "needs host: without one the server's own SMTP server is used")
        if clean.get("sender") is not None:
            _check_sender(clean, bad)
        _check_recipients(clean, bad)
        return
    if not isinstance(clean.get("host"), str):
        bad("host", "must be the SMTP server's host name")
    security = clean.setdefault("security", "starttls")
    if security not in email.SECURITIES:
        bad("security", f"use one of {', '.join(email.SECURITIES)}")
    port = clean.get("port")
    if port is not None and (not isinstance(port, int) or not 1 <= port <= 65535):
        bad("port", "must be a port number from 1 to 65535")
    _check_sender(clean, bad)
    _check_recipients(clean, bad)
    if clean.get("password") and not clean.get("username"):
        bad("username", "is missing: a password needs a username")


def _check_sender(clean: dict[str, Any], bad: Callable[[str, str], None]) -> None:
    sender = clean.get("sender")
    if not isinstance(sender, str) or "@" not in sender:
        bad("sender", "must be the From address, e.g. crontopus@example.com")


def _check_recipients(clean: dict[str, Any], bad: Callable[[str, str], None]) -> None:
    recipients = clean.get("recipients")
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(isinstance(r, str) and "@" in r for r in recipients)
    ):
        bad("recipients", 'must be a list of addresses, e.g. ["ops@example.com"]')
