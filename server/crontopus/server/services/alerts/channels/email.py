"""E-mail over SMTP: plain, STARTTLS or implicit TLS, with optional login.

smtplib is blocking, so a delivery runs in a worker thread; certificates are verified
against the system's trust store (SSL_CERT_FILE points it at a private CA).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Final

import httpx

from crontopus.server.services.alerts.channels.errors import PermanentDelivery, RetryableDelivery
from crontopus.server.services.alerts.channels.message import Message

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


async def send(config: dict[str, Any], message: Message, client: httpx.AsyncClient) -> None:
    """Deliver the message to the configured recipients."""
    mail = build(config, message)
    await asyncio.to_thread(_send, config, mail)


def _send(config: dict[str, Any], mail: EmailMessage) -> None:
    host = str(config["host"])
    security = str(config.get("security", "starttls"))
    port = int(config.get("port") or DEFAULT_PORTS[security])
    where = f"SMTP server {host}:{port}"
    try:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=context)
            if config.get("username"):
                smtp.login(str(config["username"]), str(config.get("password", "")))
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as error:
        raise PermanentDelivery(
            f"{where} refused the login ({error.smtp_code}): check the username and password"
        ) from None
    except smtplib.SMTPNotSupportedError as error:
        raise PermanentDelivery(f"{where}: {error} (choose another security setting)") from None
    except smtplib.SMTPRecipientsRefused as error:
        codes = {code for code, _ in error.recipients.values()}
        problem = f"{where} refused the recipients {sorted(error.recipients)}"
        if all(400 <= code < 500 for code in codes):
            raise RetryableDelivery(problem) from None
        raise PermanentDelivery(problem) from None
    except smtplib.SMTPResponseException as error:
        text = error.smtp_error
        said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        problem = f"{where} answered {error.smtp_code}: {said}"
        if 400 <= error.smtp_code < 500:
            raise RetryableDelivery(problem) from None
        raise PermanentDelivery(problem) from None
    except ssl.SSLCertVerificationError as error:
        raise PermanentDelivery(
            f"{where}: its certificate is not trusted ({error.verify_message})"
        ) from None
    except (smtplib.SMTPException, OSError) as error:
        raise RetryableDelivery(f"{where} is unreachable: {error}") from None
