"""Relay connections: follow `pageInfo.endCursor` until a limit or the last page."""

from __future__ import annotations

from typing import Any

from crontopus.cli.api import Api

# The server caps a page (CRONTOPUS_MAX_PAGE_SIZE, 100 by default); ask for no more.
PAGE_SIZE = 100


async def collect(
    api: Api, document: str, variables: dict[str, Any], field: str, limit: int
) -> list[dict[str, Any]]:
    """Return up to `limit` nodes of the connection `field`, fetching page after page."""
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    while len(nodes) < limit:
        page_variables = {**variables, "first": min(PAGE_SIZE, limit - len(nodes)), "after": after}
        connection = (await api.execute(document, page_variables))[field]
        nodes.extend(connection["nodes"])
        page = connection["pageInfo"]
        if not page["hasNextPage"] or not page["endCursor"] or not connection["nodes"]:
            break
        after = page["endCursor"]
    return nodes[:limit]
