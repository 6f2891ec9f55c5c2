"""Pixel motion of each detected person and of the scene: dense optical flow between a camera's
consecutive frames.

Pose keypoints blur and jump on people who move fast, the people in a fight, while the pixels
inside their box still move, and how they move tells a punch from a walk. Detect measures the
optical flow (DIS, fast preset) with the camera's own motion (the median flow of the frame) removed,
inside each person's box and over the whole frame: the mean and 90th-percentile speed, in source
pixels per second, and how spread the directions are (magnitude-weighted entropy of
`DIRECTION_BINS` direction bins, divided by its maximum: 0 is one direction, 1 all directions
alike). Flow runs on the frame scaled to `FLOW_HEIGHT` rows, so its cost and its smoothing do not
depend on the resolution. On the fight dataset, per-clip flow statistics alone separated fights
at least as well as the pose model, and the classifier gained from them on every training seed
(docs/model-card.md, "Pixel motion").

`MotionMemory` keeps the previous frame of each camera (grey, `FLOW_HEIGHT` rows). A source's
first frame, a frame more than `MAX_GAP_S` after the previous one (or not after it: a restarted
live source), a frame of another size, and the first frame after detect restarts carry no
motion. Frames of one camera arrive in order (one partition per camera), so the memory is exact.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

# Part of the pipeline's version (services/classify/dataset.py): change it when the numbers change.
MOTION_VERSION = 2
FLOW_HEIGHT = 240
DIRECTION_BINS = 8
MAX_GAP_S = 0.5
# Boxes smaller than this many flow pixels on a side give no motion (too few pixels to measure).
MIN_BOX_SIDE = 3
MAX_CAMERAS = 1024


@dataclass(frozen=True)
class FlowStats:
    mean_speed: float  # source pixels per second
    p90_speed: float  # source pixels per second
    direction_entropy: float  # 0..1


@dataclass(frozen=True)
class FrameMotion:
    """A frame's motion: the whole scene's, and each person's (None where not measured)."""

    scene: FlowStats | None
    people: list[FlowStats | None]


def flow_frame(image: np.ndarray) -> np.ndarray:
    """The grey frame flow runs on: `FLOW_HEIGHT` rows, aspect kept."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    height, width = grey.shape
    size = (max(1, round(width * FLOW_HEIGHT / height)), FLOW_HEIGHT)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def dense_flow(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Flow (rows, cols, 2) in flow pixels per frame, the camera's motion (median) removed."""
    # DIS (fast preset): 7x cheaper than Farnebäck here (docs/operations.md, "Size it"). No
    # flow passed in (the stubs want one): DIS would take it as its first estimate.
    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    flow = np.asarray(dis.calc(previous, current, None))  # type: ignore[call-overload]
    return flow - np.median(flow.reshape(-1, 2), axis=0)


def direction_entropy(flow: np.ndarray, magnitude: np.ndarray | None = None) -> float:
    """Magnitude-weighted entropy of the flow's directions, / log(bins): 0 one way, 1 every way.
    `magnitude`, the flow's norm, when the caller has it already."""
    vectors = flow.reshape(-1, 2)
    magnitude = np.linalg.norm(vectors, axis=1) if magnitude is None else magnitude.reshape(-1)
    total = magnitude.sum()
    if total <= 1e-9:
        return 0.0
    angle = np.arctan2(vectors[:, 1], vectors[:, 0])
    weights = np.histogram(angle, bins=DIRECTION_BINS, range=(-np.pi, np.pi), weights=magnitude)[0]
    p = weights[weights > 0] / total
    return float(-(p * np.log(p)).sum() / np.log(DIRECTION_BINS))


def flow_stats(flow: np.ndarray, to_source_per_s: float) -> FlowStats:
    """Statistics of a flow region; `to_source_per_s` turns flow pixels per frame into source
    pixels per second."""
    magnitude = np.linalg.norm(flow, axis=-1)
    speed = magnitude * to_source_per_s
    return FlowStats(float(speed.mean()), float(np.percentile(speed, 90)),
                     direction_entropy(flow, magnitude))


def frame_motion(
    flow: np.ndarray, boxes: np.ndarray, source_height: int, dt_s: float
) -> FrameMotion:
    """The scene's motion and that inside each box (x1, y1, x2, y2 in source pixels) of a frame
    `source_height` rows high, from the flow between two frames `dt_s` seconds apart; a box too
    small gets None."""
    scale = FLOW_HEIGHT / source_height
    rows, cols = flow.shape[:2]
    to_source_per_s = 1.0 / (scale * dt_s)
    people: list[FlowStats | None] = []
    for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        x1, y1, x2, y2 = np.round(box * scale).astype(int)
        x1, x2 = max(x1, 0), min(x2, cols)
        y1, y2 = max(y1, 0), min(y2, rows)
        if x2 - x1 < MIN_BOX_SIDE or y2 - y1 < MIN_BOX_SIDE:
            people.append(None)
        else:
            people.append(flow_stats(flow[y1:y2, x1:x2], to_source_per_s))
    return FrameMotion(flow_stats(flow, to_source_per_s), people)


class MotionMemory:
    """The previous flow frame of each camera (the least recently seen beyond `max_cameras` is
    dropped, and a finished upload's at its last frame)."""

    def __init__(self, max_cameras: int = MAX_CAMERAS) -> None:
        self.max_cameras = max_cameras
        self._previous: OrderedDict[str, tuple[float, np.ndarray]] = OrderedDict()

    def measure(
        self, camera_id: str, position_s: float, image: np.ndarray, boxes: np.ndarray,
        last: bool = False,
    ) -> FrameMotion:
        """Motion against this camera's previous frame; then remember this frame."""
        current = flow_frame(image)
        previous = self._previous.pop(camera_id, None)
        motion = FrameMotion(None, [None] * len(np.asarray(boxes).reshape(-1, 4)))
        if previous is not None:
            before_s, before = previous
            dt = position_s - before_s
            if 0 < dt <= MAX_GAP_S and before.shape == current.shape:
                motion = frame_motion(dense_flow(before, current), boxes, image.shape[0], dt)
        if not last:
            self._previous[camera_id] = (position_s, current)
            while len(self._previous) > self.max_cameras:
                self._previous.popitem(last=False)
        return motion
