"""One version and one licence for every Crontopus distribution."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSION = (ROOT / "VERSION").read_text()
DISTRIBUTIONS = {
    ".": "crontopus",
    "core": "crontopus-core",
    "drivers": "crontopus-drivers",
    "agent": "crontopus-agent",
    "server": "crontopus-server",
    "clients": "crontopus-cli",
}


def test_version_holds_one_release_version_on_one_line() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+\n", VERSION), repr(VERSION)


@pytest.mark.parametrize(("directory", "name"), DISTRIBUTIONS.items())
def test_every_distribution_reads_its_version_from_the_one_version_file(
    directory: str, name: str
) -> None:
    project = tomllib.loads((ROOT / directory / "pyproject.toml").read_text())
    assert project["project"]["name"] == name
    assert "version" not in project["project"]
    # The version comes from VERSION; the dependencies (where dynamic) only carry that version
    # into the pins on the other Crontopus distributions (hatch_pins.py).
    assert project["project"]["dynamic"][0] == "version"
    assert set(project["project"]["dynamic"]) <= {
        "version",
        "dependencies",
        "optional-dependencies",
    }
    source = project["tool"]["hatch"]["version"]
    assert (ROOT / directory / source["path"]).resolve() == ROOT / "VERSION"
    assert re.search(source["pattern"], VERSION).group("version") == VERSION.strip()  # type: ignore[union-attr]


@pytest.mark.parametrize("name", DISTRIBUTIONS.values())
def test_the_installed_distributions_carry_that_version(name: str) -> None:
    # `make install` reinstalls when VERSION changes, so a stale install fails here.
    assert version(name) == VERSION.strip()


@pytest.mark.parametrize("directory", DISTRIBUTIONS)
def test_every_distribution_ships_the_apache_license(directory: str) -> None:
    project = tomllib.loads((ROOT / directory / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert project["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / directory / "LICENSE").read_text()
    assert text == (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
