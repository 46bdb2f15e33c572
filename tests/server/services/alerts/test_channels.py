"""Each channel kind against a real local peer: the HTTP receiver and an aiosmtpd server."""

from __future__ import annotations

import email
import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from crontopus.server.db.models import ChannelKind, NotificationEvent
from crontopus.server.errors import ValidationFailed
from crontopus.server.services.alerts.channels import email as email_channel
from crontopus.server.services.alerts.channels import pagerduty, slack, webhook
from crontopus.server.services.alerts.channels.config import check_config, public_config
from crontopus.server.services.alerts.channels.errors import (
    PermanentDelivery,
    RetryableDelivery,
)
from crontopus.server.services.alerts.channels.message import Message
from tests.server.conftest import free_port
from tests.server.services.alerts.conftest import Receiver, local_network

INCIDENT = uuid.uuid4()
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def message(event: NotificationEvent = NotificationEvent.TRIGGER) -> Message:
    return Message(
        notification_id=uuid.uuid4(),
        event=event,
        tenant="alice",
        title="backup/db failed 3 times in a row (exit code 2)",
        at=datetime(2026, 11, 26, 5, 0, tzinfo=UTC),
        incident_id=INCIDENT,
        rule="FAILURE",
        status="OPEN",
        job_id=uuid.uuid4(),
        job_name="db",
        namespace="backup",
        opened_at=datetime(2026, 11, 26, 5, 0, tzinfo=UTC),
        link="https://crontopus.example.com/incidents/x",
        details={"exit_code": 2},
    )


async def test_a_webhook_is_signed_over_timestamp_and_body(receiver: Receiver) -> None:
    async with local_network() as network:
        await webhook.send({"url": f"{receiver.url}/in", "secret": "s" * 20}, message(), network)
    (got,) = await receiver.wait_for(1)
    stamp, signature = got.headers["x-crontopus-timestamp"], got.headers["x-crontopus-signature"]
    assert signature.startswith("v1=")
    assert webhook.verify("s" * 20, stamp, got.body, signature)
    assert not webhook.verify("s" * 20, stamp, got.body + b" ", signature)
    assert not webhook.verify("another-secret!!", stamp, got.body, signature)
    assert not webhook.verify("s" * 20, stamp, got.body, signature, now=int(stamp) + 301)
    assert got.json["incident"]["id"] == str(INCIDENT)
    assert got.headers["x-crontopus-event"] == "trigger"


async def test_slack_gets_an_incoming_webhook_message(receiver: Receiver) -> None:
    async with local_network() as network:
        await slack.send({"url": f"{receiver.url}/services/T/B/X"}, message(), network)
    (got,) = await receiver.wait_for(1)
    body = got.json
    assert body["text"].startswith("[Crontopus] backup/db failed")
    (attachment,) = body["attachments"]
    assert attachment["color"] == "#d93025"
    assert {"title": "Job", "value": "backup/db", "short": True} in attachment["fields"]


async def test_pagerduty_triggers_and_resolves_with_one_dedup_key(receiver: Receiver) -> None:
    config = {"routing_key": ROUTING_KEY, "url": f"{receiver.url}/v2/enqueue"}
    async with local_network() as network:
        await pagerduty.send(config, message(), network)
        await pagerduty.send(config, message(NotificationEvent.RESOLVE), network)
    trigger, resolve = (r.json for r in await receiver.wait_for(2))
    assert trigger["event_action"] == "trigger"
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["source"] == "backup/db"
    assert resolve["event_action"] == "resolve"
    assert "payload" not in resolve
    assert trigger["dedup_key"] == resolve["dedup_key"] == f"crontopus-{INCIDENT}"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, RetryableDelivery), (429, RetryableDelivery), (400, PermanentDelivery)],
)
async def test_http_answers_are_classified_retryable_or_permanent(
    receiver: Receiver, status: int, kind: type[Exception]
) -> None:
    receiver.statuses = [status]
    async with local_network() as network:
        with pytest.raises(kind, match=f"answered {status}"):
            await slack.send({"url": f"{receiver.url}/hook"}, message(), network)


async def test_an_unreachable_peer_is_retryable_and_its_url_path_is_not_logged() -> None:
    url = f"http://127.0.0.1:{free_port()}/services/SECRET/TOKEN"
    async with local_network() as network:
        with pytest.raises(RetryableDelivery) as caught:
            await slack.send({"url": url}, message(), network)
    assert "SECRET" not in caught.value.message
    assert "unreachable" in caught.value.message


def test_channel_settings_are_checked_per_kind_and_secrets_never_shown() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_config(ChannelKind.WEBHOOK, {"url": "ftp://x", "secret": "short", "colour": 1})
    paths = {problem.path[-1] for problem in caught.value.problems}
    assert paths == {"url", "secret", "colour"}
    with pytest.raises(ValidationFailed, match="routing_key"):
        check_config(ChannelKind.PAGERDUTY, {"routing_key": "abc"})
    with pytest.raises(ValidationFailed, match="recipients"):
        check_config(ChannelKind.EMAIL, {"host": "smtp", "sender": "c@example.com"})
    clean = check_config(
        ChannelKind.EMAIL,
        {
            "host": "smtp.example.com",
            "sender": "c@example.com",
            "recipients": ["ops@example.com"],
            "username": "c",
            "password": "hunter2",
        },
    )
    assert clean["security"] == "starttls"
    assert public_config(ChannelKind.EMAIL, clean)["password"] == "(set)"
    shown = public_config(ChannelKind.SLACK, {"url": "https://hooks.slack.com/services/T/B/X"})
    assert "T/B/X" not in shown["url"]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append(email.message_from_bytes(content))
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


def _authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"crontopus", b"pw")
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def smtp_server(certificate: tuple[Path, Path]) -> Iterator[tuple[int, Mailbox]]:
    """aiosmtpd with STARTTLS offered and LOGIN/PLAIN auth required after it."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*certificate)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        authenticator=_authenticator,
        auth_required=True,
    )
    controller.start()
    yield port, mailbox
    controller.stop()


def _mail_config(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "security": "starttls",
        "sender": "crontopus@example.com",
        "recipients": ["ops@example.com", "oncall@example.com"],
        "username": "crontopus",
        "password": "pw",
        **extra,
    }


async def test_email_is_sent_over_starttls_with_login(
    smtp_server: tuple[int, Mailbox],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    port, mailbox = smtp_server
    async with local_network() as network:
        await email_channel.send(_mail_config(port), message(), network)
    (mail,) = mailbox.messages
    assert mail["Subject"] == "[Crontopus] backup/db failed 3 times in a row (exit code 2)"
    assert mail["X-Crontopus-Incident"] == str(INCIDENT)
    assert "Job: backup/db" in mail.get_payload()
    assert mailbox.envelopes == [
        ("crontopus@example.com", ["ops@example.com", "oncall@example.com"])
    ]


async def test_a_refused_smtp_login_is_permanent(
    smtp_server: tuple[int, Mailbox],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    port, mailbox = smtp_server
    async with local_network() as network:
        with pytest.raises(PermanentDelivery, match="refused the login"):
            await email_channel.send(_mail_config(port, password="wrong"), message(), network)
    assert mailbox.messages == []


async def test_an_untrusted_smtp_certificate_is_permanent(
    smtp_server: tuple[int, Mailbox],
) -> None:
    port, _ = smtp_server
    async with local_network() as network:
        with pytest.raises(PermanentDelivery, match="not trusted"):
            await email_channel.send(_mail_config(port), message(), network)


async def test_a_missing_smtp_server_is_retryable() -> None:
    config = _mail_config(free_port(), security="none", username=None, password=None)
    started = time.monotonic()
    async with local_network() as network:
        with pytest.raises(RetryableDelivery, match="unreachable"):
            await email_channel.send(config, message(), network)
    assert time.monotonic() - started < 15


async def test_a_channel_without_a_host_sends_through_the_servers_own_smtp_server() -> None:
    from crontopus.server.mail.smtp import parse_smtp_url
    from crontopus.server.security.outbound import OutboundPolicy
    from crontopus.server.services.alerts.channels.network import Network
    from crontopus.server.settings import MailSettings
    from tests.server.smtp_sink import MailSink

    config = check_config(ChannelKind.EMAIL, {"recipients": ["ops@example.com"]})
    sink = MailSink()
    sink.start()
    try:
        # The default policy refuses loopback for tenants' peers; the operator's server is not
        # a tenant's peer.
        server = MailSettings(smtp=parse_smtp_url(sink.url), sender="Alerts <alerts@example.com>")
        await email_channel.send(config, message(), Network(OutboundPolicy(), server))
        (mail,) = await sink.wait_for("ops@example.com")
    finally:
        sink.stop()
    assert mail["From"] == "Alerts <alerts@example.com>"
    assert mail["X-Crontopus-Incident"] == str(INCIDENT)
    with pytest.raises(PermanentDelivery, match="CRONTOPUS_SMTP_URL is not set"):
        await email_channel.send(config, message(), Network(OutboundPolicy()))


def test_a_channel_without_a_host_takes_no_server_settings() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_config(ChannelKind.EMAIL, {"port": 25, "recipients": ["ops@example.com"]})
    assert [p.path for p in refused.value.problems] == [("input", "config", "port")]
