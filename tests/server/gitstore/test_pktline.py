"""Reading the commands at the head of a receive-pack request."""

from __future__ import annotations

from crontopus.server.gitstore.pktline import PushCommands, pkt_line

OLD = "a" * 40
NEW = "b" * 40


def test_pkt_line_prefixes_the_length_in_hex() -> None:
    assert pkt_line("# service=git-upload-pack\n") == b"001e# service=git-upload-pack\n"


def test_commands_are_read_across_chunks_up_to_the_flush() -> None:
    body = (
        pkt_line(f"{OLD} {NEW} refs/heads/main\0report-status side-band-64k\n")
        + pkt_line(f"{NEW} {OLD} refs/heads/other\n")
        + b"0000PACK\x00\x00\x00\x02"
        + pkt_line(f"{OLD} {NEW} refs/heads/after-the-flush\n")
    )
    commands = PushCommands()
    for start in range(0, len(body), 7):
        commands.feed(body[start : start + 7])
    assert commands.done
    assert commands.commands == [
        (OLD, NEW, "refs/heads/main"),
        (NEW, OLD, "refs/heads/other"),
    ]


def test_garbage_stops_the_reader_without_an_error() -> None:
    commands = PushCommands()
    commands.feed(b"zzzz not a pkt-line")
    assert commands.done
    assert commands.commands == []
