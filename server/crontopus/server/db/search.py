"""Server-side search of lists: one bound on search text and one LIKE pattern for it."""

from __future__ import annotations

from crontopus.server.errors import ValidationFailed

MAX_SEARCH_LENGTH = 200


def search_text(value: str | None, path: str) -> str | None:
    """Return the search text trimmed (None when empty), refusing text beyond the bound."""
    if value is None or not value.strip():
        return None
    if len(value) > MAX_SEARCH_LENGTH:
        raise ValidationFailed.single(
            path, f"is {len(value)} characters long: search with at most {MAX_SEARCH_LENGTH}"
        )
    return value.strip()


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character `\\`) matching values that contain `text` literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
