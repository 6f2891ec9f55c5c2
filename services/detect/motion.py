"""Pixel motion per person: dense optical flow between a camera's last two analysed frames.

The per-person form of the "Violent Flows" descriptor (Hassner et al., 2012). For each person,
a region around their box is cut from the previous and the current grayscale frame and resized
so that the box is `box_height_px` high; Farneback flow runs on that pair. Flow is reported in
box heights per second (divided by the box height and by the time between the two frames), so
neither the resolution nor the frame rate reaches the values.

Descriptor (`MOTION_DIM` = 19), over the box expanded by `margin` box heights on each side
("inner"), and over the ring from there out to `ring` box heights ("ring"):

| index | name          | meaning                                                            |
|-------|---------------|--------------------------------------------------------------------|
| 0-2   | mag           | inner flow magnitude: mean, standard deviation, 90th percentile    |
| 3     | moving        | fraction of inner pixels faster than `MOVING_SPEED`                |
| 4-11  | orientation   | magnitude-weighted histogram of flow direction, 8 bins centred on  |
|       |               | k * 45 degrees (0 right, 90 down: image axes), sums to 1 (or 0)    |
| 12    | divergence    | mean |du/dx + dv/dy| over inner, per second                          |
| 13    | curl          | mean |dv/dx - du/dy| over inner, per second                          |
| 14-15 | residual      | inner flow minus its median (the person's own translation and any  |
|       |               | camera pan removed): mean and 90th percentile of the magnitude     |
| 16-18 | ring          | ring flow magnitude: mean, standard deviation, 90th percentile     |
|       |               | (camera and crowd motion); 0 when the box fills the frame          |

No descriptor (None) when there is no usable previous frame: the first frame of a camera, a
gap longer than `max_gap_s`, a frame size change, or a box too small to measure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from services.detect.config import MotionConfig

MOTION_DIM = 19
ORIENTATION_BINS = 8
MOVING_SPEED = 0.5  # box heights per second: slower pixels count as still (flow noise)
MIN_BOX_HEIGHT_PX = 8.0  # in the kept grayscale frame
MIN_CROP_PX = 16

IDX_MAG = slice(0, 3)
IDX_MOVING = 3
IDX_ORIENTATION = slice(4, 12)
IDX_DIVERGENCE = 12
IDX_CURL = 13
IDX_RESIDUAL = slice(14, 16)
IDX_RING = slice(16, 19)


def mirror_orientation_order() -> np.ndarray:
    """Bin order of the orientation histogram seen in a mirror (dx -> -dx: angle -> pi - angle)."""
    return (4 - np.arange(ORIENTATION_BINS)) % ORIENTATION_BINS


def to_gray(image: np.ndarray, frame_side: int) -> tuple[np.ndarray, float]:
    """The BGR frame as grayscale with its long side at most frame_side, and the scale used."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = min(1.0, frame_side / max(gray.shape))
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray, scale


def _stats(values: np.ndarray) -> tuple[float, float, float]:
    if values.size == 0:
        return 0.0, 0.0, 0.0
    return float(values.mean()), float(values.std()), float(np.percentile(values, 90))


def person_motion(
    previous: np.ndarray, current: np.ndarray, box: np.ndarray, dt_s: float,
    params: MotionConfig | None = None,
) -> np.ndarray | None:
    """The descriptor (MOTION_DIM,) of the person in `box` (x1, y1, x2, y2 in the grayscale
    frames' pixels), `dt_s` seconds after `previous`; None when the box is too small."""
    params = params or MotionConfig()
    x1, y1, x2, y2 = (float(v) for v in box)
    height = y2 - y1
    if height < MIN_BOX_HEIGHT_PX or x2 <= x1 or dt_s <= 0 or previous.shape != current.shape:
        return None
    rows, cols = current.shape
    # The outer region, clipped to the frame, in whole pixels.
    ox1 = max(0, math.floor(x1 - params.ring * height))
    oy1 = max(0, math.floor(y1 - params.ring * height))
    ox2 = min(cols, math.ceil(x2 + params.ring * height))
    oy2 = min(rows, math.ceil(y2 + params.ring * height))
    if ox2 - ox1 < 2 or oy2 - oy1 < 2:
        return None
    scale = params.box_height_px / height
    size = (max(1, round((ox2 - ox1) * scale)), max(1, round((oy2 - oy1) * scale)))
    if min(size) < MIN_CROP_PX:
        return None
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    before = cv2.resize(previous[oy1:oy2, ox1:ox2], size, interpolation=interpolation)
    after = cv2.resize(current[oy1:oy2, ox1:ox2], size, interpolation=interpolation)
    flow = cv2.calcOpticalFlowFarneback(before, after, None,  # type: ignore[call-overload]
                                        0.5, 3, 9, 3, 5, 1.1, 0)
    # Pixels of the resized crop -> box heights per second.
    flow = flow.astype(np.float64) / (params.box_height_px * dt_s)

    # Inner region in crop pixels.
    sx, sy = size[0] / (ox2 - ox1), size[1] / (oy2 - oy1)
    ix1 = max(0, math.floor((x1 - params.margin * height - ox1) * sx))
    iy1 = max(0, math.floor((y1 - params.margin * height - oy1) * sy))
    ix2 = min(size[0], math.ceil((x2 + params.margin * height - ox1) * sx))
    iy2 = min(size[1], math.ceil((y2 + params.margin * height - oy1) * sy))
    inner = np.zeros((size[1], size[0]), dtype=bool)
    inner[iy1:iy2, ix1:ix2] = True
    if not inner.any():
        return None

    u, v = flow[..., 0], flow[..., 1]
    magnitude = np.hypot(u, v)
    inner_mag = magnitude[inner]
    out = np.zeros(MOTION_DIM)
    out[IDX_MAG] = _stats(inner_mag)
    out[IDX_MOVING] = float((inner_mag > MOVING_SPEED).mean())
    angle = np.arctan2(v[inner], u[inner])
    bins = np.round(angle / (2 * np.pi / ORIENTATION_BINS)).astype(np.int64) % ORIENTATION_BINS
    histogram = np.bincount(bins, weights=inner_mag, minlength=ORIENTATION_BINS)
    total = histogram.sum()
    out[IDX_ORIENTATION] = histogram / total if total > 0 else 0.0
    # Gradients per crop pixel -> per box height (the box is box_height_px pixels high).
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    out[IDX_DIVERGENCE] = float(np.abs(du_dx + dv_dy)[inner].mean()) * params.box_height_px
    out[IDX_CURL] = float(np.abs(dv_dx - du_dy)[inner].mean()) * params.box_height_px
    median = np.median(flow[inner], axis=0)
    residual = np.hypot(u[inner] - median[0], v[inner] - median[1])
    out[IDX_RESIDUAL] = float(residual.mean()), float(np.percentile(residual, 90))
    ring_mag = magnitude[~inner]
    out[IDX_RING] = _stats(ring_mag)
    return out


@dataclass
class _Previous:
    key: tuple[str, str]  # (camera id, job id): a new upload on a camera starts afresh
    frame_index: int
    time_s: float
    gray: np.ndarray


class MotionTracker:
    """Keeps each camera's last analysed grayscale frame and describes its people's motion.

    Frames of one camera arrive in order (one partition), so the previous frame of a camera is
    the one before. Not thread-safe: call from one thread at a time.
    """

    def __init__(self, params: MotionConfig | None = None) -> None:
        self.params = params or MotionConfig()
        self._previous: dict[str, _Previous] = {}

    def describe(
        self, camera: str, job: str, frame_index: int, time_s: float, image: np.ndarray,
        boxes: np.ndarray, end_of_stream: bool = False,
    ) -> list[np.ndarray | None]:
        """One descriptor (or None) per box (N, 4 in the image's pixels); remembers the frame."""
        gray, scale = to_gray(image, self.params.frame_side)
        previous = self._previous.get(camera)
        dt = -1.0
        if (previous is not None and previous.key == (camera, job)
                and previous.frame_index < frame_index and previous.gray.shape == gray.shape):
            dt = time_s - previous.time_s
        usable = previous is not None and 0 < dt <= self.params.max_gap_s
        out: list[np.ndarray | None] = []
        for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
            out.append(person_motion(previous.gray, gray, box * scale, dt, self.params)
                       if usable and previous is not None else None)
        if end_of_stream:
            self._previous.pop(camera, None)
        else:
            self._previous[camera] = _Previous((camera, job), frame_index, time_s, gray)
        return out
