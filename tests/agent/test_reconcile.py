"""Reconcile against a crontab file seeded with foreign content: every change, and no more."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from crontopus.agent.config import AgentConfig
from crontopus.agent.errors import SyncError
from crontopus.agent.jobfiles import read_job_config
from crontopus.agent.statedir import StateDir
from crontopus.agent.sync import Syncer, SyncState
from crontopus.drivers import Driver, ForeignEntry, foreign_fingerprint
from crontopus.drivers.cron.driver import CronDriver
from crontopus.drivers.fake import FakeDriver
from tests.agent.conftest import FOREIGN_CRONTAB, WRAPPER, JobRepo, agent_config, manifest

PAUSED = "  paused: true\n"


def foreign_part(data: bytes) -> bytes:
    """Return the crontab without Crontopus' marker lines and the entries under them."""
    lines = data.splitlines(keepends=True)
    out: list[bytes] = []
    skip = False
    for line in lines:
        if line.startswith(b"# crontopus:job="):
            skip = True
            continue
        if skip:
            skip = line.startswith(b"CRON_TZ=")
            continue
        out.append(line)
    return b"".join(out)


def unchanged_foreign(crontab: Path, without: bytes = b"") -> None:
    expected = FOREIGN_CRONTAB.replace(without, b"") + b"\n"
    assert foreign_part(crontab.read_bytes()) in (expected, FOREIGN_CRONTAB)


def test_it_adds_jobs_after_the_foreign_content_and_writes_their_configs(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    backup_id, backup_path, backup = manifest("backup", schedule="0 2 * * *")
    report_id, report_path, report = manifest("report", namespace="ops", command="make report")
    job_repo.commit({backup_path: backup, report_path: report})

    outcome = syncer.sync()

    assert outcome.plan is not None
    assert {entry.job_id for entry in outcome.plan.add} == {backup_id, report_id}
    text = crontab.read_bytes()
    assert text.startswith(FOREIGN_CRONTAB + b"\n")
    assert f"0 2 * * * {WRAPPER} run-job {backup_id} --state-dir {state.root}".encode() in text
    unchanged_foreign(crontab)
    job = read_job_config(state, report_id)
    assert job is not None
    assert (job.command, job.namespace, job.name) == ("make report", "ops", "report")
    assert job.commit == outcome.commit


def test_a_second_sync_writes_nothing(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    _, path, text = manifest("backup")
    job_repo.commit({path: text})
    syncer.sync()
    before = crontab.stat()
    job_files = {p: p.stat().st_mtime_ns for p in state.jobs.iterdir()}

    again = syncer.sync()
    forced = syncer.sync(force=True)

    assert again.skipped
    assert forced.plan is not None
    assert not forced.plan.changes_scheduler
    assert forced.job_files_changed == 0
    after = crontab.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert {p: p.stat().st_mtime_ns for p in state.jobs.iterdir()} == job_files


def test_it_updates_a_changed_schedule_in_place(
    syncer: Syncer, job_repo: JobRepo, crontab: Path
) -> None:
    job_id, path, text = manifest("backup", schedule="0 2 * * *")
    other_id, other_path, other = manifest("other", schedule="0 3 * * *")
    job_repo.commit({path: text, other_path: other})
    syncer.sync()
    order = [line for line in crontab.read_text("latin-1").splitlines() if "run-job" in line]

    job_repo.commit({path: text.replace("0 2 * * *", "30 1 * * 1-5")})
    outcome = syncer.sync()

    assert outcome.plan is not None
    assert [e.job_id for e in outcome.plan.update] == [job_id]
    lines = [line for line in crontab.read_text("latin-1").splitlines() if "run-job" in line]
    assert lines[0].startswith("30 1 * * 1-5 ")
    assert str(job_id) in lines[0]
    assert lines[1] == order[1]
    assert str(other_id) in lines[1]
    unchanged_foreign(crontab)


def test_a_command_change_rewrites_only_the_job_config(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    job_id, path, text = manifest("backup", command="echo one")
    job_repo.commit({path: text})
    syncer.sync()
    before = crontab.read_bytes()

    job_repo.commit({path: text.replace("echo one", "echo two")})
    outcome = syncer.sync()

    assert crontab.read_bytes() == before
    assert outcome.job_files_changed == 1
    job = read_job_config(state, job_id)
    assert job is not None
    assert job.command == "echo two"


def test_a_renamed_job_keeps_its_entry_and_gets_its_new_name(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    job_id, path, text = manifest("backup")
    job_repo.commit({path: text})
    syncer.sync()

    _, new_path, renamed = manifest("nightly-backup", job_id=job_id)
    job_repo.commit({path: None, new_path: renamed})
    outcome = syncer.sync()

    assert outcome.plan is not None
    assert [e.job_id for e in outcome.plan.update] == [job_id]
    assert crontab.read_text("latin-1").count(f"run-job {job_id}") == 1
    assert "name=default/nightly-backup" in crontab.read_text("latin-1")
    job = read_job_config(state, job_id)
    assert job is not None
    assert job.name == "nightly-backup"
    unchanged_foreign(crontab)


def test_pausing_removes_the_entry_and_resuming_brings_it_back(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    job_id, path, text = manifest("backup")
    job_repo.commit({path: text})
    syncer.sync()

    job_repo.commit({path: text + PAUSED})
    paused = syncer.sync()

    assert paused.plan is not None
    assert paused.plan.remove == (job_id,)
    assert str(job_id) not in crontab.read_text("latin-1")
    assert read_job_config(state, job_id) is None
    assert crontab.read_bytes() == FOREIGN_CRONTAB + b"\n"

    job_repo.commit({path: text})
    syncer.sync()
    assert f"run-job {job_id}" in crontab.read_text("latin-1")


def test_a_disabled_job_is_not_installed(syncer: Syncer, job_repo: JobRepo, crontab: Path) -> None:
    _job_id, path, text = manifest("backup", extra_spec="  enabled: false\n")
    job_repo.commit({path: text})
    outcome = syncer.sync()
    assert outcome.plan is not None
    assert outcome.plan.add == ()
    assert crontab.read_bytes() == FOREIGN_CRONTAB


def test_deleting_a_job_removes_its_entry_and_config(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    job_id, path, text = manifest("backup")
    keep_id, keep_path, keep = manifest("keep")
    job_repo.commit({path: text, keep_path: keep})
    syncer.sync()

    job_repo.commit({path: None})
    syncer.sync()

    content = crontab.read_text("latin-1")
    assert str(job_id) not in content
    assert f"run-job {keep_id}" in content
    assert read_job_config(state, job_id) is None
    unchanged_foreign(crontab)


def test_an_adopted_discovered_job_replaces_the_foreign_entry(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    line = b"5 4 * * * /usr/bin/backup --all >/dev/null 2>&1\n"
    fingerprint = foreign_fingerprint(
        "5 4 * * *", "/usr/bin/backup --all >/dev/null 2>&1", syncer.driver.list_foreign()[0].user
    )
    job_id = uuid.uuid4()
    # What the server answered when the entry was reported: the job id of its manifest.
    SyncState(discovered={str(job_id): fingerprint}).save(state)
    _, discovered_path, discovered = manifest(
        "backup",
        job_id=job_id,
        namespace="discovered",
        schedule="5 4 * * *",
        command="/usr/bin/backup --all >/dev/null 2>&1",
        labels={"source": "discovered"},
    )
    job_repo.commit({discovered_path: discovered})
    first = syncer.sync()
    assert first.plan is not None
    assert not first.plan.changes_scheduler
    assert crontab.read_bytes() == FOREIGN_CRONTAB

    _, adopted_path, adopted = manifest(
        "backup",
        job_id=job_id,
        namespace="ops",
        schedule="5 4 * * *",
        command="/usr/bin/backup --all >/dev/null 2>&1",
    )
    job_repo.commit({discovered_path: None, adopted_path: adopted})
    outcome = syncer.sync()

    assert outcome.plan is not None
    assert [(e.job_id, fp) for e, fp in outcome.plan.adopt] == [(job_id, fingerprint)]
    content = crontab.read_bytes()
    assert line not in content
    assert content.count(f"run-job {job_id}".encode()) == 1
    unchanged_foreign(crontab, without=line)
    assert all(entry.fingerprint != fingerprint for entry in syncer.driver.list_foreign())
    assert syncer.sync(force=True).plan.changes_scheduler is False  # type: ignore[union-attr]


def test_an_adopted_job_can_be_named_by_its_fingerprint_label(
    syncer: Syncer, job_repo: JobRepo, crontab: Path
) -> None:
    entry = next(e for e in syncer.driver.list_foreign() if "warm-cache" in e.command)
    job_id, path, text = manifest(
        "warm-cache",
        schedule="@reboot",
        command="/usr/local/bin/warm-cache",
        labels={"crontopus.io/fingerprint": entry.fingerprint[:32]},
    )
    job_repo.commit({path: text})
    syncer.sync()
    content = crontab.read_bytes()
    assert b"@reboot /usr/local/bin/warm-cache\n" not in content
    assert f"@reboot {WRAPPER} run-job {job_id}".encode() in content


def test_a_broken_manifest_is_reported_and_the_rest_still_applies(
    syncer: Syncer, job_repo: JobRepo, crontab: Path
) -> None:
    good_id, good_path, good = manifest("good")
    _, bad_path, bad = manifest("bad", schedule="5/15 * * * *")
    job_repo.commit({good_path: good, bad_path: bad, "default/junk.yaml": "not: [valid"})

    outcome = syncer.sync()

    assert f"run-job {good_id}" in crontab.read_text("latin-1")
    assert any("default/bad.yaml" in p and "spec.schedule" in p for p in outcome.problems)
    assert any("default/junk.yaml" in p for p in outcome.problems)


def test_only_jobs_targeting_this_endpoints_labels_are_installed(
    syncer: Syncer, job_repo: JobRepo, crontab: Path
) -> None:
    web_id, web_path, web = manifest("web", extra_spec="  targets:\n    labels:\n      role: web\n")
    db_id, db_path, db = manifest("db", extra_spec="  targets:\n    labels:\n      role: db\n")
    job_repo.commit({web_path: web, db_path: db})
    syncer.sync()
    content = crontab.read_text("latin-1")
    assert f"run-job {web_id}" in content
    assert str(db_id) not in content


def test_discovered_jobs_are_never_installed(
    syncer: Syncer, job_repo: JobRepo, crontab: Path
) -> None:
    _, path, text = manifest(
        "found", namespace="discovered", command="/bin/true", labels={"source": "discovered"}
    )
    job_repo.commit({path: text})
    syncer.sync()
    assert crontab.read_bytes() == FOREIGN_CRONTAB


def test_a_schedule_the_driver_refuses_is_reported_and_others_apply(
    state: StateDir, config: AgentConfig, job_repo: JobRepo, crontab: Path
) -> None:
    # Without a nameable machine zone cron cannot be told when a Berlin job runs; @reboot
    # has no time of day and needs none.
    driver = CronDriver.from_options({"crontab_file": str(crontab), "machine_zone": "Not/AZone"})
    ok_id, ok_path, ok = manifest("ok", schedule="@reboot")
    bad_id, bad_path, bad = manifest("berlin", extra_spec="  timezone: Europe/Berlin\n")
    job_repo.commit({ok_path: ok, bad_path: bad})
    outcome = Syncer(state, config, driver).sync()
    assert outcome.plan is not None
    assert [s.job_id for s in outcome.plan.refused] == [bad_id]
    content = crontab.read_text("latin-1")
    assert f"run-job {ok_id}" in content
    assert str(bad_id) not in content


def test_a_job_in_another_zone_is_installed_gated_with_its_schedule_in_its_config(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    job_id, path, text = manifest(
        "berlin", schedule="30 2 * * *", extra_spec="  timezone: Europe/Berlin\n"
    )
    job_repo.commit({path: text})
    outcome = syncer.sync()
    assert outcome.plan is not None
    assert not outcome.plan.refused
    lines = [line for line in crontab.read_text("latin-1").splitlines() if str(job_id) in line]
    assert len(lines) == 3  # the marker and two schedule lines
    assert all(line.endswith(" --gate") for line in lines[1:])
    config = read_job_config(state, job_id)
    assert config is not None
    assert (config.schedule, config.timezone) == ("30 2 * * *", "Europe/Berlin")


def test_dry_run_prints_the_plan_and_changes_nothing(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    job_id, path, text = manifest("backup")
    job_repo.commit({path: text})
    outcome = syncer.sync(dry_run=True)
    assert outcome.plan is not None
    assert any(line.startswith(f"+ add     {job_id}") for line in outcome.plan.lines())
    assert crontab.read_bytes() == FOREIGN_CRONTAB
    assert list(state.jobs.iterdir()) == []


def test_a_changed_label_is_applied_without_a_new_commit(
    state: StateDir, crontab: Path, job_repo: JobRepo
) -> None:
    job_id, path, text = manifest("db", extra_spec="  targets:\n    labels:\n      role: db\n")
    job_repo.commit({path: text})
    web = agent_config(crontab, job_repo)
    Syncer(state, web, CronDriver.from_options(dict(web.driver_options))).sync()
    assert str(job_id) not in crontab.read_text("latin-1")

    db: AgentConfig = agent_config(crontab, job_repo, labels={"role": "db"})
    Syncer(state, db, CronDriver.from_options(dict(db.driver_options))).sync()
    assert f"run-job {job_id}" in crontab.read_text("latin-1")


def test_the_sync_state_records_what_was_applied(
    syncer: Syncer, job_repo: JobRepo, state: StateDir
) -> None:
    _, path, text = manifest("backup")
    commit = job_repo.commit({path: text})
    syncer.sync()
    saved = json.loads(state.sync_state.read_text())
    assert saved["commit"] == commit
    assert saved["jobs"] == 1


def test_an_adopted_job_that_is_paused_stops_the_foreign_entry_too(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    entry = next(e for e in syncer.driver.list_foreign() if "backup" in e.command)
    job_id = uuid.uuid4()
    SyncState(discovered={str(job_id): entry.fingerprint}).save(state)
    _, path, text = manifest(
        "backup", job_id=job_id, schedule="5 4 * * *", command="/usr/bin/backup --all"
    )
    job_repo.commit({path: text + PAUSED})

    syncer.sync()

    content = crontab.read_bytes()
    assert b"/usr/bin/backup" not in content
    assert str(job_id).encode() not in content
    assert read_job_config(state, job_id) is None


def test_a_driver_that_cannot_adopt_leaves_the_foreign_entry_and_installs_nothing(
    state: StateDir, job_repo: JobRepo, crontab: Path
) -> None:
    class CannotAdopt(FakeDriver):
        adopt = Driver.adopt  # the contract's default: a permanent refusal

    foreign = ForeignEntry.build("fake", "5 4 * * *", "/usr/bin/backup", "alice")
    driver = CannotAdopt(foreign=[foreign])
    config = agent_config(crontab, job_repo)
    job_id, path, text = manifest("backup", schedule="5 4 * * *", command="/usr/bin/backup")
    other_id, other_path, other = manifest("other")
    SyncState(discovered={str(job_id): foreign.fingerprint}).save(state)
    job_repo.commit({path: text, other_path: other})

    Syncer(state, config, driver).sync()

    assert set(driver.list_managed()) == {other_id}
    assert driver.list_foreign() == [foreign]
    saved = SyncState.load(state)
    assert any("cannot adopt" in line for line in saved.refused)


def test_a_first_fetch_that_fails_changes_nothing(
    state: StateDir, crontab: Path, job_repo: JobRepo, tmp_path: Path
) -> None:
    job_id, path, text = manifest("backup")
    job_repo.commit({path: text})
    config = agent_config(crontab, job_repo)
    Syncer(state, config, CronDriver.from_options(dict(config.driver_options))).sync()
    before = crontab.read_bytes()
    fresh = StateDir(tmp_path / "fresh")
    fresh.create()
    fresh.write_token("cte_test_token")
    gone = agent_config(crontab, job_repo, repository_url=(tmp_path / "gone.git").as_uri())
    syncer = Syncer(fresh, gone, CronDriver.from_options(dict(gone.driver_options)))

    with pytest.raises(SyncError, match=r"gone\.git"):
        syncer.sync()

    assert crontab.read_bytes() == before
    assert f"run-job {job_id}".encode() in before


def test_a_later_failed_fetch_keeps_applying_the_last_commit(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    job_id, path, text = manifest("backup")
    job_repo.commit({path: text})
    syncer.sync()
    shutil.rmtree(job_repo.path)
    crontab.write_bytes(FOREIGN_CRONTAB)  # someone wiped our entry by hand

    outcome = syncer.sync()

    assert outcome.fetch_error is not None
    assert f"run-job {job_id}" in crontab.read_text("latin-1")


def test_a_job_whose_manifest_breaks_keeps_running_as_installed(
    syncer: Syncer, job_repo: JobRepo, crontab: Path, state: StateDir
) -> None:
    job_id, path, text = manifest("backup", schedule="0 2 * * *")
    job_repo.commit({path: text})
    syncer.sync()
    before = crontab.read_bytes()

    job_repo.commit({path: text.replace("0 2 * * *", "0 2 * *") + "  retries: 3\n"})
    outcome = syncer.sync()

    assert outcome.plan is not None
    assert outcome.plan.kept == (job_id,)
    assert outcome.plan.remove == ()
    assert any("default/backup.yaml" in problem for problem in outcome.problems)
    assert crontab.read_bytes() == before
    assert read_job_config(state, job_id) is not None

    job_repo.commit({path: None})
    syncer.sync()
    assert str(job_id) not in crontab.read_text("latin-1")
