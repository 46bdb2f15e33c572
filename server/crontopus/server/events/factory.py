"""Choose the event bus for a server process from its settings."""

from __future__ import annotations

from crontopus.server.errors import ConfigurationError
from crontopus.server.events.broadcaster import Broadcaster, InProcessBroadcaster
from crontopus.server.events.postgres import PostgresBroadcaster, dsn_of
from crontopus.server.settings import EventBus, Settings


def event_bus_for(settings: Settings) -> EventBus:
    """Return the configured bus, else PostgreSQL's whenever the database is PostgreSQL."""
    if settings.event_bus is not None:
        return settings.event_bus
    return EventBus.INPROCESS if settings.is_sqlite else EventBus.POSTGRES


def create_broadcaster(settings: Settings) -> Broadcaster:
    """Build (not start) the broadcaster: `start()` and `stop()` belong to the app lifespan."""
    bus = event_bus_for(settings)
    if bus is EventBus.INPROCESS:
        return InProcessBroadcaster()
    if settings.is_sqlite:
        raise ConfigurationError(
            "CRONTOPUS_EVENT_BUS: postgres needs CRONTOPUS_DATABASE_URL to be a PostgreSQL "
            "database (it is SQLite); unset CRONTOPUS_EVENT_BUS or set it to inprocess"
        )
    return PostgresBroadcaster(dsn_of(settings.database_url))
