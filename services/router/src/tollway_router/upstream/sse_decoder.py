"""An incremental server-sent-events decoder (WHATWG rules) over raw bytes (pure)."""

from __future__ import annotations

from tollway_router.providers.adapter import SseEvent

_BOM = b"\xef\xbb\xbf"
_LF = 0x0A
_COLON = 0x3A


class SseDecoder:
    """Feed bytes as they arrive; get back the events completed so far.

    Lines end at LF, CRLF or a lone CR; `data` lines join with LF; `event` names the event;
    comments (`:`) and the `id` and `retry` fields are skipped, since nothing here reconnects.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._at_start = True
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if self._at_start:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._buffer = buffer  # maybe a BOM split across feeds
                return []
            self._at_start = False
            if buffer.startswith(_BOM):
                buffer = buffer[len(_BOM) :]
        events: list[SseEvent] = []
        pos, size = 0, len(buffer)
        while pos < size:
            newline = buffer.find(b"\n", pos)
            carriage = buffer.find(b"\r", pos, size if newline == -1 else newline)
            if carriage == -1:
                if newline == -1:
                    break
                end, pos_next = newline, newline + 1
            elif carriage == size - 1:
                break  # a CR at the very end may be the first half of CRLF: wait for more
            else:
                end = carriage
                pos_next = carriage + (2 if buffer[carriage + 1] == _LF else 1)
            line = buffer[pos:end]
            pos = pos_next
            if line:
                self._field(line)
            elif self._data:
                events.append(SseEvent(data="\n".join(self._data), event=self._event or None))
                self._data, self._event = [], None
            else:
                self._event = None
        self._buffer = buffer[pos:]
        return events

    def _field(self, line: bytes) -> None:
        if line[0] == _COLON:
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", errors="replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", errors="replace")
