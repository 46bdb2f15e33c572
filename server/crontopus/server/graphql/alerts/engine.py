"""The process's alert engine, as resolvers reach it through the context."""

from __future__ import annotations

from crontopus.server.graphql.context import Info
from crontopus.server.services.alerts.engine.engine import AlertEngine


def alert_engine(info: Info) -> AlertEngine:
    """Return the alert engine the app put in the context."""
    engine = info.context.alerts
    assert engine is not None, "create_app puts the alert engine in the context"
    return engine
