"""E-mail over SMTP: plain, STARTTLS or implicit TLS, with optional login.

smtplib is blocking, so a delivery runs in a worker thread; certificates are verified
against the system's trust store (SSL_CERT_FILE points it at a private CA). The host is
resolved and judged by the outbound policy first, and the socket goes to a judged address.
A reply's free text is never repeated in the delivery log, only its codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Final

from crontopus.server.security.outbound import OutboundRefused, OutboundUnresolved, Service
from crontopus.server.services.alerts.channels.errors import PermanentDelivery, RetryableDelivery
from crontopus.server.services.alerts.channels.message import Message
from crontopus.server.services.alerts.channels.network import Network

SECURITIES: Final = ("starttls", "tls", "none")
DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
TIMEOUT: Final = 15.0


def build(config: dict[str, Any], message: Message) -> EmailMessage:
    """Return the e-mail for `message`."""
    mail = EmailMessage()
    mail["Subject"] = message.summary
    mail["From"] = str(config["sender"])
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
    mail = build(config, message)
    host, port = destination(config)
    where = f"SMTP server {host}:{port}"
    try:
        addresses = await network.policy.resolve(host, port, Service.SMTP)
    except OutboundRefused as refused:
        raise PermanentDelivery(f"{where}: {refused.message}") from None
    except OutboundUnresolved as unresolved:
        raise RetryableDelivery(f"{where}: {unresolved.message}") from None
    delivery = _Delivery(config, mail, host, port, [str(a) for a in addresses])
    try:
        await asyncio.to_thread(delivery.run)
    except asyncio.CancelledError:
        # The send ran out of time: unblock the worker thread instead of leaving it behind.
        delivery.abort()
        raise


def destination(config: dict[str, Any]) -> tuple[str, int]:
    """Return the SMTP server's host and port (the port by security when not set)."""
    security = str(config.get("security", "starttls"))
    return str(config["host"]), int(config.get("port") or DEFAULT_PORTS[security])


Opened = Callable[[socket.socket], None]


class _PinnedSMTP(smtplib.SMTP):
    """Connects to an address judged by the outbound policy; STARTTLS still checks the host."""

    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, opened: Opened
    ) -> None:
        self.address, self.opened = address, opened
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((self.address, port), timeout, self.source_address)
        self.opened(sock)
        return sock


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    """Implicit TLS to an address judged by the outbound policy, verified for the host name."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        address: str,
        timeout: float,
        opened: Opened,
        context: ssl.SSLContext,
    ) -> None:
        self.address, self.opened = address, opened
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((self.address, port), timeout, self.source_address)
        self.opened(sock)
        return self.context.wrap_socket(sock, server_hostname=host)


class _Delivery:
    """One SMTP conversation in a worker thread, which the event loop can cut short."""

    def __init__(
        self,
        config: dict[str, Any],
        mail: EmailMessage,
        host: str,
        port: int,
        addresses: list[str],
    ) -> None:
        self.config, self.mail, self.host, self.port = config, mail, host, port
        self.addresses = addresses
        self.security = str(config.get("security", "starttls"))
        self.where = f"SMTP server {host}:{port}"
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._aborted = False

    def abort(self) -> None:
        """Shut the connection down, which ends any read the thread is blocked in."""
        with self._lock:
            self._aborted = True
            sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._socket = sock
            aborted = self._aborted
        if aborted:
            sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        try:
            self._converse()
        except smtplib.SMTPAuthenticationError as error:
            raise PermanentDelivery(
                f"{self.where} refused the login ({error.smtp_code}): "
                "check the username and password"
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentDelivery(
                f"{self.where}: {error} (choose another security setting)"
            ) from None
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            problem = f"{self.where} refused the recipients {sorted(error.recipients)}"
            if all(400 <= code < 500 for code in codes):
                raise RetryableDelivery(problem) from None
            raise PermanentDelivery(problem) from None
        except smtplib.SMTPResponseException as error:
            problem = f"{self.where} answered {error.smtp_code}{_status(error.smtp_error)}"
            if 400 <= error.smtp_code < 500:
                raise RetryableDelivery(problem) from None
            raise PermanentDelivery(problem) from None
        except ssl.SSLCertVerificationError as error:
            raise PermanentDelivery(
                f"{self.where}: its certificate is not trusted ({error.verify_message})"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise RetryableDelivery(f"{self.where} is unreachable: {error}") from None

    def _converse(self) -> None:
        context = ssl.create_default_context()
        failure: OSError | None = None
        for address in self.addresses:
            smtp: smtplib.SMTP
            try:
                if self.security == "tls":
                    smtp = _PinnedSMTPSSL(
                        self.host,
                        self.port,
                        address=address,
                        timeout=TIMEOUT,
                        opened=self._opened,
                        context=context,
                    )
                else:
                    smtp = _PinnedSMTP(
                        self.host, self.port, address=address, timeout=TIMEOUT, opened=self._opened
                    )
            except smtplib.SMTPException:
                raise
            except OSError as error:  # refused or unreachable: the next address may answer
                failure = error
                continue
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=context)
                if self.config.get("username"):
                    smtp.login(str(self.config["username"]), str(self.config.get("password", "")))
                smtp.send_message(self.mail)
            return
        assert failure is not None
        raise failure


def _status(said: bytes | str) -> str:
    """The enhanced status code of an SMTP reply (5.7.1), never its free text."""
    text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
    code = text.split(" ", 1)[0]
    parts = code.split(".")
    if len(parts) == 3 and all(part.isdigit() for part in parts):
        return f" ({code})"
    return ""
