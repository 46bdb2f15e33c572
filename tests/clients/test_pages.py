"""Listings follow the API's cursors, and adapt to a server whose page cap is below 100."""

from __future__ import annotations

import uuid

from tests.clients.conftest import Cli, Server
from tests.clients.test_runs import check_in

SERVER_ENV = {"CRONTOPUS_MAX_PAGE_SIZE": "2"}


def test_listings_follow_cursors_across_small_pages(logged_in: Cli, server: Server) -> None:
    create = ("jobs", "create", "--schedule", "@daily", "--command", "/bin/true", "--name")
    ids = [logged_in(*create, f"paged-{n}").out.strip() for n in range(5)]
    jobs = logged_in("jobs", "list", "--json").json()
    assert sorted(job["id"] for job in jobs) == sorted(ids)
    assert len(logged_in("jobs", "list", "--limit", "3", "--json").json()) == 3
    token = logged_in("tokens", "create", "agent", "--scope", "checkin").out.strip()
    runs = [str(uuid.uuid4()) for _ in range(5)]
    for run in runs:
        check_in(server.url, token, ids[0], "0", run)
    listed = logged_in("runs", "list", "--json").json()
    assert [run["id"] for run in listed] == runs[::-1]
    assert [run["id"] for run in logged_in("runs", "list", "--limit", "3", "--json").json()] == (
        runs[::-1][:3]
    )
    for name in ("b", "c", "d"):
        assert logged_in("tokens", "create", name).code == 0
    events = logged_in("audit", "--json").json()
    assert [e["action"] for e in events] == ["api_token.create"] * 4 + ["user.register"]
    assert len(logged_in("audit", "--limit", "3", "--json").json()) == 3
