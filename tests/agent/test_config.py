"""The agent config: file, environment overrides, and errors that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from crontopus.agent.config import AgentConfig, load_config, save_config
from crontopus.agent.errors import ConfigError
from crontopus.agent.statedir import (
    ROOT_STATE_DIR,
    STATE_DIR_VARIABLE,
    StateDir,
    default_state_dir,
    resolve_state_dir,
)


def write(state: StateDir, text: str) -> None:
    state.config.write_text(text)


def test_an_absent_config_means_the_defaults(state: StateDir) -> None:
    state.config.unlink(missing_ok=True)
    config = load_config(state, {})
    assert config == AgentConfig()
    assert (config.heartbeat_interval, config.spool_max_entries) == (30.0, 10_000)


def test_a_saved_config_reads_back_equal(state: StateDir) -> None:
    config = AgentConfig(
        server="https://crontopus.example.com",
        labels={"role": "db"},
        driver="cron",
        driver_options={"crontab_file": "/tmp/x"},
        sync_interval=12.5,
    )
    save_config(state, config)
    assert load_config(state, {}) == config
    assert state.config.stat().st_mode & 0o777 == 0o600


def test_environment_variables_override_the_file(state: StateDir) -> None:
    write(state, "server: https://a.example.com\nheartbeat_interval: 30\nlabels: {role: web}\n")
    config = load_config(
        state,
        {
            "CRONTOPUS_AGENT_SERVER": "https://b.example.com/",
            "CRONTOPUS_AGENT_HEARTBEAT_INTERVAL": "5",
            "CRONTOPUS_AGENT_LABELS": "role=db, zone=eu-1",
        },
    )
    assert config.server == "https://b.example.com"
    assert config.heartbeat_interval == 5.0
    assert config.labels == {"role": "db", "zone": "eu-1"}


def test_an_unknown_key_is_named_with_the_known_ones(state: StateDir) -> None:
    write(state, "sever: https://a.example.com\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: sever: unknown key; known keys: server"):
        load_config(state, {})


def test_every_bad_value_is_reported_at_once_with_its_source(state: StateDir) -> None:
    write(state, "server: crontopus.example.com\nsync_interval: soon\n")
    with pytest.raises(ConfigError) as error:
        load_config(state, {"CRONTOPUS_AGENT_LOG_LEVEL": "loud"})
    message = str(error.value)
    assert "server: 'crontopus.example.com' is not a http/https URL" in message
    assert "sync_interval: must be a number of seconds, got 'soon'" in message
    assert "environment variable CRONTOPUS_AGENT_LOG_LEVEL: log_level: 'loud' must be" in message


def test_an_interval_out_of_range_names_the_range(state: StateDir) -> None:
    write(state, "heartbeat_interval: 0\n")
    with pytest.raises(ConfigError, match=r"heartbeat_interval: 0\.0 is out of range: use 0\.1"):
        load_config(state, {})


def test_the_spool_age_bound_is_read_and_checked(state: StateDir) -> None:
    write(state, "spool_max_age: 3600\n")
    assert load_config(state, {}).spool_max_age == 3600
    assert load_config(state, {"CRONTOPUS_AGENT_SPOOL_MAX_AGE": "120"}).spool_max_age == 120
    write(state, "spool_max_age: 10\n")
    with pytest.raises(ConfigError, match=r"spool_max_age: 10\.0 is out of range: use 60"):
        load_config(state, {})


def test_a_bad_label_says_what_a_label_looks_like(state: StateDir) -> None:
    write(state, "labels: {'-bad': x}\n")
    with pytest.raises(ConfigError, match=r"labels: '-bad=x'"):
        load_config(state, {})


def test_a_config_that_is_not_a_mapping_is_refused(state: StateDir) -> None:
    write(state, "- server\n")
    with pytest.raises(ConfigError, match="must be a mapping of keys to values"):
        load_config(state, {})


def test_invalid_yaml_is_reported_with_the_file(state: StateDir) -> None:
    write(state, "server: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: is not valid YAML"):
        load_config(state, {})


def test_the_wrapper_must_be_an_absolute_path(state: StateDir) -> None:
    write(state, "wrapper: crontopus-agent\n")
    with pytest.raises(ConfigError, match="must be an absolute path"):
        load_config(state, {})


def test_a_local_repository_url_is_accepted(state: StateDir, tmp_path: Path) -> None:
    write(state, f"repository_url: {(tmp_path / 'jobs.git').as_uri()}\n")
    assert load_config(state, {}).repository_url == (tmp_path / "jobs.git").as_uri()


def test_the_state_dir_comes_from_the_option_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(tmp_path / "env"))
    assert resolve_state_dir(str(tmp_path / "opt")) == tmp_path / "opt"
    assert resolve_state_dir(None) == tmp_path / "env"
    monkeypatch.delenv(STATE_DIR_VARIABLE)
    assert resolve_state_dir(None) == default_state_dir()


def test_root_keeps_its_state_under_var_lib() -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("the root default applies to root")
    assert default_state_dir() == ROOT_STATE_DIR


def test_the_endpoint_token_is_written_with_mode_0600(state: StateDir) -> None:
    state.write_token("cte_secret")
    assert state.token.stat().st_mode & 0o777 == 0o600
    assert state.read_token() == "cte_secret"
