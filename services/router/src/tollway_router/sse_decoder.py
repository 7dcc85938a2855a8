"""An incremental server-sent-events decoder (WHATWG rules) over raw bytes (pure)."""

from __future__ import annotations

from tollway_router.adapter import SseEvent


class SseDecoder:
    """Feed bytes as they arrive; get back the events completed so far."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        events: list[SseEvent] = []
        while True:
            line, found = self._next_line()
            if not found:
                return events
            if not line:
                if self._data:
                    events.append(SseEvent(data="\n".join(self._data), event=self._event))
                self._data = []
                self._event = None
                continue
            self._field(line)

    def _next_line(self) -> tuple[str, bool]:
        buffer = self._buffer
        newline = buffer.find(b"\n")
        carriage = buffer.find(b"\r")
        if newline == -1 and carriage == -1:
            return "", False
        if carriage == -1 or (newline != -1 and newline < carriage):
            end, skip = newline, 1
        elif carriage == len(buffer) - 1:
            # A lone CR at the end may be the first half of CRLF: wait for more bytes.
            return "", False
        else:
            end, skip = carriage, 2 if buffer[carriage + 1 : carriage + 2] == b"\n" else 1
        self._buffer = buffer[end + skip :]
        return buffer[:end].decode("utf-8", errors="replace"), True

    def _field(self, line: str) -> None:
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
