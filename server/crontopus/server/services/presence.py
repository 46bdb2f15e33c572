"""When an endpoint counts as online: one rule, as a Python predicate and as SQL.

An endpoint is online while its last heartbeat is no older than the offline threshold
(`Settings.offline_after`), the threshold itself included. Every status, filter, alert,
dashboard and gauge asks these functions, so they cannot disagree at the boundary.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement

from crontopus.server.db.models import Endpoint


def online_since(now: datetime, offline_after: timedelta) -> datetime:
    """Return the oldest heartbeat that still counts as online at `now`."""
    return now - offline_after


def is_online(last_seen_at: datetime | None, now: datetime, offline_after: timedelta) -> bool:
    """Tell whether a heartbeat at `last_seen_at` keeps an endpoint online at `now`."""
    return last_seen_at is not None and last_seen_at >= online_since(now, offline_after)


def online_condition(now: datetime, offline_after: timedelta) -> ColumnElement[bool]:
    """Return the SQL form of `is_online` for `Endpoint.last_seen_at` (NULL is not online)."""
    return Endpoint.last_seen_at >= online_since(now, offline_after)
