"""Joins one camera's frames with their verdicts (pure: messages and times in, joined frames out).

A frame waits in a small buffer for the verdict with its frame index, then leaves with it as its
overlay. Frames leave in index order. Verdicts come in frame order per camera, so a verdict for
frame k means the frames before k will get none: they leave at once without an overlay. A frame
whose verdict does not come within the timeout, or that the full buffer pushes out, leaves
without one too. A verdict that comes before its frame waits for it, as long as a frame would.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.v1.frames_pb2 import Frame
from vigil.v1.verdicts_pb2 import Verdicts


@dataclass(frozen=True)
class Joined:
    frame: Frame
    verdicts: Verdicts | None  # None: the overlay did not come in time


class JoinBuffer:
    def __init__(self, timeout_s: float, max_pending: int) -> None:
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self._frames: OrderedDict[int, tuple[Frame, float]] = OrderedDict()
        self._verdicts: OrderedDict[int, tuple[Verdicts, float]] = OrderedDict()
        self._last_sent: tuple[int, int] | None = None  # (frame index, capture time)

    def add_frame(self, frame: Frame, now: float) -> list[Joined]:
        index = frame.ref.frame_index
        if self._last_sent is not None and index <= self._last_sent[0]:
            if frame.ref.capture_time_us <= self._last_sent[1]:
                return []  # a replayed frame, already sent
            self._restart()  # the camera started again: its indices start over
        if index in self._frames:
            return []
        verdict = self._verdicts.pop(index, None)
        if verdict is not None:
            out = self._flush_before(index)
            out.append(self._send(frame, verdict[0]))
            return out
        self._frames[index] = (frame, now)
        out = []
        while len(self._frames) > self.max_pending:
            out.append(self._send(self._frames.popitem(last=False)[1][0], None))
        return out

    def add_verdicts(self, verdicts: Verdicts, now: float) -> list[Joined]:
        index = verdicts.frame.frame_index
        pending = self._frames.pop(index, None)
        if pending is not None:
            out = self._flush_before(index)
            out.append(self._send(pending[0], verdicts))
            return out
        if self._last_sent is None or index > self._last_sent[0]:
            self._verdicts[index] = (verdicts, now)
            while len(self._verdicts) > self.max_pending:
                self._verdicts.popitem(last=False)
        return []  # else: too late, its frame has left

    def expire(self, now: float) -> list[Joined]:
        out = []
        while self._frames:
            index, (frame, arrived) = next(iter(self._frames.items()))
            if arrived + self.timeout_s > now:
                break
            del self._frames[index]
            out.append(self._send(frame, None))
        while self._verdicts and next(iter(self._verdicts.values()))[1] + self.timeout_s <= now:
            self._verdicts.popitem(last=False)
        return out

    def next_deadline(self) -> float | None:
        """When the oldest waiting frame times out; None when nothing waits."""
        arrivals = [entry[1] for entry in (*self._frames.values(), *self._verdicts.values())]
        return min(arrivals) + self.timeout_s if arrivals else None

    def _flush_before(self, index: int) -> list[Joined]:
        out = []
        while self._frames and next(iter(self._frames)) < index:
            out.append(self._send(self._frames.popitem(last=False)[1][0], None))
        return out

    def _send(self, frame: Frame, verdicts: Verdicts | None) -> Joined:
        self._last_sent = (frame.ref.frame_index, frame.ref.capture_time_us)
        return Joined(frame, verdicts)

    def _restart(self) -> None:
        self._frames.clear()
        self._verdicts.clear()
        self._last_sent = None


def iso_from_us(unix_us: int) -> str:
    """`2024-05-01T14:03:22.512Z`: UTC, milliseconds, a `Z` suffix."""
    moment = datetime.fromtimestamp(unix_us / 1e6, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def frame_message(joined: Joined) -> str:
    """The WebSocket text of one frame with its overlay (`null` when it has none)."""
    ref = joined.frame.ref
    overlay = None
    if joined.verdicts is not None:
        overlay = [
            {
                "track_id": person.track_id,
                "box": [round(v, 1) for v in (person.box.x1, person.box.y1,
                                              person.box.x2, person.box.y2)],
                "violent": person.violent,
                "score": round(person.score, 3),
            }
            for person in joined.verdicts.people
        ]
    return json.dumps({
        "type": "frame",
        "camera_id": ref.camera_id,
        "frame_index": ref.frame_index,
        "captured_at": iso_from_us(ref.capture_time_us),
        "width": ref.width,
        "height": ref.height,
        "jpeg_b64": base64.b64encode(joined.frame.jpeg).decode("ascii"),
        "overlay": overlay,
    }, separators=(",", ":"))


def status_message(status: str, error_reason: str | None) -> str:
    return json.dumps({"type": "status", "status": status, "error_reason": error_reason})
