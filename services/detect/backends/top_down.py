"""Top-down detection: a person-box finder, then (optionally) single-person pose on each box."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from services.detect.backends.base import Person, check_image, no_keypoints
from services.detect.backends.geometry import (
    Window,
    clip_boxes,
    frame_windows,
    merge_windows,
    touches_inner_edge,
)
from services.detect.backends.single_pose import SinglePoseEstimator
from services.detect.config import DetectConfig


class BoxFinder(Protocol):
    def find(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (n, 4) x1 y1 x2 y2 in the pixels of `bgr`, and their scores (n,)."""
        ...


class TopDownDetector:
    def __init__(self, config: DetectConfig, finder: BoxFinder, pose: SinglePoseEstimator | None):
        self._config = config
        self._finder = finder
        self._pose = pose

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Person]]:
        return [self._detect_one(image) for image in images]

    def find_boxes(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes and scores over all tiles, merged by NMS, capped at `max_people`."""
        height, width = image.shape[:2]
        windows = frame_windows(self._config.tiling, width, height)
        found = [self._find_in(image, window) for window in windows]
        boxes = clip_boxes(np.concatenate([f[0] for f in found]).reshape(-1, 4), width, height)
        scores = np.concatenate([f[1] for f in found]).astype(np.float32)
        cut = np.concatenate(
            [
                touches_inner_edge(f[0], w, width, height)
                for f, w in zip(found, windows, strict=True)
            ]
        )
        keep = merge_windows(
            boxes, scores, cut, self._config.nms_iou_threshold, self._config.max_people
        )
        return boxes[keep], scores[keep]

    def _find_in(self, image: np.ndarray, window: Window) -> tuple[np.ndarray, np.ndarray]:
        crop = image[window.y1 : window.y2, window.x1 : window.x2]
        boxes, scores = self._finder.find(crop)
        keep = scores >= self._config.score_threshold
        offset = np.array([window.x1, window.y1, window.x1, window.y1], np.float32)
        return boxes[keep].reshape(-1, 4) + offset, scores[keep]

    def _detect_one(self, image: np.ndarray) -> list[Person]:
        if not check_image(image):
            return []
        boxes, scores = self.find_boxes(image)
        if self._pose is None:
            keypoints = no_keypoints(len(boxes))
        else:
            keypoints = self._pose.estimate(image, boxes)
        return [Person(boxes[i], float(scores[i]), keypoints[i]) for i in range(len(boxes))]
