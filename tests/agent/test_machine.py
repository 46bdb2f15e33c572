"""The machine id sent to the server is stable and never the raw id."""

from __future__ import annotations

import hashlib

from crontopus.agent.machine import MACHINE_ID_PREFIX, machine_id, platform_name, raw_machine_id


def test_the_machine_id_is_a_prefixed_sha256_of_the_raw_id() -> None:
    raw = raw_machine_id()
    value = machine_id()
    assert len(value) == 64
    assert value == machine_id()
    if raw is not None:
        assert value == hashlib.sha256(MACHINE_ID_PREFIX + raw.encode()).hexdigest()
        assert raw not in value


def test_the_platform_names_the_os() -> None:
    assert platform_name().startswith("linux")
