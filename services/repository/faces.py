"""Find the face in a person crop with BlazeFace short range (MediaPipe's model, 128x128).

The model regresses a box and six landmarks for each of 896 fixed SSD anchors; this module makes
the anchors, decodes the regressions, keeps confident ones and applies NMS. Short range means
faces that fill a good part of the input, so a tall person crop is also searched in its top square
(where the head is) when the whole crop shows no face.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from services.detect.backends.geometry import nms
from vigil.models import TFLiteModel, load_tflite

MODEL_NAME = "blazeface_short_range"
INPUT_SIZE = 128
# MediaPipe's face_detection_short_range graph: SSD anchors on 4 layers, strides 8, 16, 16, 16,
# one aspect ratio plus the interpolated one, anchor centres at cell centres, unit anchor size.
ANCHOR_STRIDES = (8, 16, 16, 16)
ANCHORS_PER_CELL_PER_LAYER = 2
LANDMARKS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")
SCORE_CLIP = 100.0  # raw logits are clipped before the sigmoid, as MediaPipe does
DEFAULT_MIN_SCORE = 0.5
DEFAULT_NMS_IOU = 0.3


@dataclass(frozen=True)
class FaceBox:
    """A face in the pixels of the crop it was found in."""

    box: np.ndarray  # (4,) float32 x1, y1, x2, y2
    score: float
    landmarks: np.ndarray  # (6, 2) float32 x, y in LANDMARKS order


@lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """(896, 2) anchor centres x, y as fractions of the input."""
    centres = []
    layer = 0
    while layer < len(ANCHOR_STRIDES):
        stride = ANCHOR_STRIDES[layer]
        per_cell = 0
        # consecutive layers with the same stride share one grid (MediaPipe's SSD generator)
        while layer < len(ANCHOR_STRIDES) and ANCHOR_STRIDES[layer] == stride:
            per_cell += ANCHORS_PER_CELL_PER_LAYER
            layer += 1
        cells = INPUT_SIZE // stride
        for row in range(cells):
            for column in range(cells):
                centres.extend([((column + 0.5) / cells, (row + 0.5) / cells)] * per_cell)
    return np.array(centres, np.float32)


def decode_faces(
    regressors: np.ndarray, logits: np.ndarray, min_score: float, nms_iou: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw (896, 16) regressions and (896,) logits -> boxes (n, 4) and landmarks (n, 6, 2) as
    fractions of the input, and scores (n,), best first after NMS."""
    logits = np.clip(logits.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= min_score
    raw = regressors.reshape(-1, 16)[keep] / INPUT_SIZE
    centre = anchors()[keep]
    x, y = raw[:, 0] + centre[:, 0], raw[:, 1] + centre[:, 1]
    half_w, half_h = raw[:, 2] / 2, raw[:, 3] / 2
    boxes = np.stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=-1)
    landmarks = raw[:, 4:].reshape(-1, 6, 2) + centre[:, None, :]
    kept = nms(boxes, scores[keep], nms_iou)
    return boxes[kept], scores[keep][kept], landmarks[kept]


class FaceDetector:
    """Thread-safe (the interpreter call holds a lock)."""

    def __init__(
        self,
        model: TFLiteModel | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        nms_iou: float = DEFAULT_NMS_IOU,
        cache_dir: Path | None = None,
    ):
        self._model = model if model is not None else load_tflite(MODEL_NAME, 1, cache_dir)
        self._min_score = min_score
        self._nms_iou = nms_iou

    def find_face(self, crop: np.ndarray) -> FaceBox | None:
        """The most confident face in a BGR person crop, or None (also for an empty crop)."""
        if crop.ndim != 3 or crop.shape[0] == 0 or crop.shape[1] == 0:
            return None
        height, width = crop.shape[:2]
        face = self._search(crop, 0, 0, max(width, height))
        if face is None and height > width * 1.2:
            face = self._search(crop[:width], 0, 0, width)
        return face

    def _search(self, bgr: np.ndarray, x0: int, y0: int, side: int) -> FaceBox | None:
        """Letterbox `bgr` (top-left aligned) into the input; map results back by `side`."""
        height, width = bgr.shape[:2]
        scale = INPUT_SIZE / side
        resized = cv2.resize(bgr, (max(1, round(width * scale)), max(1, round(height * scale))))
        canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.float32)
        canvas[: resized.shape[0], : resized.shape[1]] = resized[:, :, ::-1]
        outputs = dict(
            zip(self._model.output_names, self._model((canvas / 127.5 - 1.0)[None]), strict=True)
        )
        regressors, logits = outputs["regressors"], outputs["classificators"]
        boxes, scores, landmarks = decode_faces(
            regressors[0], logits[0], self._min_score, self._nms_iou
        )
        if not len(scores):
            return None
        offset = np.array([x0, y0], np.float32)
        box = (boxes[0].reshape(2, 2) * side + offset).reshape(4)
        box = np.clip(box, 0, [width + x0, height + y0, width + x0, height + y0])
        return FaceBox(
            box=box.astype(np.float32),
            score=float(scores[0]),
            landmarks=(landmarks[0] * side + offset).astype(np.float32),
        )
