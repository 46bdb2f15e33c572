"""Finding driver plugins through entry points, and surviving broken ones."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from crontopus.drivers import (
    Driver,
    DriverUnavailable,
    describe_drivers,
    get_plugin_manager,
    hookimpl,
    load_drivers,
)
from crontopus.drivers.cron import CronDriver
from crontopus.drivers.fake import FakeDriver


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Put an installed-looking distribution with crontopus.drivers entry points on sys.path."""
    dist = tmp_path / "crontopus_driver_demo-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: crontopus-driver-demo\nVersion: 1.2.3\n"
    )
    (dist / "entry_points.txt").write_text(
        "[crontopus.drivers]\n"
        "demo = crontopus_driver_demo\n"
        "broken = crontopus_driver_missing\n"
        "exploding = crontopus_driver_exploding\n"
    )
    (tmp_path / "crontopus_driver_demo.py").write_text(
        "from crontopus.drivers import hookimpl\n"
        "from crontopus.drivers.fake import FakeDriver\n\n"
        "class DemoDriver(FakeDriver):\n"
        "    name = 'demo'\n\n"
        "@hookimpl\n"
        "def crontopus_driver_classes():\n"
        "    return [DemoDriver]\n"
    )
    (tmp_path / "crontopus_driver_exploding.py").write_text(
        "raise RuntimeError('boom at import')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in ("crontopus_driver_demo", "crontopus_driver_exploding"):
        sys.modules.pop(module, None)


def test_the_built_in_cron_driver_is_found_through_its_entry_point() -> None:
    infos = {info.name: info for info in describe_drivers(get_plugin_manager())}
    cron = infos["cron"]
    assert cron.driver_class is CronDriver
    assert cron.plugin == "cron"
    assert (cron.distribution, cron.version) == ("crontopus-drivers", version("crontopus-drivers"))
    assert cron.hooks == ("crontopus_default_driver", "crontopus_driver_classes")
    assert cron.load_error is None


def test_building_the_manager_without_entry_points_loads_nothing() -> None:
    assert load_drivers(get_plugin_manager(load_entrypoints=False)) == {}


def test_a_third_party_plugin_is_listed_with_its_distribution(third_party: Path) -> None:
    infos = {info.name: info for info in describe_drivers(get_plugin_manager())}
    demo = infos["demo"]
    assert (demo.distribution, demo.version, demo.plugin) == (
        "crontopus-driver-demo",
        "1.2.3",
        "demo",
    )
    assert demo.driver_class().available().ok


@pytest.mark.parametrize(
    ("plugin", "error"), [("broken", "ModuleNotFoundError"), ("exploding", "boom at import")]
)
def test_a_plugin_that_fails_to_import_is_listed_as_unavailable(
    third_party: Path, plugin: str, error: str
) -> None:
    infos = {info.name: info for info in describe_drivers(get_plugin_manager())}
    info = infos[plugin]
    assert info.load_error is not None
    assert error in info.load_error
    assert "crontopus-driver-demo 1.2.3" in info.load_error
    driver = info.driver_class.from_options({})
    availability = driver.available()
    assert not availability.ok
    assert error in availability.reason
    with pytest.raises(DriverUnavailable, match=plugin):
        driver.list_managed()
    with pytest.raises(DriverUnavailable):
        driver.convert("* * * * *", None)


class Buggy:
    @hookimpl
    def crontopus_driver_classes(self) -> list[type[Driver]]:
        raise RuntimeError("plugin bug")


def test_a_plugin_whose_hook_raises_is_listed_as_unavailable() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Buggy(), name="buggy")
    (info,) = describe_drivers(pm)
    assert info.name == "buggy"
    assert "plugin bug" in (info.load_error or "")
    assert not info.driver_class().available().ok


class Impostor:
    @hookimpl
    def crontopus_driver_classes(self) -> list[type[Driver]]:
        class FakeCron(FakeDriver):
            name = "cron"

        return [FakeCron]


def test_a_second_driver_with_a_taken_name_is_listed_but_not_used() -> None:
    pm = get_plugin_manager()
    pm.register(Impostor(), name="impostor")
    crons = [info for info in describe_drivers(pm) if info.name == "cron"]
    assert [(info.plugin, info.shadowed) for info in crons] == [("cron", False), ("impostor", True)]
    assert load_drivers(pm)["cron"] is CronDriver


def test_a_plugin_module_can_be_registered_by_hand() -> None:
    from crontopus.drivers import fake

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(fake, name="fake")
    (info,) = describe_drivers(pm)
    assert (info.name, info.distribution, info.version) == ("fake", None, None)
