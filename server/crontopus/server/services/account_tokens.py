"""Single-use, expiring tokens for the links in account mail; only their SHA-256 is stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import AccountToken, AccountTokenPurpose, Role
from crontopus.server.errors import ValidationFailed
from crontopus.server.security.tokens import TokenKind, digest, issue_token, token_kind
from crontopus.server.settings import Settings

LIFETIMES: Final = {
    AccountTokenPurpose.VERIFY_EMAIL: timedelta(days=7),
    AccountTokenPurpose.RESET_PASSWORD: timedelta(hours=1),
    AccountTokenPurpose.INVITATION: timedelta(days=7),
}
#: Where each link opens in the console.
PAGES: Final = {
    AccountTokenPurpose.VERIFY_EMAIL: "/verify-email",
    AccountTokenPurpose.RESET_PASSWORD: "/reset-password",
    AccountTokenPurpose.INVITATION: "/accept-invitation",
}


def link(settings: Settings, purpose: AccountTokenPurpose, token: str) -> str:
    """The console address a mail links to; the token rides in the fragment."""
    return f"{public_base(settings)}{PAGES[purpose]}#token={token}"


def public_base(settings: Settings) -> str:
    # Settings refuse CRONTOPUS_SMTP_URL without CRONTOPUS_PUBLIC_URL, so mail has a base.
    return (settings.public_url or "").rstrip("/")


async def issue(
    session: AsyncSession,
    purpose: AccountTokenPurpose,
    email: str,
    *,
    user_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    role: Role | None = None,
    created_by: str | None = None,
) -> str:
    """Store a new token in the caller's transaction and return its plaintext.

    Earlier unused tokens of the same purpose for the same account (or the same invitation)
    are spent, so only the newest link works.
    """
    now = datetime.now(UTC)
    same = AccountToken.purpose == purpose
    if user_id is not None:
        await session.execute(
            update(AccountToken)
            .where(same, AccountToken.user_id == user_id, AccountToken.used_at.is_(None))
            .values(used_at=now)
        )
    elif tenant_id is not None:
        await session.execute(
            update(AccountToken)
            .where(
                same,
                AccountToken.tenant_id == tenant_id,
                AccountToken.email == email,
                AccountToken.used_at.is_(None),
            )
            .values(used_at=now)
        )
    token = issue_token(TokenKind.ACCOUNT)
    session.add(
        AccountToken(
            purpose=purpose,
            token_hash=token.digest,
            user_id=user_id,
            email=email,
            tenant_id=tenant_id,
            role=role,
            created_by=created_by,
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
        )
    )
    return token.plaintext


def _again(purpose: AccountTokenPurpose) -> str:
    if purpose is AccountTokenPurpose.INVITATION:
        return "ask whoever invited you for a new invitation"
    if purpose is AccountTokenPurpose.RESET_PASSWORD:
        return "ask for a new link with “Forgot password?”"
    return "ask for a new link from your account page"


async def find_valid(
    session: AsyncSession, purpose: AccountTokenPurpose, token: str
) -> AccountToken:
    """The stored token of a link; refuse one that is malformed, unknown, used or expired."""
    plaintext = token.strip()
    if token_kind(plaintext) is not TokenKind.ACCOUNT:
        raise ValidationFailed.single(
            "token", "is not the token of a Crontopus mail link (copy the whole link)"
        )
    row = await session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == digest(plaintext), AccountToken.purpose == purpose
        )
    )
    if row is None:
        raise ValidationFailed.single("token", f"is not a valid link; {_again(purpose)}")
    if row.used_at is not None:
        raise ValidationFailed.single(
            "token", f"was already used, or a newer link replaced it; {_again(purpose)}"
        )
    if row.expires_at <= datetime.now(UTC):
        raise ValidationFailed.single("token", f"has expired; {_again(purpose)}")
    return row


async def spend(session: AsyncSession, row: AccountToken) -> None:
    """Mark a token used in the caller's transaction; of two requests, exactly one spends it."""
    claimed = await session.execute(
        update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ValidationFailed.single("token", f"was already used; {_again(row.purpose)}")
