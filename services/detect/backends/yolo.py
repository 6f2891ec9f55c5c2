"""YOLO from the user's own file through OpenCV DNN: Darknet (.cfg + .weights) or ONNX.

Output layouts decoded here:
- `darknet`: OpenCV's YOLO layers, rows cx cy w h (fractions of the input), objectness, then class
  scores already multiplied by the objectness.
- `v5` (YOLOv5/v7 ONNX): (1, n, 5 + classes), cx cy w h in input pixels, objectness, class scores.
- `v8` (YOLOv8 and later ONNX): (1, 4 + classes, n), cx cy w h in input pixels, class scores.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from services.detect.config import YoloConfig

YoloLayout = Literal["darknet", "v5", "v8"]
LETTERBOX_FILL = 114  # the grey YOLO's ONNX exports were trained with


def onnx_layout(output: np.ndarray) -> YoloLayout:
    """v8 outputs are channel-first (few rows of many boxes); v5 are box-first."""
    shape = output.shape[-2:]
    return "v8" if shape[0] < shape[1] else "v5"


def decode_yolo(
    outputs: list[np.ndarray], layout: YoloLayout, input_w: int, input_h: int, person_class: int
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes (n, 4) x1 y1 x2 y2 in model-input pixels and their scores, before NMS."""
    if layout == "v8":
        rows = np.concatenate([o.reshape(o.shape[-2], o.shape[-1]).T for o in outputs])
        centres = rows[:, :4]
        scores = rows[:, 4 + person_class]
    else:
        rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in outputs])
        centres = rows[:, :4]
        scores = rows[:, 5 + person_class]
        if layout == "v5":
            scores = scores * rows[:, 4]
        else:  # darknet: fractions of the input
            centres = centres * np.array([input_w, input_h, input_w, input_h], np.float32)
    half_w, half_h = centres[:, 2] / 2, centres[:, 3] / 2
    boxes = np.stack(
        [
            centres[:, 0] - half_w,
            centres[:, 1] - half_h,
            centres[:, 0] + half_w,
            centres[:, 1] + half_h,
        ],
        axis=-1,
    )
    return boxes.astype(np.float32).reshape(-1, 4), scores.astype(np.float32)


class YoloBoxes:
    """A person-box finder on an OpenCV DNN network; one network call at a time (not re-entrant)."""

    def __init__(self, config: YoloConfig):
        if config.model is None:
            raise ValueError("YOLO needs a model file")
        self._darknet = config.model.suffix.lower() == ".weights"
        self._net = _read_net(config.model, config.config)
        self._output_names = list(self._net.getUnconnectedOutLayersNames())
        self._size = config.input_size
        self._person_class = config.person_class
        self._lock = threading.Lock()

    def find(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = bgr.shape[:2]
        if self._darknet:
            # Darknet models were trained on images stretched to the square input
            blob = cv2.dnn.blobFromImage(bgr, 1 / 255.0, (self._size, self._size), swapRB=True)
            scale_x, scale_y = self._size / width, self._size / height
        else:
            scale = self._size / max(width, height)
            resized = cv2.resize(bgr, (max(1, round(width * scale)), max(1, round(height * scale))))
            canvas = np.full((self._size, self._size, 3), LETTERBOX_FILL, np.uint8)
            canvas[: resized.shape[0], : resized.shape[1]] = resized
            blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True)
            scale_x = scale_y = scale
        with self._lock:
            self._net.setInput(blob)
            outputs = [np.asarray(o) for o in self._net.forward(self._output_names)]
        layout: YoloLayout = "darknet" if self._darknet else onnx_layout(outputs[0])
        boxes, scores = decode_yolo(outputs, layout, self._size, self._size, self._person_class)
        boxes /= np.array([scale_x, scale_y, scale_x, scale_y], np.float32)
        return boxes, scores


def _read_net(model: Path, config: Path | None) -> cv2.dnn.Net:
    if not model.is_file():
        raise FileNotFoundError(f"YOLO model file {model} does not exist")
    if model.suffix.lower() == ".onnx":
        return cv2.dnn.readNetFromONNX(str(model))
    if config is None or not config.is_file():
        raise FileNotFoundError(f"YOLO Darknet config {config} does not exist")
    return cv2.dnn.readNetFromDarknet(str(config), str(model))
