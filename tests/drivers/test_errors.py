"""Driver errors say whether retrying can help."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crontopus.core.errors import CrontopusError
from crontopus.drivers import errors
from crontopus.drivers.errors import (
    ConversionRefused,
    DriverError,
    DriverUnavailable,
    PermanentDriverError,
    RetryableDriverError,
)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (PermanentDriverError("x"), False),
        (ConversionRefused("x"), False),
        (DriverUnavailable("cron", "x"), False),
        (RetryableDriverError("x"), True),
    ],
)
def test_every_driver_error_says_whether_to_retry(error: DriverError, retryable: bool) -> None:
    assert isinstance(error, CrontopusError)
    assert error.retryable is retryable


def test_a_refusal_names_its_job_and_keeps_the_bare_reason() -> None:
    job = uuid4()
    refused = ConversionRefused("steps of 7 minutes do not divide the hour", job_id=job)
    assert refused.reason == "steps of 7 minutes do not divide the hour"
    assert str(refused) == f"job {job}: steps of 7 minutes do not divide the hour"


def test_the_errors_module_draws_its_hierarchy() -> None:
    doc = errors.__doc__ or ""
    for name in (
        "DriverError",
        "PermanentDriverError",
        "ConversionRefused",
        "RetryableDriverError",
    ):
        assert name in doc
    assert "└──" in doc
