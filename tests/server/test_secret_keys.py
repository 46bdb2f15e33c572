"""The secret store's keys: from settings or generated, several at once, and rotation."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from crontopus.server.app import AppState
from crontopus.server.cli import _rotate_secrets_async
from crontopus.server.db.models import Secret
from crontopus.server.errors import ConfigurationError, ServiceError
from crontopus.server.security.secret_box import SecretBox, SecretBoxError, new_key, secret_box
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona
from tests.server.graphql.test_secrets import set_secret

TENANT = uuid.uuid4()


def test_a_value_opens_only_for_its_tenant_and_name() -> None:
    box = SecretBox([new_key()])
    sealed = box.seal(TENANT, "db-password", "hunter2")
    assert box.open(TENANT, "db-password", sealed) == "hunter2"
    with pytest.raises(SecretBoxError, match="damaged"):
        box.open(TENANT, "other-name", sealed)
    with pytest.raises(SecretBoxError, match="damaged"):
        box.open(uuid.uuid4(), "db-password", sealed)


def test_every_listed_key_opens_and_the_first_one_seals() -> None:
    old, new = new_key(), new_key()
    sealed = SecretBox([old]).seal(TENANT, "s", "value")
    both = SecretBox([new, old])
    assert both.open(TENANT, "s", sealed) == "value"
    assert both.needs_rotation(sealed)
    assert not both.needs_rotation(both.seal(TENANT, "s", "value"))
    with pytest.raises(SecretBoxError, match="not among CRONTOPUS_SECRETS_KEY"):
        SecretBox([new]).open(TENANT, "s", sealed)


def test_keys_come_from_the_setting_or_its_file(tmp_path: Path) -> None:
    first, second = new_key(), new_key()
    key_file = tmp_path / "keys"
    key_file.write_text(f"{first},\n{second}\n")
    settings = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_SECRETS_KEY_FILE": str(key_file)}
    )
    assert settings.secrets_keys == (first, second)
    assert "secrets_keys" not in repr(settings)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("c2hvcnQ=", "key 1: must be 32 bytes of base64url text, not 5"),
        ("!!!", "key 1: is not base64url text"),
    ],
)
def test_a_bad_key_is_refused_at_start_with_how_to_make_one(
    tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_SECRETS_KEY": value})
    assert "generate one with" in str(caught.value)


def test_without_a_setting_a_private_key_is_generated_once(tmp_path: Path) -> None:
    settings = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)})
    assert settings.secrets_keys == ()
    box = secret_box(settings)
    assert (tmp_path / "secrets_key").stat().st_mode & 0o777 == 0o600
    assert secret_box(settings).current_key_id == box.current_key_id


async def test_rotation_seals_every_value_with_the_new_key_so_the_old_one_can_go(
    api: Api, alice: Persona, state: AppState, settings: Settings
) -> None:
    await set_secret(api, alice, "db-password", "hunter2")
    await set_secret(api, alice, "api-token", "abc")
    old = (settings.data_dir / "secrets_key").read_text().strip()
    new = new_key()
    rotating = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(settings.data_dir),
            "CRONTOPUS_DATABASE_URL": settings.database_url,
            "CRONTOPUS_SECRETS_KEY": f"{new},{old}",
        }
    )
    assert await _rotate_secrets_async(rotating) == 2
    assert await _rotate_secrets_async(rotating) == 0
    only_new = SecretBox([new])
    async with state.session() as session:
        rows = (await session.scalars(select(Secret).order_by(Secret.name))).all()
    assert [only_new.open(r.tenant_id, r.name, r.sealed) for r in rows] == ["abc", "hunter2"]


async def test_rotation_without_the_old_key_changes_nothing_and_says_which_key(
    api: Api, alice: Persona, state: AppState, settings: Settings
) -> None:
    await set_secret(api, alice, "db-password", "hunter2")
    async with state.session() as session:
        before = (await session.scalars(select(Secret.sealed))).all()
    lost = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(settings.data_dir),
            "CRONTOPUS_DATABASE_URL": settings.database_url,
            "CRONTOPUS_SECRETS_KEY": new_key(),
        }
    )
    with pytest.raises(ServiceError, match="add that key back"):
        await _rotate_secrets_async(lost)
    async with state.session() as session:
        assert (await session.scalars(select(Secret.sealed))).all() == before
