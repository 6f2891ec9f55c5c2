"""CenterNet (MobileNetV3, COCO) as a person-box finder for the top-down pair."""

from __future__ import annotations

import numpy as np

from services.detect.backends.geometry import fit_to_input
from vigil.models import GraphModel

MODEL_NAME = "centernet"
DETECTIONS_OUTPUT = "tower_0/detections:0"
PERSON_CLASS = 0


def decode_centernet(detections: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(100, 6) rows x1 y1 x2 y2 (input pixels), score, class -> person boxes in source pixels."""
    rows = detections.reshape(-1, 6)
    people = rows[rows[:, 5] == PERSON_CLASS]
    return (people[:, :4] / scale).astype(np.float32), people[:, 4].astype(np.float32)


class CenterNetBoxes:
    def __init__(self, model: GraphModel):
        self._model = model
        self.input_size = int(model.input_shapes[0][1])

    def find(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # letterboxed into the square input: stretching a 16:9 frame would thin the people
        fitted = fit_to_input(bgr, self.input_size, square=True)
        (detections,) = self._model(fitted.pixels[None].astype(np.float32))
        return decode_centernet(detections[0], fitted.scale)
