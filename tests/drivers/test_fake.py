"""The fake driver's own knobs, used by agent tests and plugin authors."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crontopus.drivers import ConversionRefused, DesiredEntry, DriverUnavailable
from crontopus.drivers.fake import FakeDriver


def test_it_can_play_a_scheduler_without_time_zones() -> None:
    driver = FakeDriver(refuse_timezones=True)
    with pytest.raises(ConversionRefused, match="Europe/Berlin"):
        driver.convert("0 2 * * *", "Europe/Berlin")
    assert driver.convert("0 2 * * *", None).native == {"expression": "0 2 * * *", "timezone": None}
    assert driver.convert("@reboot", "Europe/Berlin").native["expression"] == "@reboot"


def test_it_can_play_an_unavailable_scheduler() -> None:
    driver = FakeDriver(unavailable_reason="no scheduler here")
    assert not driver.available().ok
    assert driver.available().reason == "no scheduler here"
    with pytest.raises(DriverUnavailable, match="no scheduler here"):
        driver.list_managed()
    with pytest.raises(DriverUnavailable):
        driver.apply([])


def test_it_is_built_from_string_options() -> None:
    driver = FakeDriver.from_options({"refuse_timezones": "yes", "unavailable_reason": "off"})
    assert driver.refuse_timezones
    assert not driver.available().ok


def test_a_rename_is_an_update_that_writes_once() -> None:
    driver = FakeDriver()
    job = uuid4()
    argv = ["/usr/bin/crontopus-agent", "run-job", str(job)]
    driver.apply([DesiredEntry.build(job, "old", "0 2 * * *", None, argv)])
    renamed = DesiredEntry.build(job, "new", "0 2 * * *", None, argv)
    driver.apply([renamed])
    driver.apply([renamed])
    assert driver.writes == 2
    assert driver.list_managed()[job].content_hash == renamed.content_hash
