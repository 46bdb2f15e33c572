"""The agent's config: a YAML file in the state directory, overridden by environment variables.

Every key can be set in `config.yaml` and overridden by `CRONTOPUS_AGENT_<KEY>` (upper case).
Validation names the key, where it came from and the fix; docs/agent.md lists every key.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crontopus.agent.errors import ConfigError
from crontopus.agent.statedir import StateDir, write_atomic

ENV_PREFIX = "CRONTOPUS_AGENT_"
LOG_LEVELS = ("debug", "info", "warning", "error")
KEYS = (
    "server",
    "endpoint_id",
    "name",
    "labels",
    "driver",
    "driver_options",
    "repository_url",
    "branch",
    "wrapper",
    "heartbeat_interval",
    "sync_interval",
    "checkin_timeout",
    "spool_max_entries",
    "spool_max_bytes",
    "spool_max_age",
    "log_level",
)


@dataclass(frozen=True)
class AgentConfig:
    """The validated config of one agent."""

    server: str | None = None
    endpoint_id: str | None = None
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    driver: str | None = None
    driver_options: Mapping[str, str] = field(default_factory=dict)
    repository_url: str | None = None
    branch: str = "main"
    wrapper: str | None = None
    heartbeat_interval: float = 30.0
    sync_interval: float = 30.0
    checkin_timeout: float = 10.0
    spool_max_entries: int = 10_000
    spool_max_bytes: int = 64 * 1024 * 1024
    spool_max_age: float = 7 * 24 * 3600.0
    log_level: str = "info"

    def require_server(self) -> str:
        """Return the server URL or explain how to set it."""
        if not self.server:
            raise ConfigError(
                "server: not set: run `crontopus-agent enroll --server URL --token TOKEN`"
                f" or set {ENV_PREFIX}SERVER"
            )
        return self.server

    def wrapper_path(self) -> str:
        """Return the absolute path of the `crontopus-agent` the scheduler calls."""
        if self.wrapper:
            return self.wrapper
        beside = Path(sys.executable).parent / "crontopus-agent"
        if beside.exists():
            return str(beside)
        found = shutil.which("crontopus-agent")
        if found is None:
            raise ConfigError(
                "wrapper: crontopus-agent is neither next to the Python interpreter nor on PATH:"
                f" set wrapper (or {ENV_PREFIX}WRAPPER) to its absolute path"
            )
        return str(Path(found).absolute())

    def to_yaml_dict(self) -> dict[str, Any]:
        """Return the keys that differ from the defaults, as written to config.yaml."""
        defaults = AgentConfig()
        out: dict[str, Any] = {}
        for key in KEYS:
            value = getattr(self, key)
            if value != getattr(defaults, key):
                out[key] = dict(value) if isinstance(value, Mapping) else value
        return out


def load_config(state: StateDir, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read config.yaml (absent = defaults), apply environment overrides, and validate."""
    import yaml

    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if state.config.exists():
        try:
            loaded = yaml.safe_load(state.config.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{state.config}: is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{state.config}: must be a mapping of keys to values")
        for key, value in (loaded or {}).items():
            data[str(key)] = value
            sources[str(key)] = str(state.config)
    for key in KEYS:
        variable = ENV_PREFIX + key.upper()
        if variable in environ:
            data[key] = _from_environment(key, environ[variable], variable)
            sources[key] = f"environment variable {variable}"
    return validate_config(data, sources, str(state.config))


def validate_config(
    data: Mapping[str, Any], sources: Mapping[str, str], default_source: str
) -> AgentConfig:
    """Check every key; raise ConfigError listing all problems, each naming key and source."""
    problems: list[str] = []
    values: dict[str, Any] = {}

    def where(key: str) -> str:
        return sources.get(key, default_source)

    for key, value in data.items():
        if key not in KEYS:
            problems.append(f"{where(key)}: {key}: unknown key; known keys: {', '.join(KEYS)}")
            continue
        try:
            values[key] = _check(key, value)
        except ValueError as exc:
            problems.append(f"{where(key)}: {key}: {exc}")
    if problems:
        raise ConfigError("\n".join(problems))
    return AgentConfig(**values)


def save_config(state: StateDir, config: AgentConfig, always: Sequence[str] = ()) -> None:
    """Write config.yaml (mode 0600) with the keys that differ from the defaults (and `always`)."""
    import yaml

    data = config.to_yaml_dict()
    data.update({key: getattr(config, key) for key in always})
    data = {key: data[key] for key in KEYS if key in data}
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    write_atomic(state.config, text.encode("utf-8"), mode=0o600)


def with_updates(config: AgentConfig, **changes: Any) -> AgentConfig:
    """Return a copy of the config with some keys changed."""
    return replace(config, **changes)


def parse_label(text: str) -> tuple[str, str]:
    """Split a `key=value` label, checking both with the manifest's label rules."""
    from crontopus.core.labels import label_key_problem, label_value_problem

    key, equals, value = text.partition("=")
    if not equals:
        raise ValueError(f"{text!r} is not key=value (for example role=db)")
    problem = label_key_problem(key) or label_value_problem(value)
    if problem is not None:
        raise ValueError(f"{text!r}: {problem}")
    return key, value


def _from_environment(key: str, text: str, variable: str) -> Any:
    if key in ("labels", "driver_options"):
        pairs = [part.strip() for part in text.split(",") if part.strip()]
        mapping: dict[str, str] = {}
        for pair in pairs:
            name, equals, value = pair.partition("=")
            if not equals:
                raise ConfigError(f"{variable}: {pair!r} is not key=value (use k1=v1,k2=v2)")
            mapping[name.strip()] = value.strip()
        return mapping
    return text


def _check(key: str, value: Any) -> Any:
    if key == "server":
        return _check_url(value, "the server's base URL, e.g. https://crontopus.example.com")
    if key == "repository_url":
        example = "a Git smart-HTTP URL, e.g. https://host/git/acme/jobs.git"
        return _check_url(value, example, schemes=("http", "https", "file"))
    if key in ("endpoint_id", "name", "driver", "branch"):
        return _check_text(value)
    if key == "wrapper":
        text = _check_text(value)
        if not Path(text).is_absolute():
            raise ValueError(f"{text!r} must be an absolute path (cron has no PATH to search)")
        return text
    if key == "labels":
        mapping = _check_mapping(value)
        for label_key, label_value in mapping.items():
            parse_label(f"{label_key}={label_value}")
        return mapping
    if key == "driver_options":
        return _check_mapping(value)
    if key in ("heartbeat_interval", "sync_interval", "checkin_timeout"):
        return _check_number(value, minimum=0.1, maximum=86_400.0)
    if key == "spool_max_entries":
        return int(_check_number(value, minimum=1, maximum=10_000_000, integer=True))
    if key == "spool_max_bytes":
        return int(_check_number(value, minimum=1 << 20, maximum=1 << 40, integer=True))
    if key == "spool_max_age":
        return _check_number(value, minimum=60, maximum=365 * 86_400.0)
    if key == "log_level":
        text = _check_text(value).lower()
        if text not in LOG_LEVELS:
            raise ValueError(f"{text!r} must be one of {', '.join(LOG_LEVELS)}")
        return text
    raise ValueError("unknown key")  # pragma: no cover - KEYS and _check agree


def _check_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value.strip()


def _check_url(value: Any, example: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    text = _check_text(value)
    parts = urlsplit(text)
    has_place = bool(parts.netloc) or (parts.scheme == "file" and parts.path.startswith("/"))
    if parts.scheme not in schemes or not has_place:
        raise ValueError(f"{text!r} is not a {'/'.join(schemes)} URL: use {example}")
    return text.rstrip("/")


def _check_mapping(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a mapping of names to strings, got {type(value).__name__}")
    out: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ValueError(f"{name}: must be a string, got {item!r}")
        out[str(name)] = str(item)
    return out


def _check_number(value: Any, *, minimum: float, maximum: float, integer: bool = False) -> float:
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {value!r}")
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number of seconds"
        raise ValueError(f"must be {kind}, got {value!r}") from None
    if integer and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"must be a whole number, got {value!r}")
    if not minimum <= number <= maximum:
        raise ValueError(f"{number} is out of range: use {minimum:g} to {maximum:g}")
    return number
