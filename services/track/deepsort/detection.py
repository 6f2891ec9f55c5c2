"""One detection as the tracker sees it, and box format conversions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.track.deepsort.kalman_filter import FloatArray


def xyxy_to_xyah(box: FloatArray) -> FloatArray:
    """(x1, y1, x2, y2) -> (centre x, centre y, aspect w / h, height)."""
    w, h = box[2] - box[0], box[3] - box[1]
    return np.array([box[0] + w / 2, box[1] + h / 2, w / h, h], dtype=np.float64)


def xyah_to_xyxy(xyah: FloatArray) -> FloatArray:
    """(centre x, centre y, aspect w / h, height) -> (x1, y1, x2, y2)."""
    h = xyah[3]
    w = xyah[2] * h
    return np.array(
        [xyah[0] - w / 2, xyah[1] - h / 2, xyah[0] + w / 2, xyah[1] + h / 2], dtype=np.float64
    )


@dataclass(frozen=True)
class Detection:
    """A valid detection: positive-area finite box, its score, its embedding if any.

    `index` is the row in the caller's input arrays, kept so that outputs can point back to it.
    """

    box: FloatArray  # x1, y1, x2, y2
    score: float
    embedding: FloatArray | None  # L2-normalised, or None when appearance is unknown
    index: int

    def to_xyah(self) -> FloatArray:
        return xyxy_to_xyah(self.box)
