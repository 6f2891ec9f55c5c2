"""Pure pieces of ingest: which frames to keep, and how to encode them."""

from __future__ import annotations

import numpy as np

from vigil.errors import BadInput
from vigil.images import encode_jpeg, fit_width


class Sampler:
    """Keep frames at `rate` per second of source time, whatever the source's own rate.

    A frame is kept when its position reaches the next due time; due times advance on a fixed
    grid, so a 30 fps source sampled at 10 fps keeps every third frame without drift.
    """

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.period = 1.0 / rate
        self.next_due: float | None = None

    def keep(self, position_s: float) -> bool:
        if self.next_due is None:
            self.next_due = position_s
        if position_s + 1e-6 < self.next_due:
            return False
        # Skip whole periods that a gap in the source jumped over.
        missed = int((position_s - self.next_due) / self.period)
        self.next_due += (missed + 1) * self.period
        return True


def frame_jpeg(image: np.ndarray, quality: int, max_width: int) -> tuple[bytes, int, int]:
    """The frame as published: at most `max_width` wide, JPEG; with its width and height."""
    if image is None or image.size == 0 or image.ndim != 3:
        raise BadInput("empty or malformed frame")
    scaled = fit_width(image, max_width)
    return encode_jpeg(scaled, quality), scaled.shape[1], scaled.shape[0]


def expected_frames(duration_s: float, rate: float) -> int:
    """Frames a video of this length yields at the analysis rate (for job progress)."""
    return max(1, int(duration_s * rate + 1e-6) + (1 if duration_s > 0 else 0))
