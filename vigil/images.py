"""JPEG in and out: the one place frames, crops and faces are encoded and decoded."""

from __future__ import annotations

import cv2
import numpy as np

from vigil.errors import BadInput


def encode_jpeg(bgr: np.ndarray, quality: int) -> bytes:
    """A BGR image as JPEG; BadInput for an empty or malformed image."""
    if bgr is None or bgr.size == 0 or bgr.ndim != 3:
        raise BadInput("empty or malformed image")
    ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadInput(f"cannot encode a {bgr.shape} image as JPEG")
    return buffer.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """The BGR pixels of a JPEG; BadInput for empty or corrupt bytes."""
    if not data:
        raise BadInput("no image")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise BadInput("corrupt JPEG")
    return image


def fit_width(bgr: np.ndarray, max_width: int) -> np.ndarray:
    """Scaled down (aspect kept) when wider than `max_width`, else unchanged."""
    height, width = bgr.shape[:2]
    if width <= max_width:
        return bgr
    size = (max_width, round(height * max_width / width))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
