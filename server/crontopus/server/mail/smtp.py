"""The SMTP conversation, shared by alert e-mail channels and the server's account mail.

smtplib is blocking, so a delivery runs in a worker thread; certificates are verified
against the system's trust store (SSL_CERT_FILE points it at a private CA). The caller
resolves the host (alert channels through the outbound policy) and the socket goes to one of
the addresses it chose. A reply's free text is never repeated in an error, only its codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Final
from urllib.parse import unquote, urlsplit

from crontopus.server.services.alerts.channels.errors import PermanentDelivery, RetryableDelivery

SECURITIES: Final = ("starttls", "tls", "none")
DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
TIMEOUT: Final = 15.0


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes and how: `security` is starttls, tls (implicit) or none."""

    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"SMTP server {self.host}:{self.port}"


_SCHEMES: Final = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}


def parse_smtp_url(url: str) -> SmtpServer:
    """Parse `smtp://`, `smtp+starttls://` or `smtps://[user[:password]@]host[:port]`.

    The user and password are percent-decoded, so `@`, `:` and `/` in them are written as
    %40, %3A and %2F.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"{scheme or 'no'} scheme: write smtp://, smtp+starttls:// or smtps:// "
            "(like smtp+starttls://user:password@mail.example.com:587)"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("no host: write it like smtps://user:password@mail.example.com")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError("takes no path or query: write scheme://user:password@host:port")
    security = _SCHEMES[scheme]
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password and not username:
        raise ValueError("a password needs a user name (scheme://user:password@host)")
    if username and security == "none" and not _is_loopback(parts.hostname):
        # A login over plain SMTP would send the password in the clear across the network.
        raise ValueError(
            "logs in without TLS: use smtp+starttls:// or smtps:// for a remote server"
        )
    return SmtpServer(parts.hostname, port or DEFAULT_PORTS[security], security, username, password)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def deliver(server: SmtpServer, mail: EmailMessage, addresses: Sequence[str]) -> None:
    """Send `mail` through `server`, connecting to the first of `addresses` that answers.

    Raises RetryableDelivery when trying later can help, PermanentDelivery when it cannot.
    """
    delivery = _Delivery(server, mail, list(addresses))
    try:
        await asyncio.to_thread(delivery.run)
    except asyncio.CancelledError:
        # The send ran out of time: unblock the worker thread instead of leaving it behind.
        delivery.abort()
        raise


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

    def __init__(self, server: SmtpServer, mail: EmailMessage, addresses: list[str]) -> None:
        self.server, self.mail, self.addresses = server, mail, addresses
        self.host, self.port, self.security = server.host, server.port, server.security
        self.where = server.where
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
                if self.server.username:
                    smtp.login(self.server.username, self.server.password or "")
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
