"""The check-in spool: durable, bounded, ordered, and drained until the server stops answering."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from crontopus.agent.checkin import CheckIn, Delivery, SendResult
from crontopus.agent.spool import Spool


def checkin(event: str = "0") -> CheckIn:
    return CheckIn(str(uuid.uuid4()), str(uuid.uuid4()), event, "2026-01-01T00:00:00Z")


def test_spooled_check_ins_come_back_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    items = [checkin(str(n)) for n in range(5)]
    for item in items:
        spool.append(item)
    assert [CheckIn.from_json(p.read_bytes()) for p in spool.entries()] == items


def test_a_full_spool_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_entries=3)
    items = [checkin(str(n)) for n in range(5)]
    for item in items:
        spool.append(item)
    assert [CheckIn.from_json(p.read_bytes()) for p in spool.entries()] == items[2:]
    assert spool.dropped() == 2


def test_draining_stops_at_the_first_check_in_the_server_cannot_take(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    items = [checkin(str(n)) for n in range(4)]
    for item in items:
        spool.append(item)
    answers = iter(
        [
            SendResult(Delivery.DELIVERED, 200),
            SendResult(Delivery.REFUSED, 400, "bad"),
            SendResult(Delivery.UNREACHABLE, 503),
        ]
    )
    sent: list[CheckIn] = []

    def send(item: CheckIn) -> SendResult:
        sent.append(item)
        return next(answers)

    result = spool.drain(send)
    assert (result.delivered, result.refused, result.remaining, result.unreachable) == (
        1,
        1,
        2,
        True,
    )
    assert sent == items[:3]
    assert [CheckIn.from_json(p.read_bytes()) for p in spool.entries()] == items[2:]


def test_spool_files_are_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    path = spool.append(checkin())
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_spool_over_its_byte_bound_drops_the_oldest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=3000)
    items = [
        CheckIn(str(uuid.uuid4()), str(uuid.uuid4()), "0", "2026-01-01T00:00:00Z", output="x" * 900)
        for _ in range(5)
    ]
    for item in items:
        spool.append(item)
    kept = [CheckIn.from_json(p.read_bytes()) for p in spool.entries()]
    assert kept == items[-len(kept) :]
    assert sum(p.stat().st_size for p in spool.entries()) <= 3000
    assert spool.dropped() == 5 - len(kept)


class Clock:
    """A settable wall clock, so an hour of outage takes no time."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_check_ins_older_than_the_max_age_are_dropped_and_the_drop_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    spool = Spool(tmp_path / "spool", max_age=1000, clock=clock)
    items = [checkin(str(n)) for n in range(4)]
    for item in items:
        spool.append(item)
        clock.now += 300  # one every five minutes
    clock.now += 300
    with caplog.at_level(logging.WARNING):
        assert spool.expire() == 2  # spooled 25 and 20 minutes ago; 15 and 10 remain
    assert [CheckIn.from_json(p.read_bytes()) for p in spool.entries()] == items[2:]
    drops = spool.drops()
    assert drops.counts == {"full": 0, "expired": 2, "diskFull": 0}
    assert drops.last is not None
    assert drops.last["reason"] == "expired"
    assert drops.last["why"] == "they waited longer than spool_max_age"
    assert "dropped 2 check-ins older than 1000 s (spool_max_age)" in caplog.text


def test_drops_are_counted_per_reason_across_spool_instances(tmp_path: Path) -> None:
    clock = Clock()
    Spool(tmp_path / "spool", max_entries=2, clock=clock).append(checkin())
    for _ in range(3):
        Spool(tmp_path / "spool", max_entries=2, clock=clock).append(checkin())
    clock.now += 10_000
    Spool(tmp_path / "spool", max_age=3600, clock=clock).expire()
    never = checkin()
    Spool(tmp_path / "spool", clock=clock).note_unspooled(never)
    drops = Spool(tmp_path / "spool").drops()
    assert drops.counts == {"full": 2, "expired": 2, "diskFull": 1}
    assert drops.total == 4 + 1
    assert drops.last is not None
    assert drops.last["reason"] == "diskFull"


def test_the_counter_of_older_agents_is_kept_as_full_drops(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_entries=1)
    spool.directory.mkdir()
    (spool.directory / "dropped").write_text("7\n")
    spool.append(checkin())
    spool.append(checkin())
    assert spool.drops().counts["full"] == 8
    assert not (spool.directory / "dropped").exists()
