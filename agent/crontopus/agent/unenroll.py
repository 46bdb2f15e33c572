"""`crontopus-agent unenroll`: leave the fleet without leaving anything behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crontopus.agent.config import AgentConfig, save_config, with_updates
from crontopus.agent.errors import NotEnrolled, ServerError, ServerRefused
from crontopus.agent.statedir import StateDir


@dataclass
class Unenrollment:
    """What `unenroll` did, for the command to report."""

    removed_entries: int = 0
    removed_configs: int = 0
    server_told: bool = False
    warnings: list[str] = field(default_factory=list)  # the server may still count the endpoint
    notes: list[str] = field(default_factory=list)


def unenroll(state: StateDir, config: AgentConfig, *, keep_server: bool = False) -> Unenrollment:
    """Remove every managed scheduler entry, revoke the endpoint and forget the token.

    The scheduler is emptied first: a machine whose server is gone must still be cleaned up,
    so a server that cannot be reached is a warning, not a stop (`keep_server` skips it).
    """
    from crontopus.agent.drivers import build_driver
    from crontopus.agent.jobfiles import remove_job_configs
    from crontopus.agent.server import ServerClient

    token = state.read_token()
    if token is None and config.endpoint_id is None:
        raise NotEnrolled(f"{state.root}: not enrolled (no endpoint token): nothing to unenroll")
    outcome = Unenrollment()
    driver = build_driver(config)
    managed = list(driver.list_managed())
    if managed:
        driver.remove(managed)
    outcome.removed_entries = len(managed)
    outcome.removed_configs = len(remove_job_configs(state, set()))
    if token is not None and config.server and not keep_server:
        try:
            with ServerClient(config.server, token) as client:
                client.unenroll()
            outcome.server_told = True
        except ServerRefused as exc:
            # Already revoked by an admin: the token is dead either way.
            outcome.notes.append(f"the server refused the unenrollment: {exc}")
        except ServerError as exc:
            outcome.warnings.append(
                f"the server was not told ({exc}): revoke endpoint {config.endpoint_id}"
                " in the console or with `crontopus endpoints revoke`"
            )
    for path in (state.token, state.sync_state, state.server_labels):
        path.unlink(missing_ok=True)
    _remove_tree(state.mirror)
    save_config(state, with_updates(config, endpoint_id=None))
    return outcome


def _remove_tree(path: Path) -> None:
    import shutil

    if path.exists():
        shutil.rmtree(path)
