"""Top-down pose: MoveNet SinglePose (Lightning or Thunder) on a square crop around each box."""

from __future__ import annotations

import cv2
import numpy as np

from services.detect.backends.base import KEYPOINT_COUNT, no_keypoints
from vigil.models import GraphModel

# The crop is a square this much larger than the box's long side: MoveNet wants some context
# around the body, and a square crop keeps the aspect ratio.
CROP_EXPANSION = 1.25
BOX_MARGIN = 0.1


def crop_squares(boxes: np.ndarray, expansion: float = CROP_EXPANSION) -> np.ndarray:
    """(n, 3) x0, y0, side of the square crop centred on each box (may reach past the image)."""
    centres_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centres_y = (boxes[:, 1] + boxes[:, 3]) / 2
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * expansion
    sides = np.maximum(sides, 1.0)
    return np.stack([centres_x - sides / 2, centres_y - sides / 2, sides], axis=-1)


def square_crop(image: np.ndarray, x0: float, y0: float, side: float, size: int) -> np.ndarray:
    """The square (x0, y0, side) of a BGR image as an RGB size x size picture, black outside."""
    scale = size / side
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float64)
    crop = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return crop[:, :, ::-1]


def mask_outside(
    crop: np.ndarray, box: np.ndarray, x0: float, y0: float, side: float
) -> np.ndarray:
    """Black out the crop outside the box grown by BOX_MARGIN: in a crowd the square crop holds
    neighbours too, and MoveNet would otherwise follow whoever is most prominent."""
    size = crop.shape[0]
    scale = size / side
    grow_x = (box[2] - box[0]) * BOX_MARGIN
    grow_y = (box[3] - box[1]) * BOX_MARGIN
    left = max(0, int((box[0] - grow_x - x0) * scale))
    top = max(0, int((box[1] - grow_y - y0) * scale))
    right = min(size, int(np.ceil((box[2] + grow_x - x0) * scale)))
    bottom = min(size, int(np.ceil((box[3] + grow_y - y0) * scale)))
    masked = np.zeros_like(crop)
    masked[top:bottom, left:right] = crop[top:bottom, left:right]
    return masked


class SinglePoseEstimator:
    def __init__(self, model: GraphModel):
        self._model = model
        self.input_size = int(model.input_shapes[0][1])

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Keypoints (n, 17, 3) x, y in source pixels, confidence, for each box of `image`."""
        keypoints = no_keypoints(len(boxes))
        boxes = boxes.reshape(-1, 4)
        for index, (x0, y0, side) in enumerate(crop_squares(boxes)):
            crop = square_crop(image, x0, y0, side, self.input_size)
            crop = mask_outside(crop, boxes[index], x0, y0, side)
            (output,) = self._model(crop[None].astype(np.int32))
            points = output.reshape(KEYPOINT_COUNT, 3)  # y, x, score as fractions of the crop
            keypoints[index, :, 0] = x0 + points[:, 1] * side
            keypoints[index, :, 1] = y0 + points[:, 0] * side
            keypoints[index, :, 2] = points[:, 2]
        return keypoints
