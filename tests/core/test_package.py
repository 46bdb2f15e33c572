"""The shape of crontopus.core itself: errors, enums, and no reach into other components."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import crontopus.core
from crontopus.core import errors
from crontopus.core.enums import (
    Concurrency,
    EndpointStatus,
    HealthStatus,
    JobSource,
    RunStatus,
)
from crontopus.core.errors import (
    CrontopusError,
    ManifestError,
    NamespaceError,
    ScheduleError,
    TimezoneError,
)
from crontopus.core.manifest import Problem

CORE = Path(crontopus.core.__file__).parent


def test_core_imports_nothing_from_the_server_the_agent_the_drivers_or_the_cli() -> None:
    allowed_third_party = {"yaml", "cronsim"}
    for module in CORE.glob("*.py"):
        tree = ast.parse(module.read_text(), str(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "crontopus":
                    assert name.startswith("crontopus.core"), f"{module.name} imports {name}"
                else:
                    assert top in sys.stdlib_module_names or top in allowed_third_party, (
                        f"{module.name} imports {name}"
                    )


def test_the_error_hierarchy_is_drawn_in_the_errors_module() -> None:
    doc = errors.__doc__ or ""
    for name in (
        "CrontopusError",
        "ScheduleError",
        "TimezoneError",
        "ManifestError",
        "NamespaceError",
    ):
        assert name in doc
    assert issubclass(TimezoneError, ScheduleError)
    for error in (ScheduleError, ManifestError, NamespaceError):
        assert issubclass(error, CrontopusError)
        assert issubclass(error, ValueError)


def test_a_manifest_error_lists_its_problems_one_per_line() -> None:
    error = ManifestError([Problem("a.yaml", "spec.x", "one"), Problem("a.yaml", "", "two")])
    assert str(error) == "a.yaml: spec.x: one\na.yaml: two"
    assert len(error.problems) == 2


def test_enum_values_are_the_agreed_strings() -> None:
    assert [s.value for s in RunStatus] == ["RUNNING", "SUCCESS", "FAILURE", "TIMEOUT", "MISSED"]
    assert [s.value for s in EndpointStatus] == ["ONLINE", "OFFLINE", "REVOKED"]
    assert [s.value for s in HealthStatus] == ["HEALTHY", "DEGRADED", "FAILING", "UNKNOWN"]
    assert [s.value for s in Concurrency] == ["allow", "forbid"]
    assert [s.value for s in JobSource] == ["MANAGED", "DISCOVERED"]
    assert RunStatus.SUCCESS == "SUCCESS"
    assert f"{Concurrency.FORBID}" == "forbid"
