"""Helpers shared by the test packages."""

from __future__ import annotations

import os

POSTGRES_URL_VARIABLE = "CRONTOPUS_TEST_POSTGRES_URL"
MACHINE_VARIABLE = "CRONTOPUS_TEST_MACHINE"


def postgres_url() -> str | None:
    """The PostgreSQL server the suite may create databases on, if any."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None
