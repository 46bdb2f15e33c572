"""The audit log: written by the services, readable by owners and admins, paged."""

from __future__ import annotations

from tests.server.conftest import Api, Persona
from tests.server.graphql.test_enrollment import enrolled_endpoint

EVENTS = """
query Events($first: Int!, $after: String) {
  auditEvents(first: $first, after: $after) {
    nodes { actor action target details }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_owners_read_what_happened_newest_first(
    api: Api, alice: Persona, carol: Persona
) -> None:
    data = await api.execute(EVENTS, {"first": 10}, alice.access_token)
    actions = [e["action"] for e in data["auditEvents"]["nodes"]]
    assert actions == ["member.add", "user.register"]
    added = data["auditEvents"]["nodes"][0]
    assert added["actor"] == "alice"
    assert added["target"] == "user:carol"
    assert added["details"] == {"role": "VIEWER"}


async def test_the_audit_log_pages_with_cursors(api: Api, alice: Persona, carol: Persona) -> None:
    first = await api.execute(EVENTS, {"first": 1}, alice.access_token)
    assert first["auditEvents"]["pageInfo"]["hasNextPage"] is True
    cursor = first["auditEvents"]["pageInfo"]["endCursor"]
    second = await api.execute(EVENTS, {"first": 1, "after": cursor}, alice.access_token)
    assert [e["action"] for e in second["auditEvents"]["nodes"]] == ["user.register"]
    assert second["auditEvents"]["pageInfo"]["hasNextPage"] is False


async def test_viewers_cannot_read_the_audit_log(api: Api, carol: Persona) -> None:
    error = await api.error_of(EVENTS, {"first": 5}, carol.access_token)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_tenant_sees_only_its_own_events(api: Api, alice: Persona, bob: Persona) -> None:
    data = await api.execute(EVENTS, {"first": 50}, bob.access_token)
    assert {e["target"] for e in data["auditEvents"]["nodes"]} == {"user:bob"}


async def test_page_size_is_capped_and_a_bad_cursor_is_a_clear_error(
    api: Api, alice: Persona
) -> None:
    error = await api.error_of(EVENTS, {"first": 1000}, alice.access_token)
    assert "between 1 and 100" in error["message"]
    error = await api.error_of(EVENTS, {"first": 5, "after": "garbage!"}, alice.access_token)
    assert "not a cursor" in error["message"]


FILTERED = """
query Events($filter: AuditFilter) {
  auditEvents(filter: $filter, first: 50) { nodes { actor action target } }
}
"""


async def test_the_audit_log_filters_by_action_prefix_actor_and_target_text(
    api: Api, alice: Persona, carol: Persona
) -> None:
    async def actions(**wanted: str) -> list[str]:
        data = await api.execute(FILTERED, {"filter": wanted}, alice.access_token)
        return [e["action"] for e in data["auditEvents"]["nodes"]]

    assert await actions(action="member.add") == ["member.add"]
    assert await actions(action="member.") == ["member.add"]
    assert await actions(action="member") == []
    assert await actions(action="user.", actor="alice") == ["user.register"]
    assert await actions(search="CAROL") == ["member.add"]
    assert await actions(search="%") == []


async def test_audit_search_text_is_bounded_with_the_fix(api: Api, alice: Persona) -> None:
    error = await api.error_of(FILTERED, {"filter": {"search": "x" * 201}}, alice.access_token)
    assert error["message"] == "filter.search: is 201 characters long: search with at most 200"


async def test_an_endpoint_acts_under_its_name_not_its_id(api: Api, alice: Persona) -> None:
    endpoint_id, token = await enrolled_endpoint(api, alice, "web-01")
    left = await api.execute("mutation { unenrollEndpoint { __typename } }", {}, token)
    assert left["unenrollEndpoint"]["__typename"] == "Endpoint"
    query = """
    query($filter: AuditFilter) {
      auditEvents(filter: $filter, first: 5) { nodes { actor actorName } }
    }
    """
    data = await api.execute(query, {"filter": {"action": "endpoint.unenroll"}}, alice.access_token)
    assert data["auditEvents"]["nodes"] == [
        {"actor": f"endpoint:{endpoint_id}", "actorName": "endpoint web-01"}
    ]
