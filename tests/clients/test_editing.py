"""`jobs edit`: $EDITOR, local checks, another round on a terminal, and no lost updates."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from tests.clients.conftest import Cli
from tests.clients.test_jobs import create


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(textwrap.dedent(body))
    return f"{sys.executable} {script}"


def test_edit_saves_the_edited_manifest(logged_in: Cli, tmp_path: Path) -> None:
    create(logged_in, "edited")
    editor = _editor(
        tmp_path,
        """
        import pathlib, sys
        path = pathlib.Path(sys.argv[1])
        path.write_text(path.read_text().replace("*/5 * * * *", "*/10 * * * *"))
        """,
    )
    result = logged_in("jobs", "edit", "default/edited", env={"EDITOR": editor})
    assert result.code == 0, result.err
    assert "Saved job default/edited" in result.err
    assert (
        logged_in("jobs", "show", "default/edited", "--json").json()["schedule"] == "*/10 * * * *"
    )
    assert len(logged_in("jobs", "history", "default/edited", "--json").json()) == 2


def test_edit_without_changes_saves_nothing(logged_in: Cli) -> None:
    create(logged_in, "untouched")
    result = logged_in("jobs", "edit", "default/untouched", env={"EDITOR": "true"})
    assert (result.code, result.err.strip()) == (0, "No changes: nothing was saved.")
    assert len(logged_in("jobs", "history", "default/untouched", "--json").json()) == 1


def test_edit_refuses_an_invalid_manifest_before_sending_it(logged_in: Cli, tmp_path: Path) -> None:
    create(logged_in, "guarded")
    editor = _editor(
        tmp_path,
        """
        import pathlib, sys
        path = pathlib.Path(sys.argv[1])
        path.write_text(path.read_text().replace("*/5 * * * *", "5/15 * * * *"))
        """,
    )
    result = logged_in("jobs", "edit", "default/guarded", env={"EDITOR": editor})
    assert result.code == 1
    assert 'default/guarded.yaml: spec.schedule: "5/15 * * * *" is not valid cron' in result.err
    kept = Path(result.err.rsplit("kept in ", 1)[1].strip())
    assert "5/15 * * * *" in kept.read_text()
    kept.unlink()
    assert len(logged_in("jobs", "history", "default/guarded", "--json").json()) == 1


def test_edit_offers_another_round_on_a_terminal(logged_in: Cli, tmp_path: Path) -> None:
    create(logged_in, "retried")
    editor = _editor(
        tmp_path,
        """
        import pathlib, sys
        path = pathlib.Path(sys.argv[1])
        text = path.read_text()
        bad = "5/15 * * * *"
        if bad in text:
            path.write_text(text.replace(bad, "5-59/15 * * * *"))
        else:
            path.write_text(text.replace("*/5 * * * *", bad))
        """,
    )
    result = logged_in(
        "jobs", "edit", "default/retried", env={"EDITOR": editor}, stdin="y\n", terminal=True
    )
    assert result.code == 0, result.err
    assert "Edit again? [Y/n]" in result.err
    assert logged_in("jobs", "show", "default/retried", "--json").json()["schedule"] == (
        "5-59/15 * * * *"
    )


def test_edit_never_overwrites_a_change_made_meanwhile(logged_in: Cli, tmp_path: Path) -> None:
    create(logged_in, "contested")
    # While the user is in the editor, someone else edits the same job (a nested `jobs edit`).
    editor = _editor(
        tmp_path,
        f"""
        import os, pathlib, subprocess, sys
        path = pathlib.Path(sys.argv[1])
        if os.environ.get("INNER"):
            path.write_text(path.read_text().replace("/bin/true", "/bin/theirs"))
            sys.exit(0)
        subprocess.run([{str(Path(sys.executable).parent / "crontopus")!r}, "jobs", "edit",
                        "default/contested"], env={{**os.environ, "INNER": "1"}}, check=True)
        path.write_text(path.read_text().replace("/bin/true", "/bin/mine"))
        """,
    )
    result = logged_in("jobs", "edit", "default/contested", env={"EDITOR": editor})
    assert result.code == 1
    assert "changed on the server since you opened it" in result.err
    kept = Path(result.err.split("your edit is kept in ", 1)[1].split(":", 1)[0])
    assert "/bin/mine" in kept.read_text()
    kept.unlink()
    assert logged_in("jobs", "show", "default/contested", "--json").json()["command"] == (
        "/bin/theirs"
    )


def test_edit_saves_alert_rules_and_scheduler_choices(logged_in: Cli, tmp_path: Path) -> None:
    create(logged_in, "alerting")
    editor = _editor(
        tmp_path,
        """
        import pathlib, sys
        path = pathlib.Path(sys.argv[1])
        path.write_text(path.read_text() + "  alerts:\\n    onFailure: false\\n"
                        "  taskScheduler:\\n    acceptDstDifferences: true\\n")
        """,
    )
    result = logged_in("jobs", "edit", "default/alerting", env={"EDITOR": editor})
    assert result.code == 0, result.err
    yaml = logged_in("jobs", "show", "default/alerting", "--json").json()["yaml"]
    assert "onFailure: false" in yaml
    assert "taskScheduler:\n    acceptDstDifferences: true" in yaml
    assert len(logged_in("jobs", "history", "default/alerting", "--json").json()) == 2
