"""Relay connections: follow `pageInfo.endCursor` until a limit or the last page."""

from __future__ import annotations

import re
from typing import Any

from crontopus.cli.api import Api
from crontopus.cli.errors import UserFailure

# The server caps a page (CRONTOPUS_MAX_PAGE_SIZE, 100 by default). A server configured lower
# says so in its error, and the page size follows it.
PAGE_SIZE = 100
_CAP = re.compile(r"first: must be between 1 and (\d+)")


async def collect(
    api: Api, document: str, variables: dict[str, Any], field: str, limit: int
) -> list[dict[str, Any]]:
    """Return up to `limit` nodes of the connection `field`, fetching page after page."""
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    page_size = PAGE_SIZE
    while len(nodes) < limit:
        first = min(page_size, limit - len(nodes))
        try:
            data = await api.execute(document, {**variables, "first": first, "after": after})
        except UserFailure as error:
            cap = _CAP.search(error.message)
            if cap is None or int(cap.group(1)) >= first:
                raise
            page_size = int(cap.group(1))
            continue
        connection = data[field]
        nodes.extend(connection["nodes"])
        page = connection["pageInfo"]
        if not page["hasNextPage"] or not page["endCursor"] or not connection["nodes"]:
            break
        after = page["endCursor"]
    return nodes[:limit]
