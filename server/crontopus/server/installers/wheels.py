"""The agent's wheels this server hands out, and the PEP 503 simple index listing them.

Where they are, first found wins:
1. CRONTOPUS_AGENT_WHEELS (a directory), for a server run from a source tree or a mirror;
2. `agent_wheels/` inside the installed crontopus-server package (the wheel carries them);
3. the source tree's `dist/`, which `make dist` fills (an editable install).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

AGENT_PROJECTS = ("crontopus-core", "crontopus-drivers", "crontopus-agent")
REQUIRES_PYTHON = ">=3.11"
MISSING = (
    "This Crontopus server has no agent wheels to hand out. Build them with `make dist` in the "
    "source tree, set CRONTOPUS_AGENT_WHEELS to a directory holding them, or install the "
    "crontopus-server wheel, which carries them.\n"
)


def normalise(name: str) -> str:
    """A project name in PEP 503's normalised form."""
    return re.sub(r"[-_.]+", "-", name).lower()


def packaged_directory() -> Path | None:
    """`agent_wheels/` inside the installed crontopus.server package, when it is there."""
    directory = files("crontopus.server").joinpath("agent_wheels")
    return directory if isinstance(directory, Path) and directory.is_dir() else None


def source_directory() -> Path | None:
    """The source tree's `dist/` (server/crontopus/server/installers/wheels.py -> the root)."""
    directory = Path(__file__).resolve().parents[4] / "dist"
    return directory if directory.is_dir() else None


def agent_wheel_directory(configured: Path | None) -> Path | None:
    """Where the agent's wheels are: the setting, the package, else the source tree."""
    if configured is not None:
        return configured
    return packaged_directory() or source_directory()


@dataclass(frozen=True)
class Wheel:
    """One wheel file of one of the agent's projects."""

    filename: str
    project: str
    version: str
    path: Path
    sha256: str


class WheelIndex:
    """The agent's wheels in one directory; hashes are computed once per file version."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._hashes: dict[tuple[str, int, int], str] = {}

    def wheels(self) -> list[Wheel]:
        """Every wheel of the agent's projects, read afresh (a rebuild shows at once)."""
        if self.directory is None or not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.whl")):
            parts = path.name[: -len(".whl")].split("-")
            if len(parts) < 5 or normalise(parts[0]) not in AGENT_PROJECTS:
                continue
            found.append(Wheel(path.name, normalise(parts[0]), parts[1], path, self._hash(path)))
        return found

    def find(self, filename: str) -> Wheel | None:
        """The wheel named `filename`, only ever one this index lists."""
        return next((wheel for wheel in self.wheels() if wheel.filename == filename), None)

    def release(self) -> list[Wheel]:
        """The wheels the installers install: the newest version all three projects have.

        Empty when there is none. The installers name these files by URL and sha256, so pip
        takes the Crontopus projects from this server only: no other index can offer a
        crontopus-core that wins.
        """
        wheels = self.wheels()
        versions = {wheel.version for wheel in wheels if wheel.project == "crontopus-agent"}
        for version in sorted(versions, key=_version_key, reverse=True):
            chosen = [
                next((w for w in wheels if w.project == project and w.version == version), None)
                for project in AGENT_PROJECTS
            ]
            if all(chosen):
                return [wheel for wheel in chosen if wheel is not None]
        return []

    def _hash(self, path: Path) -> str:
        stat = path.stat()
        key = (path.name, stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            digest = hashlib.sha256()
            with path.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            self._hashes[key] = digest.hexdigest()
        return self._hashes[key]


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    # Releases are plain dotted numbers; anything else sorts after them by text.
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


def _page(title: str, links: list[str]) -> str:
    body = "\n".join(f"    {link}<br>" for link in links)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}\n  </body>\n</html>\n"
    )


def root_page(index: WheelIndex) -> str:
    """The index's root: one link per project that has wheels."""
    projects = sorted({wheel.project for wheel in index.wheels()})
    return _page("Crontopus agent packages", [f'<a href="{p}/">{p}</a>' for p in projects])


def project_page(index: WheelIndex, project: str) -> str | None:
    """A project's page: its wheels with sha256 fragments; None when it has none."""
    wheels = [wheel for wheel in index.wheels() if wheel.project == project]
    if not wheels:
        return None
    requires = html.escape(REQUIRES_PYTHON)
    links = [
        f'<a href="../../wheels/{html.escape(w.filename)}#sha256={w.sha256}" '
        f'data-requires-python="{requires}">{html.escape(w.filename)}</a>'
        for w in wheels
    ]
    return _page(f"Links for {project}", links)
