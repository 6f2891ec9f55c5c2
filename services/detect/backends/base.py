"""The detector interface every backend implements, and the Person it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

KEYPOINT_COUNT = 17
# COCO keypoint order, the order of MoveNet's output and of `Person.keypoints`.
COCO_KEYPOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)


@dataclass(frozen=True)
class Person:
    """One detected person in source-image pixels."""

    box: np.ndarray  # (4,) float32 x1, y1, x2, y2
    score: float
    keypoints: np.ndarray  # (17, 3) float32 x, y, confidence; COCO order


class PersonDetector(Protocol):
    def detect(self, images: Sequence[np.ndarray]) -> list[list[Person]]:
        """People in each BGR uint8 image, best score first. An empty (0-pixel) image has none."""
        ...


def no_keypoints(count: int) -> np.ndarray:
    """Keypoints of `count` people with zero confidence (a backend without pose)."""
    return np.zeros((count, KEYPOINT_COUNT, 3), np.float32)


def check_image(image: np.ndarray) -> bool:
    """True when `image` is a BGR uint8 picture with pixels; False for an empty one.

    Raises ValueError for anything that is not an (h, w, 3) uint8 array.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("expected a uint8 numpy image")
    if image.ndim != 3 or image.shape[2] != 3:
        if image.size == 0:
            return False
        raise ValueError(f"expected an (h, w, 3) BGR image, got shape {image.shape}")
    return image.shape[0] > 0 and image.shape[1] > 0
