"""Reading a capture into sampled, JPEG-encoded frames (blocking: runs in a worker thread)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from services.ingest.sampling import Sampler


@dataclass(frozen=True)
class RawFrame:
    position_s: float  # in the source: frame number / fps for files, time since open for live
    image: np.ndarray


def sampled_frames(
    capture: cv2.VideoCapture, rate: float, source_fps: float, live: bool
) -> Iterator[RawFrame]:
    """Frames at `rate` per second of source time. Frames between are grabbed, not converted."""
    sampler = Sampler(rate)
    opened = time.monotonic()
    index = 0
    while capture.grab():
        position = time.monotonic() - opened if live else index / source_fps
        index += 1
        if not sampler.keep(position):
            continue
        ok, image = capture.retrieve()
        if ok and image is not None and image.size:
            yield RawFrame(position, image)
