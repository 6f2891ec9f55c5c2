"""What waits to be sent to one live viewer: a few frames, the latest status, or the end.

A viewer that reads slowly gets the newest frames: older unsent ones are dropped, never
reordered. A status is never dropped for a frame; a newer status replaces an unsent older one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Close:
    code: int
    reason: str = ""


class ViewerQueue:
    def __init__(self, max_frames: int) -> None:
        self._frames: deque[str] = deque(maxlen=max_frames)
        self._status: str | None = None
        self._close: Close | None = None
        self._ready = asyncio.Event()
        self.dropped = 0

    def put_frame(self, text: str) -> None:
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(text)
        self._ready.set()

    def put_status(self, text: str) -> None:
        self._status = text
        self._ready.set()

    def close(self, code: int, reason: str = "") -> None:
        self._close = Close(code, reason)
        self._ready.set()

    def take(self) -> str | Close | None:
        """The next thing to send, without waiting: the close first, then a status, then frames."""
        if self._close is not None:
            return self._close
        if self._status is not None:
            status, self._status = self._status, None
            return status
        if self._frames:
            return self._frames.popleft()
        return None

    async def get(self) -> str | Close:
        while (item := self.take()) is None:
            self._ready.clear()
            await self._ready.wait()
        return item
