"""Keyset pages, newest first: what every time-ordered list (runs, incidents, audit) shares."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


def newest_first(
    query: Select[T],
    moment: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[uuid.UUID],
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Select[T]:
    """Page `query` by (moment, id) descending after a cursor; `first` + 1 rows tell if more.

    The index of each list ends in (moment, id), so a page costs one index range scan
    however deep it is.
    """
    if after is not None:
        query = query.where(tuple_(moment, id_) < tuple_(*after))
    return query.order_by(moment.desc(), id_.desc()).limit(first + 1)
