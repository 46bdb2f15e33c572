"""The crond example is found like any third-party plugin: through its installed entry point."""

from __future__ import annotations

from importlib.metadata import version

from crontopus_driver_crond import CronDDriver

from crontopus.drivers import (
    default_driver_name,
    describe_drivers,
    get_plugin_manager,
    load_drivers,
)


def test_the_installed_distribution_provides_the_crond_driver() -> None:
    infos = {info.name: info for info in describe_drivers(get_plugin_manager())}
    crond = infos["crond"]
    assert crond.driver_class is CronDDriver
    assert crond.plugin == "crond"
    assert (crond.distribution, crond.version) == (
        "crontopus-driver-crond",
        version("crontopus-driver-crond"),
    )
    assert crond.hooks == ("crontopus_driver_classes",)
    assert crond.load_error is None


def test_it_sits_beside_the_built_in_drivers() -> None:
    assert {"cron", "systemd", "taskscheduler", "crond"} <= set(load_drivers(get_plugin_manager()))


def test_it_leaves_the_default_driver_to_the_built_ins() -> None:
    # An example plugin must not take over machines that merely have it installed.
    assert default_driver_name(get_plugin_manager(), "linux") == "cron"
