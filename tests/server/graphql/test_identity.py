"""Sign-up, login, refresh rotation, logout, `me` and membership over GraphQL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from crontopus.server.app import AppState
from crontopus.server.db.models import AuditEvent
from tests.server.conftest import ADD_MEMBER, LOGIN, PASSWORD, REGISTER, Api, Persona, register

ME = "{ me { user { username email } tenant { slug } role tenants { role tenant { slug } } } }"
REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(token: $token) {
    __typename
    ... on AuthPayload { accessToken refreshToken }
    ... on UserError { message }
  }
}
"""
LOGOUT = """
mutation Logout($token: String!) {
  logout(refreshToken: $token) { __typename ... on UserError { message } }
}
"""
REMOVE_MEMBER = """
mutation Remove($userId: UUID!) {
  removeMember(userId: $userId) {
    __typename
    ... on RemoveMemberPayload { user { username } }
    ... on UserError { message }
  }
}
"""
MEMBERS = "{ members { role user { username } } }"


async def test_a_new_user_registers_and_me_shows_them_as_owner_of_their_tenant(
    api: Api, alice: Persona
) -> None:
    data = await api.execute(ME, token=alice.access_token)
    assert data["me"] == {
        "user": {"username": "alice", "email": "alice@example.com"},
        "tenant": {"slug": "alice"},
        "role": "OWNER",
        "tenants": [{"role": "OWNER", "tenant": {"slug": "alice"}}],
    }


async def test_registration_reports_every_problem_with_its_field(api: Api) -> None:
    data = await api.execute(
        REGISTER, {"username": "A!", "email": "not-an-email", "password": "short"}
    )
    result = data["register"]
    assert result["__typename"] == "ValidationError"
    paths = {tuple(f["path"]) for f in result["fields"]}
    assert paths == {("username",), ("email",), ("password",)}
    assert any("at least 15 characters" in f["message"] for f in result["fields"])


async def test_registration_rejects_a_common_password_or_one_containing_the_username(
    api: Api,
) -> None:
    common = await api.execute(
        REGISTER, {"username": "dave", "email": "d@example.com", "password": "password123456789"}
    )
    assert "is too common" in common["register"]["fields"][0]["message"]
    named = await api.execute(
        REGISTER, {"username": "dave", "email": "d@example.com", "password": "dave-is-great-42"}
    )
    assert "contains your username" in named["register"]["fields"][0]["message"]


async def test_registration_refuses_a_taken_username(api: Api, alice: Persona) -> None:
    data = await api.execute(
        REGISTER, {"username": "alice", "email": "other@example.com", "password": PASSWORD}
    )
    assert data["register"]["__typename"] == "ValidationError"
    assert data["register"]["fields"][0]["path"] == ["username"]


async def test_me_without_a_token_is_an_authentication_error(api: Api) -> None:
    error = await api.error_of(ME)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Authorization: Bearer" in error["message"]


async def test_a_forged_access_token_is_refused(api: Api, alice: Persona) -> None:
    header, payload, _signature = alice.access_token.split(".")
    error = await api.error_of(ME, token=f"{header}.{payload}.AAAA")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_login_with_a_wrong_password_says_so_without_naming_which_part(
    api: Api, alice: Persona
) -> None:
    wrong = await api.execute(LOGIN, {"username": "alice", "password": "nope-nope-nope"})
    unknown = await api.execute(LOGIN, {"username": "nobody", "password": "nope-nope-nope"})
    assert wrong["login"] == unknown["login"]
    assert wrong["login"]["message"] == "wrong username or password"


async def test_login_returns_working_tokens(api: Api, alice: Persona) -> None:
    data = await api.execute(LOGIN, {"username": "alice", "password": PASSWORD})
    token = data["login"]["accessToken"]
    me = await api.execute(ME, token=token)
    assert me["me"]["user"]["username"] == "alice"


async def test_refresh_rotates_and_the_old_refresh_token_dies(api: Api, alice: Persona) -> None:
    first = await api.execute(REFRESH, {"token": alice.refresh_token})
    assert first["refreshToken"]["__typename"] == "AuthPayload"
    new_refresh = first["refreshToken"]["refreshToken"]
    assert new_refresh != alice.refresh_token
    await api.execute(ME, token=first["refreshToken"]["accessToken"])

    reuse = await api.execute(REFRESH, {"token": alice.refresh_token})
    assert reuse["refreshToken"]["__typename"] == "AuthenticationError"
    assert "already used" in reuse["refreshToken"]["message"]


async def test_reusing_a_dead_refresh_token_revokes_the_whole_family(
    api: Api, alice: Persona
) -> None:
    rotated = await api.execute(REFRESH, {"token": alice.refresh_token})
    live = rotated["refreshToken"]["refreshToken"]
    await api.execute(REFRESH, {"token": alice.refresh_token})  # the thief replays the old one
    after = await api.execute(REFRESH, {"token": live})
    assert after["refreshToken"]["__typename"] == "AuthenticationError"


async def test_a_mistyped_refresh_token_is_rejected_by_its_checksum(
    api: Api, alice: Persona
) -> None:
    typo = alice.refresh_token[:-1] + ("A" if alice.refresh_token[-1] != "A" else "B")
    data = await api.execute(REFRESH, {"token": typo})
    assert "check for typos" in data["refreshToken"]["message"]


async def test_logout_ends_the_session(api: Api, alice: Persona) -> None:
    data = await api.execute(LOGOUT, {"token": alice.refresh_token})
    assert data["logout"]["__typename"] == "LogoutPayload"
    after = await api.execute(REFRESH, {"token": alice.refresh_token})
    assert after["refreshToken"]["__typename"] == "AuthenticationError"


async def test_a_member_of_two_tenants_chooses_one_at_login(
    api: Api, alice: Persona, carol: Persona
) -> None:
    assert carol.tenant_slug == "alice"
    me = await api.execute(ME, token=carol.access_token)
    assert me["me"]["role"] == "VIEWER"
    assert {t["tenant"]["slug"] for t in me["me"]["tenants"]} == {"alice", "carol"}
    own = await api.execute(LOGIN, {"username": "carol", "password": PASSWORD, "tenant": "carol"})
    assert own["login"]["role"] == "OWNER"
    foreign = await api.execute(LOGIN, {"username": "carol", "password": PASSWORD, "tenant": "bob"})
    assert foreign["login"]["__typename"] == "AuthenticationError"


async def test_a_viewer_cannot_add_members(api: Api, alice: Persona, carol: Persona) -> None:
    await register(api, "dave")
    data = await api.execute(ADD_MEMBER, {"username": "dave", "role": "MEMBER"}, carol.access_token)
    assert data["addMember"]["__typename"] == "PermissionError"
    assert "ADMIN" in data["addMember"]["message"]


async def test_adding_an_unknown_user_or_an_existing_member_fails_clearly(
    api: Api, alice: Persona, carol: Persona
) -> None:
    unknown = await api.execute(
        ADD_MEMBER, {"username": "ghost", "role": "MEMBER"}, alice.access_token
    )
    assert unknown["addMember"]["__typename"] == "NotFoundError"
    again = await api.execute(
        ADD_MEMBER, {"username": "carol", "role": "MEMBER"}, alice.access_token
    )
    assert again["addMember"]["__typename"] == "ConflictError"


async def test_members_lists_everyone_in_the_tenant_only(
    api: Api, alice: Persona, bob: Persona, carol: Persona
) -> None:
    data = await api.execute(MEMBERS, token=alice.access_token)
    assert sorted(m["user"]["username"] for m in data["members"]) == ["alice", "carol"]
    data = await api.execute(MEMBERS, token=bob.access_token)
    assert [m["user"]["username"] for m in data["members"]] == ["bob"]


async def test_removing_a_member_ends_their_access_at_once(
    api: Api, alice: Persona, carol: Persona
) -> None:
    await api.execute(ME, token=carol.access_token)
    data = await api.execute(REMOVE_MEMBER, {"userId": carol.user_id}, alice.access_token)
    assert data["removeMember"]["user"]["username"] == "carol"
    error = await api.error_of(ME, token=carol.access_token)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    refreshed = await api.execute(REFRESH, {"token": carol.refresh_token})
    assert refreshed["refreshToken"]["__typename"] == "AuthenticationError"


async def test_the_last_owner_cannot_be_removed(api: Api, alice: Persona) -> None:
    data = await api.execute(REMOVE_MEMBER, {"userId": alice.user_id}, alice.access_token)
    assert data["removeMember"]["__typename"] == "ValidationError"
    assert "last owner" in data["removeMember"]["message"]


async def test_removing_a_member_of_another_tenant_answers_not_found(
    api: Api, alice: Persona, bob: Persona
) -> None:
    data = await api.execute(REMOVE_MEMBER, {"userId": bob.user_id}, alice.access_token)
    assert data["removeMember"]["__typename"] == "NotFoundError"


@pytest.mark.parametrize("attempts", [10])
async def test_logins_are_throttled_after_ten_failures(
    api: Api, alice: Persona, attempts: int
) -> None:
    for _ in range(attempts):
        data = await api.execute(LOGIN, {"username": "alice", "password": "wrong-password!"})
        assert data["login"]["__typename"] == "AuthenticationError"
    data = await api.execute(LOGIN, {"username": "alice", "password": PASSWORD})
    assert data["login"]["__typename"] == "RateLimitedError"
    assert 0 < data["login"]["retryAfterSeconds"] <= 15 * 60
    assert "try again in" in data["login"]["message"]


async def test_logout_with_a_malformed_or_unknown_token_says_so(api: Api, alice: Persona) -> None:
    bad = await api.execute(LOGOUT, {"token": "nonsense"})
    assert bad["logout"]["__typename"] == "AuthenticationError"
    unknown = await api.execute(LOGOUT, {"token": alice.refresh_token[:-6] + "AAAAAA"})
    assert unknown["logout"]["__typename"] == "AuthenticationError"


async def test_an_admin_manages_members_but_not_owners(api: Api, alice: Persona) -> None:
    await register(api, "dave")
    await register(api, "erin")
    added = await api.execute(ADD_MEMBER, {"username": "dave", "role": "ADMIN"}, alice.access_token)
    assert added["addMember"]["role"] == "ADMIN"
    dave = (
        await api.execute(LOGIN, {"username": "dave", "password": PASSWORD, "tenant": "alice"})
    )["login"]["accessToken"]
    member = await api.execute(ADD_MEMBER, {"username": "erin", "role": "MEMBER"}, dave)
    assert member["addMember"]["__typename"] == "Membership"
    owner = await api.execute(ADD_MEMBER, {"username": "erin", "role": "OWNER"}, dave)
    assert owner["addMember"]["__typename"] == "PermissionError"
    removed = await api.execute(REMOVE_MEMBER, {"userId": alice.user_id}, dave)
    assert removed["removeMember"]["__typename"] == "PermissionError"
    assert "only an owner" in removed["removeMember"]["message"]


async def test_signup_can_be_closed(api: Api, state: AppState) -> None:
    state.settings = replace(state.settings, allow_signup=False)
    data = await api.execute(
        REGISTER, {"username": "frank", "email": "f@example.com", "password": PASSWORD}
    )
    assert data["register"]["__typename"] == "PermissionError"
    assert "sign-up is disabled" in data["register"]["message"]


CHANGE_ROLE = """
mutation Change($userId: UUID!, $role: Role!) {
  changeMemberRole(userId: $userId, role: $role) {
    __typename ... on Membership { role user { username } } ... on UserError { message }
  }
}
"""


async def change_role(api: Api, persona: Persona, user_id: str, role: str) -> Any:
    variables = {"userId": user_id, "role": role}
    return (await api.execute(CHANGE_ROLE, variables, persona.access_token))["changeMemberRole"]


async def test_a_new_role_applies_to_the_members_next_request_and_is_audited(
    api: Api, alice: Persona, carol: Persona, state: AppState
) -> None:
    assert (await api.execute(ME, token=carol.access_token))["me"]["role"] == "VIEWER"
    changed = await change_role(api, alice, carol.user_id, "ADMIN")
    assert changed == {"__typename": "Membership", "role": "ADMIN", "user": {"username": "carol"}}
    assert (await api.execute(ME, token=carol.access_token))["me"]["role"] == "ADMIN"
    async with state.session() as session:
        audited = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "member.role"))
        ).all()
    assert [(a.target, a.details) for a in audited] == [
        ("user:carol", {"from": "VIEWER", "to": "ADMIN"})
    ]


async def test_only_owners_make_owners_and_the_last_owner_stays(
    api: Api, alice: Persona, carol: Persona, bob: Persona
) -> None:
    assert (await change_role(api, carol, carol.user_id, "ADMIN"))["__typename"] == (
        "PermissionError"
    )
    await change_role(api, alice, carol.user_id, "ADMIN")
    refused = await change_role(api, carol, carol.user_id, "OWNER")
    assert refused["__typename"] == "PermissionError"
    assert "only an owner" in refused["message"]
    demoted = await change_role(api, alice, alice.user_id, "ADMIN")
    assert (demoted["__typename"], "last owner" in demoted["message"]) == ("ValidationError", True)
    elsewhere = await change_role(api, alice, bob.user_id, "VIEWER")
    assert elsewhere["__typename"] == "NotFoundError"
