"""The cron plugin module registers like any third-party plugin."""

from __future__ import annotations

import pytest

from crontopus.drivers import default_driver_name, get_plugin_manager, load_drivers
from crontopus.drivers.cron import CronDriver
from crontopus.drivers.cron import plugin as cron_plugin


def test_crontopus_driver_classes_of_the_cron_plugin_names_the_cron_driver() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(cron_plugin, name="cron")
    assert load_drivers(pm) == {"cron": CronDriver}


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("linux", "cron"), ("darwin", "cron"), ("freebsd14", "cron"), ("win32", None)],
)
def test_crontopus_default_driver_picks_cron_on_unix_like_platforms(
    platform: str, expected: str | None
) -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(cron_plugin, name="cron")
    assert default_driver_name(pm, platform) == expected
