"""MoveNet MultiPose: boxes and 17 keypoints of up to 6 people in one pass per window.

Six people per pass is the model's limit, so crowded or wide views go through tiles (config
`tiling`), each window giving up to six, merged by NMS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.detect.backends.base import KEYPOINT_COUNT, Person, check_image
from services.detect.backends.geometry import (
    Fitted,
    Window,
    clip_boxes,
    fit_to_input,
    frame_windows,
    merge_windows,
    touches_inner_edge,
)
from services.detect.config import DetectConfig
from vigil.models import GraphModel, load_graph

MODEL_NAME = "movenet_multipose"
PEOPLE_PER_PASS = 6
_ROW_LENGTH = KEYPOINT_COUNT * 3 + 5  # 17 x (y, x, score), then ymin, xmin, ymax, xmax, score


def decode_multipose(
    rows: np.ndarray, fitted: Fitted, window: Window, score_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass's (6, 56) output -> boxes (n, 4), scores (n,), keypoints (n, 17, 3), source pixels.

    Coordinates in the output are fractions of the (padded) model input.
    """
    rows = rows.reshape(-1, _ROW_LENGTH)
    rows = rows[rows[:, -1] >= score_threshold]
    input_h, input_w = fitted.pixels.shape[:2]
    points = rows[:, : KEYPOINT_COUNT * 3].reshape(-1, KEYPOINT_COUNT, 3)
    kx, ky = fitted.to_source(points[:, :, 1] * input_w, points[:, :, 0] * input_h, window)
    keypoints = np.stack([kx, ky, points[:, :, 2]], axis=-1).astype(np.float32)
    x1, y1 = fitted.to_source(rows[:, -4] * input_w, rows[:, -5] * input_h, window)
    x2, y2 = fitted.to_source(rows[:, -2] * input_w, rows[:, -3] * input_h, window)
    boxes = np.stack([x1, y1, x2, y2], axis=-1).astype(np.float32).reshape(-1, 4)
    return boxes, rows[:, -1].astype(np.float32), keypoints


class MoveNetMultiPoseDetector:
    def __init__(self, config: DetectConfig, model: GraphModel | None = None):
        self._config = config
        self._model = (
            model if model is not None else load_graph(MODEL_NAME, cache_dir=config.model_dir)
        )

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Person]]:
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> list[Person]:
        if not check_image(image):
            return []
        height, width = image.shape[:2]
        windows = frame_windows(self._config.tiling, width, height)
        found = [self._run_window(image, window) for window in windows]
        boxes = np.concatenate([f[0] for f in found])
        scores = np.concatenate([f[1] for f in found])
        keypoints = np.concatenate([f[2] for f in found])
        cut = np.concatenate(
            [
                touches_inner_edge(f[0], w, width, height)
                for f, w in zip(found, windows, strict=True)
            ]
        )
        boxes = clip_boxes(boxes, width, height)
        keep = merge_windows(
            boxes, scores, cut, self._config.nms_iou_threshold, self._config.max_people
        )
        return [Person(boxes[i], float(scores[i]), keypoints[i]) for i in keep]

    def _run_window(
        self, image: np.ndarray, window: Window
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        crop = image[window.y1 : window.y2, window.x1 : window.x2]
        fitted = fit_to_input(crop, self._config.input_size)
        (output,) = self._model(fitted.pixels[None].astype(np.int32))
        return decode_multipose(output[0], fitted, window, self._config.score_threshold)
