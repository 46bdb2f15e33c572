"""The config file: where it lives, how logins are kept per server and tenant, bad files."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crontopus.cli.config import Config, Login, config_path, load_config, save_config
from tests.clients.conftest import Cli


def login(tenant: str, expires: datetime | None = None) -> Login:
    return Login("alice", tenant, f"access-{tenant}", f"refresh-{tenant}", expires)


def test_it_lives_in_the_xdg_config_dir_or_under_home() -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/crontopus/config.json")
    assert config_path({"HOME": "/home/a"}) == Path("/home/a/.config/crontopus/config.json")


def test_logins_are_kept_per_server_and_tenant_and_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "crontopus" / "config.json"
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    config = (
        Config()
        .with_login("http://a", login("one", expires))
        .with_login("http://a", login("two"))
        .with_login("http://b", login("three"))
    )
    save_config(path, config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_config(path)
    assert loaded == config
    assert loaded.server == "http://b"
    assert loaded.logins_of("http://a").login_for(None) == login("two")
    assert loaded.logins_of("http://a").login_for("one") == login("one", expires)
    fewer = loaded.without_login("http://a", "two")
    assert fewer.logins_of("http://a").current == "one"
    assert "http://b" not in fewer.without_login("http://b", "three").servers


def test_expiry_is_judged_with_a_margin() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert login("x", now + timedelta(seconds=5)).access_token_expired(now)
    assert not login("x", now + timedelta(minutes=5)).access_token_expired(now)
    assert not login("x").access_token_expired(now)


def test_a_damaged_config_file_is_named_with_the_fix(cli: Cli) -> None:
    cli.config_file.parent.mkdir(parents=True)
    cli.config_file.write_text("{not json")
    result = cli("whoami", "--server", "http://127.0.0.1:9")
    assert result.code == 1
    assert f"{cli.config_file}: cannot read the config file" in result.err
    assert "delete it and log in again" in result.err
