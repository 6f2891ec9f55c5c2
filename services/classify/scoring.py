"""Which person sequences get scored, frame by frame: one rule for live, replay and training.

A `CameraHistory` keeps one camera's recent `FrameTracks` (just what the window needs) and, for
each new frame, gives the sequence of every person in that frame. The service scores exactly
these; training and evaluation replay a clip's frames through the same class, so the model is
trained and measured on the windows it will see live (partial windows of new tracks included).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.classify.features import (
    COL_PRESENT,
    CONTEXT_STEPS,
    FEATURE_DIM,
    FeatureParams,
    FrameTracks,
    person_sequences,
)

_TIME_EPS = 1e-6  # seconds; the same frame time, give or take float noise


class CameraHistory:
    """Bounded history of one camera; `add(frame)` -> {track id: (window, FEATURE_DIM)}.

    Only people present in the new frame are returned, and only when their sequence has at least
    `min_present_steps` real steps (a track seen for an instant is not judged).
    """

    def __init__(
        self,
        window: int,
        rate_hz: float,
        min_present_steps: int = 1,
        params: FeatureParams | None = None,
    ) -> None:
        self.window = window
        self.rate_hz = rate_hz
        self.min_present_steps = min_present_steps
        self.params = params or FeatureParams()
        # The steps before the window (velocity, acceleration) plus the interpolation gap.
        self.keep_seconds = (window + CONTEXT_STEPS) / rate_hz + self.params.max_gap_s + 1e-6
        self.frames: deque[FrameTracks] = deque()

    def add(self, frame: FrameTracks) -> dict[int, np.ndarray]:
        if self.frames and frame.time_s <= self.frames[-1].time_s + _TIME_EPS:
            if any(abs(f.time_s - frame.time_s) <= _TIME_EPS for f in self.frames):
                # A frame handled before (a retried batch): the same answer as the first time.
                upto = [f for f in self.frames if f.time_s <= frame.time_s + _TIME_EPS]
                return self._sequences(upto, frame)
            self.frames.clear()  # positions went back: the source restarted or reconnected
        self.frames.append(frame)
        while self.frames and self.frames[0].time_s < frame.time_s - self.keep_seconds:
            self.frames.popleft()
        return self._sequences(list(self.frames), frame)

    def reset(self) -> None:
        self.frames.clear()

    def _sequences(self, frames: list[FrameTracks], newest: FrameTracks) -> dict[int, np.ndarray]:
        on_screen = {p.track_id for p in newest.people}
        if not on_screen:
            return {}
        sequences = person_sequences(frames, self.window, self.rate_hz, self.params)
        return {
            tid: seq
            for tid, seq in sequences.items()
            if tid in on_screen and seq[:, COL_PRESENT].sum() >= self.min_present_steps
        }


@dataclass(frozen=True)
class ClipWindows:
    """Every sequence a clip's frames produce, with the frame and track of each."""

    x: np.ndarray  # (n, window, FEATURE_DIM) float32
    frame: np.ndarray  # (n,) index of the frame in the clip
    track: np.ndarray  # (n,) track id


def replay_windows(
    frames: Sequence[FrameTracks],
    window: int,
    rate_hz: float,
    min_present_steps: int = 1,
    params: FeatureParams | None = None,
) -> ClipWindows:
    """Replay a clip through a fresh `CameraHistory`: the windows the service would score."""
    history = CameraHistory(window, rate_hz, min_present_steps, params)
    xs: list[np.ndarray] = []
    frame_of: list[int] = []
    track_of: list[int] = []
    for index, frame in enumerate(frames):
        for tid, seq in sorted(history.add(frame).items()):
            xs.append(seq)
            frame_of.append(index)
            track_of.append(tid)
    if not xs:
        return ClipWindows(np.zeros((0, window, FEATURE_DIM), np.float32),
                           np.zeros(0, np.int64), np.zeros(0, np.int64))
    return ClipWindows(np.stack(xs).astype(np.float32), np.asarray(frame_of, np.int64),
                       np.asarray(track_of, np.int64))
