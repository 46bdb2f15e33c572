"""namespacesPage, membersPage and apiTokensPage: search on the server, keyset cursors, no gaps."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import ADD_MEMBER, Api, Persona, register


async def every_page(
    api: Api, persona: Persona, field: str, selection: str, **variables: Any
) -> list[dict[str, Any]]:
    """Follow `field`'s cursors from the first page to the last, two nodes at a time."""
    args = ", ".join(f"${name}: {kind}" for name, kind in _KINDS.items() if name in variables)
    passed = ", ".join(f"{name}: ${name}" for name in variables)
    query = (
        f"query($first: Int!, $after: String{', ' if args else ''}{args}) "
        f"{{ {field}(first: $first, after: $after{', ' if passed else ''}{passed}) "
        f"{{ nodes {{ {selection} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        data = await api.execute(
            query, {"first": 2, "after": after, **variables}, persona.access_token
        )
        page = data[field]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


_KINDS = {"search": "String", "role": "Role"}


async def test_namespaces_page_by_name_and_search_on_the_server(api: Api, alice: Persona) -> None:
    for name in ("ops", "backup", "billing", "web"):
        await api.execute(
            "mutation($n: String!) { createNamespace(name: $n) { __typename } }",
            {"n": name},
            alice.access_token,
        )

    names = [n["name"] for n in await every_page(api, alice, "namespacesPage", "name")]
    found = await every_page(api, alice, "namespacesPage", "name", search="BI")

    assert names == sorted(names)
    assert {"ops", "backup", "billing", "web", "default"} <= set(names)
    assert [n["name"] for n in found] == ["billing"]


async def test_members_page_by_user_name_with_search_and_role(
    api: Api, alice: Persona, bob: Persona
) -> None:
    for username, role in (("zoe", "VIEWER"), ("yann", "MEMBER"), ("xena", "VIEWER")):
        await register(api, username)
        await api.execute(ADD_MEMBER, {"username": username, "role": role}, alice.access_token)

    members = await every_page(api, alice, "membersPage", "role user { username }")
    viewers = await every_page(api, alice, "membersPage", "user { username }", role="VIEWER")
    by_mail = await every_page(api, alice, "membersPage", "user { username }", search="ANN@EX")

    assert [m["user"]["username"] for m in members] == ["alice", "xena", "yann", "zoe"]
    assert [m["user"]["username"] for m in viewers] == ["xena", "zoe"]
    assert [m["user"]["username"] for m in by_mail] == ["yann"]
    theirs = await every_page(api, bob, "membersPage", "user { username }")
    assert [m["user"]["username"] for m in theirs] == ["bob"]


async def test_api_tokens_page_newest_first_with_search(api: Api, alice: Persona) -> None:
    for name in ("deploy-1", "backup", "deploy-2", "deploy-3"):
        data = await api.execute(
            "mutation($n: String!) { createApiToken(name: $n, scopes: [READ]) { __typename } }",
            {"n": name},
            alice.access_token,
        )
        assert data["createApiToken"]["__typename"] == "CreatedApiToken", data

    tokens = await every_page(api, alice, "apiTokensPage", "name")
    deploys = await every_page(api, alice, "apiTokensPage", "name", search="deploy")

    assert [t["name"] for t in tokens] == ["deploy-3", "deploy-2", "backup", "deploy-1"]
    assert [t["name"] for t in deploys] == ["deploy-3", "deploy-2", "deploy-1"]


async def test_a_search_past_its_bound_or_a_forged_cursor_is_refused(
    api: Api, alice: Persona
) -> None:
    long = await api.error_of(
        "query($s: String) { membersPage(search: $s) { nodes { role } } }",
        {"s": "x" * 201},
        alice.access_token,
    )
    forged = await api.error_of(
        '{ apiTokensPage(after: "bm90LWEtY3Vyc29y") { nodes { name } } }', None, alice.access_token
    )

    assert long["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 200" in long["message"]
    assert forged["extensions"]["code"] == "BAD_USER_INPUT"
    assert "pageInfo.endCursor" in forged["message"]
