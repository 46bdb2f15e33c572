"""The declarative base every table shares, and how enums are stored."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

from crontopus.server.db.types import UTCDateTime

# Explicit constraint names keep Alembic revisions identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


def enum_column(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR plus a CHECK constraint: adding a value later is a plain migration.
    return Enum(kind, name=name, native_enum=False, create_constraint=True, length=16)
