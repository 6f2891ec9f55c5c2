"""The per-camera violence event state machine (pure: scores in, event updates out).

Per frame the caller gives the frame index, its time in seconds (position in the source plus the
source's start time, or the wall clock for a live stream), optionally its position in the source
video in seconds (carried through to the updates, never used for decisions), and every track's
violent score.

- A frame is violent when some track's score is >= `on_threshold` (while an event is open,
  >= `off_threshold`, which defaults to `on_threshold`: hysteresis on the score).
- An event opens when at least `k` of the last `n` frames are violent (fewer than `n` frames
  seen so far count as they are, so a fight at the very first frame opens once `k` are violent).
  Its start is the first violent frame of those `n`: frame index and time.
- While open, a track whose score reaches `on_threshold` in a violent frame is a culprit. Each
  culprit carries its max score and its mean score over the event's violent frames where it was
  scored. An `updated` is emitted when a new culprit joins.
- It closes on the first frame at least `quiet_seconds` after the last violent frame, or on
  `flush()` (end of a file source). Its end is the last violent frame (index and time).
  A fight that resumes within `quiet_seconds` stays the same event.
- The event id is a UUID5 of the camera id and the start frame: replaying the same stream
  produces the same ids. Frames whose index is not above the last one seen are ignored (a replay
  after a rebalance overlapping what was already processed).
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

# Fixed namespace for event ids; changing it would change every event id ever issued.
EVENT_NAMESPACE = uuid.UUID("5b0f3c8e-4f1e-5a57-9d0b-7c1a9e7f2d41")


class EventKind(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


@dataclass(frozen=True)
class Culprit:
    track_id: int
    max_score: float
    mean_score: float
    first_frame: int


@dataclass(frozen=True)
class EventUpdate:
    """The state of one event when it opened, gained a culprit, or closed."""

    kind: EventKind
    event_id: str
    camera_id: str
    start_frame: int
    start_time_s: float
    start_position_s: float | None
    last_violent_frame: int
    last_violent_time_s: float
    last_violent_position_s: float | None
    culprits: tuple[Culprit, ...]
    peak_score: float

    @property
    def end_frame(self) -> int | None:
        return self.last_violent_frame if self.kind is EventKind.CLOSED else None

    @property
    def end_time_s(self) -> float | None:
        return self.last_violent_time_s if self.kind is EventKind.CLOSED else None

    @property
    def end_position_s(self) -> float | None:
        return self.last_violent_position_s if self.kind is EventKind.CLOSED else None


def event_id(camera_id: str, start_frame: int) -> str:
    """Deterministic id of the event that starts at `start_frame` on `camera_id`."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{camera_id}:{start_frame}"))


@dataclass(frozen=True)
class _Frame:
    index: int
    time_s: float
    position_s: float | None
    scores: Mapping[int, float]
    violent: bool


@dataclass
class _TrackStats:
    max_score: float = 0.0
    total: float = 0.0
    count: int = 0
    culprit_since: int | None = None


@dataclass
class _OpenEvent:
    event_id: str
    start_frame: int
    start_time_s: float
    start_position_s: float | None
    last_violent_frame: int
    last_violent_time_s: float
    last_violent_position_s: float | None
    stats: dict[int, _TrackStats] = field(default_factory=dict)


class EventTracker:
    """Event state of one camera; feed every frame in order with `update`."""

    def __init__(
        self,
        camera_id: str,
        on_threshold: float = 0.5,
        k: int = 3,
        n: int = 5,
        quiet_seconds: float = 2.0,
        off_threshold: float | None = None,
    ) -> None:
        off = on_threshold if off_threshold is None else off_threshold
        if not 0.0 <= off <= on_threshold <= 1.0:
            raise ValueError("need 0 <= off_threshold <= on_threshold <= 1")
        if not 1 <= k <= n:
            raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
        if quiet_seconds <= 0:
            raise ValueError("quiet_seconds must be > 0")
        self.camera_id = camera_id
        self.on_threshold = on_threshold
        self.off_threshold = off
        self.k = k
        self.n = n
        self.quiet_seconds = quiet_seconds
        self._recent: deque[_Frame] = deque(maxlen=n)
        self._open: _OpenEvent | None = None
        self._last_index: int | None = None

    @property
    def is_open(self) -> bool:
        return self._open is not None

    def update(
        self,
        frame_index: int,
        time_s: float,
        scores: Mapping[int, float],
        position_s: float | None = None,
    ) -> list[EventUpdate]:
        """Take one frame's per-track scores; return the event updates it causes (often none)."""
        if self._last_index is not None and frame_index <= self._last_index:
            return []
        self._last_index = frame_index
        peak = max(scores.values(), default=0.0)
        if self._open is None:
            frame = _Frame(
                frame_index, time_s, position_s, dict(scores), peak >= self.on_threshold
            )
            self._recent.append(frame)
            return self._maybe_open()
        if peak >= self.off_threshold:
            return self._extend(self._open, frame_index, time_s, position_s, scores)
        if time_s - self._open.last_violent_time_s >= self.quiet_seconds:
            return [self._close()]
        return []

    def expire(self, time_s: float) -> list[EventUpdate]:
        """Close the open event if `time_s` is past its quiet period (a stream that stalled)."""
        if self._open is not None and time_s - self._open.last_violent_time_s >= self.quiet_seconds:
            return [self._close()]
        return []

    def flush(self) -> list[EventUpdate]:
        """End of the source: close the open event, if any, and forget the recent frames."""
        self._recent.clear()
        return [self._close()] if self._open is not None else []

    def _maybe_open(self) -> list[EventUpdate]:
        violent = [f for f in self._recent if f.violent]
        if len(violent) < self.k:
            return []
        first = violent[0]
        event = _OpenEvent(
            event_id(self.camera_id, first.index),
            first.index,
            first.time_s,
            first.position_s,
            violent[-1].index,
            violent[-1].time_s,
            violent[-1].position_s,
        )
        self._open = event
        self._recent.clear()
        for frame in violent:
            self._accumulate(event, frame.index, frame.scores)
        return [self._snapshot(EventKind.OPENED)]

    def _extend(
        self,
        event: _OpenEvent,
        frame_index: int,
        time_s: float,
        position_s: float | None,
        scores: Mapping[int, float],
    ) -> list[EventUpdate]:
        event.last_violent_frame = frame_index
        event.last_violent_time_s = time_s
        event.last_violent_position_s = position_s
        if self._accumulate(event, frame_index, scores):
            return [self._snapshot(EventKind.UPDATED)]
        return []

    def _accumulate(self, event: _OpenEvent, frame_index: int, scores: Mapping[int, float]) -> bool:
        """Add a violent frame's scores; True when a new culprit joined."""
        joined = False
        for track_id, score in scores.items():
            stats = event.stats.setdefault(track_id, _TrackStats())
            stats.max_score = max(stats.max_score, score)
            stats.total += score
            stats.count += 1
            if stats.culprit_since is None and score >= self.on_threshold:
                stats.culprit_since = frame_index
                joined = True
        return joined

    def _close(self) -> EventUpdate:
        update = self._snapshot(EventKind.CLOSED)
        self._open = None
        return update

    def _snapshot(self, kind: EventKind) -> EventUpdate:
        event = self._open
        assert event is not None
        culprits = tuple(
            Culprit(tid, s.max_score, s.total / s.count, s.culprit_since)
            for tid, s in sorted(event.stats.items())
            if s.culprit_since is not None
        )
        return EventUpdate(
            kind=kind,
            event_id=event.event_id,
            camera_id=self.camera_id,
            start_frame=event.start_frame,
            start_time_s=event.start_time_s,
            start_position_s=event.start_position_s,
            last_violent_frame=event.last_violent_frame,
            last_violent_time_s=event.last_violent_time_s,
            last_violent_position_s=event.last_violent_position_s,
            culprits=culprits,
            peak_score=max((c.max_score for c in culprits), default=0.0),
        )


def opening_score(frame_peaks: Sequence[float] | np.ndarray, k: int, n: int) -> float:
    """The highest threshold at which an `EventTracker` fed these per-frame peak scores (max
    over the frame's tracks, 0 for a frame nobody was scored in) would open an event.

    An event opens at threshold t when some run of at most n consecutive frames (fewer only at
    the start) holds k frames scoring >= t, so this is the max over the trailing windows of their
    k-th largest peak; 0 when there are fewer than k frames. Thresholding a clip's opening score
    at `on_threshold` gives the same answer as running the tracker on it.
    """
    peaks = np.asarray(frame_peaks, dtype=np.float64)
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    best = 0.0
    for end in range(k, len(peaks) + 1):
        trailing = peaks[max(0, end - n) : end]
        best = max(best, float(np.sort(trailing)[-k]))
    return best
