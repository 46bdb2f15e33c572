"""One line of machine-readable result per benchmark, which `benchmarks/run.py` collects.

Each script prints its own figures for people; `record` adds a line starting with
`RESULT ` and a JSON object: the script, what it measures, the target, the figure, and
whether the target was met (None when the script has no target).
"""

from __future__ import annotations

import json

PREFIX = "RESULT "


def record(script: str, what: str, target: str, measured: str, met: bool | None) -> None:
    """Print the machine-readable result line of one benchmark."""
    line = {"script": script, "what": what, "target": target, "measured": measured, "met": met}
    print(PREFIX + json.dumps(line, ensure_ascii=False), flush=True)
