"""The commit of each tenant's repository announced last (the external Git store)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crontopus.server.db.models.base import Base
from crontopus.server.db.types import utcnow


class CommitAnnouncement(Base):
    """The commit of a tenant's repository whose changes were announced last.

    With an external Git store every server process adopts each commit, and the first to
    claim it announces it (services/announcements.py): this row is what the claims compare
    with, and they replace it, under an advisory lock on the tenant, in the transaction that
    announces. Only a cache of what was announced: without it the next commit is announced
    anyway.
    """

    __tablename__ = "commit_announcements"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    #: Hex object id: 40 characters (SHA-1), 64 for a SHA-256 repository, the longest Git has.
    commit_id: Mapped[str] = mapped_column(String(64))
    announced_at: Mapped[datetime] = mapped_column(default=utcnow)
