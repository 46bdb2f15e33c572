"""`audit`: the tenant's audit log, newest first."""

from __future__ import annotations

from tests.clients.conftest import Cli


def test_audit_lists_what_happened_newest_first(logged_in: Cli) -> None:
    assert logged_in("namespaces", "create", "audited").code == 0
    events = logged_in("audit", "--json").json()
    assert set(events[0]) == {"id", "createdAt", "actor", "action", "target", "details"}
    assert events[-1]["action"] == "user.register"
    assert len(logged_in("audit", "--limit", "1", "--json").json()) == 1


def test_audit_filters_on_the_server_by_action_prefix_and_target_text(logged_in: Cli) -> None:
    actions = [e["action"] for e in logged_in("audit", "--action", "user.", "--json").json()]
    assert actions == ["user.register"]
    assert logged_in("audit", "--search", "no-such-target", "--json").json() == []
