"""Git's pkt-line framing: just enough to answer `info/refs` and read a push's commands."""

from __future__ import annotations

_MAX_COMMAND_BYTES = 1024 * 1024
_OBJECT_ID_LENGTHS = (40, 64)  # SHA-1 and SHA-256 repositories


def pkt_line(text: str) -> bytes:
    """Encode one pkt-line of the Git protocol."""
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


class PushCommands:
    """Collect the `old new ref` commands at the head of a receive-pack request."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.done = False
        self.commands: list[tuple[str, str, str]] = []

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the request body (only its head is looked at)."""
        if self.done:
            return
        self.buffer += data
        while len(self.buffer) >= 4:
            try:
                size = int(self.buffer[:4], 16)
            except ValueError:
                self._stop()
                return
            if size < 4:  # flush (0000) ends the commands; delimiters do not belong here
                self._stop()
                return
            if len(self.buffer) < size:
                break
            line = bytes(self.buffer[4:size]).split(b"\0", 1)[0].decode(errors="replace")
            del self.buffer[:size]
            fields = line.split()
            if len(fields) == 3 and len(fields[0]) == len(fields[1]) in _OBJECT_ID_LENGTHS:
                self.commands.append((fields[0], fields[1], fields[2]))
        if len(self.buffer) > _MAX_COMMAND_BYTES:
            self._stop()

    def _stop(self) -> None:
        self.done = True
        self.buffer.clear()
