"""The account mails, each in plain text and HTML (sent together as multipart/alternative).

Every value put into the HTML is escaped; links are built from CRONTOPUS_PUBLIC_URL by the
caller, never from a request's Host header. The token rides in the link's fragment (#token=),
which browsers do not send to servers, so it stays out of access logs and Referer headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Letter:
    """One mail's subject and its two bodies."""

    subject: str
    text: str
    html: str


_SIGNATURE = "Crontopus"


def _letter(subject: str, paragraphs: list[str], link: tuple[str, str] | None = None) -> Letter:
    """Lay out paragraphs (and one call-to-action link) as text and as HTML."""
    text = "\n\n".join(paragraphs)
    html_parts = [f"<p>{escape(p)}</p>" for p in paragraphs]
    if link is not None:
        label, url = link
        text += f"\n\n{label}:\n{url}"
        html_parts.append(
            f'<p><a href="{escape(url, quote=True)}" '
            'style="display:inline-block;padding:10px 18px;border-radius:6px;'
            'background:#6d4aff;color:#ffffff;text-decoration:none">'
            f"{escape(label)}</a></p>"
            f'<p style="color:#666;font-size:12px">Or open this address: {escape(url)}</p>'
        )
    text += f"\n\n-- \n{_SIGNATURE}\n"
    html = (
        '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">'
        + "".join(html_parts)
        + f'<p style="color:#666">— {_SIGNATURE}</p></body></html>'
    )
    return Letter(f"[Crontopus] {subject}", text, html)


def verification(username: str, link: str, days: int) -> Letter:
    return _letter(
        "Confirm your e-mail address",
        [
            f"Hello {username},",
            "please confirm that this is your e-mail address: Crontopus sends password resets "
            "and notices about your account here.",
            f"The link works once, for {days} days. If you did not sign up, ignore this mail.",
        ],
        ("Confirm my address", link),
    )


def password_reset(username: str, link: str, minutes: int) -> Letter:
    return _letter(
        "Reset your password",
        [
            f"Hello {username},",
            "someone (we hope you) asked to reset the password of your Crontopus account.",
            f"The link works once, for {minutes} minutes; setting a new password ends every "
            "session of yours. If you did not ask, ignore this mail: your password stays.",
        ],
        ("Choose a new password", link),
    )


def password_changed(username: str, how: str, sign_in: str) -> Letter:
    return _letter(
        "Your password was changed",
        [
            f"Hello {username},",
            f"the password of your Crontopus account was {how}, and your other sessions were "
            "ended.",
            "If this was not you, reset your password at once with “Forgot password?” on the "
            "sign-in page, and tell the people who run this server.",
        ],
        ("Sign in", sign_in),
    )


def email_changed(username: str, old: str, new: str) -> Letter:
    return _letter(
        "Your e-mail address was changed",
        [
            f"Hello {username},",
            f"the e-mail address of your Crontopus account was changed from {old} to {new}. "
            "Password resets and notices go to the new address from now on.",
            "If this was not you, tell the people who run this server at once.",
        ],
    )


def invitation(inviter: str, tenant: str, role: str, link: str, days: int) -> Letter:
    return _letter(
        f"{inviter} invites you to {tenant}",
        [
            "Hello,",
            f"{inviter} invites you to the tenant {tenant} on Crontopus, with the role "
            f"{role.lower()}. Crontopus runs and watches scheduled jobs.",
            f"Follow the link to choose a user name and password. It works once, for {days} "
            "days. If you do not know the sender, ignore this mail.",
        ],
        ("Accept the invitation", link),
    )
