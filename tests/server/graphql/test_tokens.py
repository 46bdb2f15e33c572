"""Personal API tokens: created once, stored hashed, scoped, revocable, tenant-bound."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from crontopus.server.app import AppState
from crontopus.server.db.models import ApiToken
from tests.server.conftest import Api, Persona

CREATE = """
mutation Create($name: String!, $scopes: [TokenScope!]!, $days: Int) {
  createApiToken(name: $name, scopes: $scopes, expiresInDays: $days) {
    __typename
    ... on CreatedApiToken { plaintext token { id name hint scopes expiresAt lastUsedAt } }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""
REVOKE = """
mutation Revoke($id: UUID!) {
  revokeApiToken(id: $id) {
    __typename
    ... on ApiToken { revokedAt }
    ... on UserError { message }
  }
}
"""
LIST = "{ apiTokens { id name hint scopes lastUsedAt revokedAt } }"
ME = "{ me { user { username } tenant { slug } role } }"


async def create(api: Api, persona: Persona, scopes: list[str], name: str = "ci") -> dict:  # type: ignore[type-arg]
    data = await api.execute(CREATE, {"name": name, "scopes": scopes}, persona.access_token)
    result: dict = data["createApiToken"]  # type: ignore[type-arg]
    return result


async def test_a_token_is_shown_once_and_stored_only_as_a_hash(
    api: Api, alice: Persona, state: AppState
) -> None:
    created = await create(api, alice, ["READ", "WRITE"])
    plaintext = created["plaintext"]
    assert plaintext.startswith("ctp_")
    assert created["token"]["hint"] == plaintext[-4:]
    async with state.session() as session:
        row = await session.scalar(select(ApiToken))
    assert row is not None
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    listed = await api.execute(LIST, token=alice.access_token)
    assert plaintext not in str(listed)
    assert listed["apiTokens"][0]["scopes"] == ["READ", "WRITE"]


async def test_an_api_token_authenticates_as_its_user_and_records_last_use(
    api: Api, alice: Persona
) -> None:
    created = await create(api, alice, ["READ"])
    data = await api.execute(ME, token=created["plaintext"])
    assert data["me"] == {
        "user": {"username": "alice"},
        "tenant": {"slug": "alice"},
        "role": "OWNER",
    }
    listed = await api.execute(LIST, token=alice.access_token)
    assert listed["apiTokens"][0]["lastUsedAt"] is not None


async def test_a_token_with_a_bad_checksum_is_rejected_as_mistyped(
    api: Api, alice: Persona
) -> None:
    plaintext = (await create(api, alice, ["READ"]))["plaintext"]
    typo = plaintext[:10] + ("x" if plaintext[10] != "x" else "y") + plaintext[11:]
    error = await api.error_of(ME, token=typo)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "malformed" in error["message"]


async def test_a_revoked_token_stops_working_at_once(api: Api, alice: Persona) -> None:
    created = await create(api, alice, ["READ"])
    revoked = await api.execute(REVOKE, {"id": created["token"]["id"]}, alice.access_token)
    assert revoked["revokeApiToken"]["revokedAt"] is not None
    error = await api.error_of(ME, token=created["plaintext"])
    assert "revoked" in error["message"]


async def test_a_read_only_token_cannot_mutate(api: Api, alice: Persona) -> None:
    read_only = (await create(api, alice, ["READ"]))["plaintext"]
    data = await api.execute(
        """mutation { addMember(username: "alice", role: MEMBER) {
             __typename ... on UserError { message } } }""",
        token=read_only,
    )
    assert data["addMember"]["__typename"] == "PermissionError"
    assert "write scope" in data["addMember"]["message"]


async def test_a_token_cannot_mint_more_tokens(api: Api, alice: Persona) -> None:
    token = (await create(api, alice, ["READ", "WRITE"]))["plaintext"]
    data = await api.execute(CREATE, {"name": "x", "scopes": ["READ"]}, token)
    assert data["createApiToken"]["__typename"] == "PermissionError"


async def test_token_input_is_validated_field_by_field(api: Api, alice: Persona) -> None:
    data = await api.execute(CREATE, {"name": " ", "scopes": [], "days": 0}, alice.access_token)
    result = data["createApiToken"]
    assert result["__typename"] == "ValidationError"
    assert {tuple(f["path"]) for f in result["fields"]} == {
        ("name",),
        ("scopes",),
        ("expiresInDays",),
    }


async def test_an_expiring_token_carries_its_expiry(api: Api, alice: Persona) -> None:
    data = await api.execute(
        CREATE, {"name": "short", "scopes": ["READ"], "days": 7}, alice.access_token
    )
    assert data["createApiToken"]["token"]["expiresAt"] is not None


async def test_a_viewer_may_only_create_read_tokens(api: Api, carol: Persona) -> None:
    denied = await create(api, carol, ["WRITE"])
    assert denied["__typename"] == "PermissionError"
    allowed = await create(api, carol, ["READ"])
    assert allowed["__typename"] == "CreatedApiToken"


async def test_another_tenants_token_cannot_be_seen_or_revoked(
    api: Api, alice: Persona, bob: Persona
) -> None:
    created = await create(api, alice, ["READ"])
    listed = await api.execute(LIST, token=bob.access_token)
    assert listed["apiTokens"] == []
    data = await api.execute(REVOKE, {"id": created["token"]["id"]}, bob.access_token)
    assert data["revokeApiToken"]["__typename"] == "NotFoundError"
    assert data["revokeApiToken"]["message"] == "no such API token"
