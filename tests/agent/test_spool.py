"""The check-in spool: durable, bounded, ordered, and drained until the server stops answering."""

from __future__ import annotations

import uuid
from pathlib import Path

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
