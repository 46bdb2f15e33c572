"""The extension surface checks itself: every hook is prefixed, documented, typed and tested."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from crontopus.drivers import hookimpl, hookspecs
from crontopus.drivers.contract import Driver
from crontopus.drivers.fake import FakeDriver
from crontopus.drivers.plugins import default_driver_name, get_plugin_manager, load_drivers

TESTS = Path(__file__).resolve().parents[1]
HOOKS = [
    (name, function)
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, "crontopus_spec")
]


def test_the_hookspecs_module_declares_hooks() -> None:
    assert {name for name, _ in HOOKS} >= {"crontopus_driver_classes", "crontopus_default_driver"}


@pytest.mark.parametrize(("name", "function"), HOOKS, ids=[name for name, _ in HOOKS])
def test_every_hook_is_prefixed_typed_and_documented(name: str, function: object) -> None:
    assert name.startswith("crontopus_")
    doc = inspect.getdoc(function)
    assert doc, f"hook {name} has no docstring"
    assert "called" in doc.lower(), f"hook {name}'s docstring must say when it is called"
    assert "return" in doc.lower(), f"hook {name}'s docstring must say what it returns"
    signature = inspect.signature(function)  # type: ignore[arg-type]
    assert signature.return_annotation is not inspect.Signature.empty
    assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values())


@pytest.mark.parametrize("name", [name for name, _ in HOOKS])
def test_every_hook_has_a_test_other_than_this_one(name: str) -> None:
    this = Path(__file__).resolve()
    mentions = [
        path
        for path in TESTS.rglob("test_*.py")
        if path.resolve() != this and name in path.read_text(encoding="utf-8")
    ]
    assert mentions, f"hook {name} is not exercised by any test under tests/"


def test_no_module_level_hook_is_left_unregistered_by_accident() -> None:
    # Every function in hookspecs.py that looks like a hook must be a declared spec.
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("crontopus_"):
            assert hasattr(function, "crontopus_spec"), f"{name} lacks @hookspec"


class LaunchdPlugin:
    """A stand-in third-party plugin that claims macOS ahead of cron."""

    @hookimpl
    def crontopus_driver_classes(self) -> list[type[Driver]]:
        return [FakeDriver]

    @hookimpl
    def crontopus_default_driver(self, platform: str) -> str | None:
        return "fake" if platform == "darwin" else None


def test_crontopus_driver_classes_gathers_the_classes_of_every_plugin() -> None:
    pm = get_plugin_manager()
    pm.register(LaunchdPlugin(), name="launchd")
    drivers = load_drivers(pm)
    assert drivers["cron"].name == "cron"
    assert drivers["fake"] is FakeDriver


def test_crontopus_default_driver_lets_a_plugin_override_the_cron_fallback() -> None:
    pm = get_plugin_manager()
    assert default_driver_name(pm, "darwin") == "cron"
    pm.register(LaunchdPlugin(), name="launchd")
    assert default_driver_name(pm, "darwin") == "fake"
    assert default_driver_name(pm, "linux") == "cron"


def test_crontopus_default_driver_has_no_opinion_without_plugins() -> None:
    assert default_driver_name(get_plugin_manager(load_entrypoints=False), "linux") is None
