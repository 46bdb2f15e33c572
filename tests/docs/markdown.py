"""The fenced blocks of a Markdown page, as the documentation tests read them.

A block's info string is its language, then optional words: ```` ```sh ```` is a command
block that runs in the tests, ```` ```sh illustration ```` one that only shows a command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Languages whose blocks hold commands a reader types.
COMMAND_LANGUAGES = frozenset({"sh", "console"})
ILLUSTRATION = "illustration"
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its info string and its text."""

    path: Path
    line: int
    info: str
    text: str

    @property
    def language(self) -> str:
        """Return the first word of the info string ("" when there is none)."""
        words = self.info.split()
        return words[0] if words else ""

    @property
    def is_command(self) -> bool:
        """Say whether the block shows commands (runnable or not)."""
        return self.language in COMMAND_LANGUAGES

    @property
    def runs(self) -> bool:
        """Say whether the tests run this block as written."""
        return self.is_command and ILLUSTRATION not in self.info.split()[1:]

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Return the fenced blocks of a Markdown file, in order."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, info = opening.group(1), opening.group(2).strip()
        body: list[str] = []
        index += 1
        while index < len(lines) and not (
            lines[index].strip().startswith(fence[0] * len(fence))
            and set(lines[index].strip()) == {fence[0]}
        ):
            body.append(lines[index])
            index += 1
        found.append(Block(path, index - len(body), info, "\n".join(body) + "\n"))
        index += 1
    return found
