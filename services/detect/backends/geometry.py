"""Box geometry shared by the backends: IoU, NMS, tiles, model-input fitting."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from services.detect.config import TilingConfig


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes (n, 4) and (m, 4), x1 y1 x2 y2."""
    a = a.astype(np.float64).reshape(-1, 4)
    b = b.astype(np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, limit: int | None = None
) -> np.ndarray:
    """Greedy non-maximum suppression: indices kept, best score first.

    A box is dropped when its IoU with a kept, higher-scored box exceeds `iou_threshold`.
    """
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    kept: list[int] = []
    while order.size and (limit is None or len(kept) < limit):
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        overlap = iou_matrix(boxes[best : best + 1], boxes[rest])[0]
        order = rest[overlap <= iou_threshold]
    return np.array(kept, dtype=np.int64)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    clipped = boxes.astype(np.float32).copy()
    clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], 0, width)
    clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], 0, height)
    return clipped


def box_areas(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


@dataclass(frozen=True)
class Window:
    """A rectangle of the source image, in pixels (x1, y1 inclusive; x2, y2 exclusive)."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1


def tile_windows(
    width: int, height: int, columns: int, rows: int, overlap: float, include_full_frame: bool
) -> list[Window]:
    """`columns` x `rows` tiles covering the image, each overlapping its neighbours by `overlap`
    of a tile; the full frame first when asked (or when there is a single tile)."""
    windows = [Window(0, 0, width, height)] if include_full_frame or columns * rows == 1 else []
    if columns * rows == 1:
        return windows
    tile_w = width / (columns - (columns - 1) * overlap)
    tile_h = height / (rows - (rows - 1) * overlap)
    for row in range(rows):
        for column in range(columns):
            x1 = round(column * tile_w * (1 - overlap))
            y1 = round(row * tile_h * (1 - overlap))
            x2 = width if column == columns - 1 else min(width, round(x1 + tile_w))
            y2 = height if row == rows - 1 else min(height, round(y1 + tile_h))
            windows.append(Window(x1, y1, x2, y2))
    return windows


def frame_windows(tiling: TilingConfig, width: int, height: int) -> list[Window]:
    """The windows a backend runs on a frame of this size under `tiling`."""
    columns, rows = tiling.grid_for(width, height)
    return tile_windows(width, height, columns, rows, tiling.overlap, tiling.include_full_frame)


def touches_inner_edge(
    boxes: np.ndarray, window: Window, width: int, height: int, margin: float = 2.0
) -> np.ndarray:
    """Per box: does it touch an edge of `window` that lies inside the image (a tile cut)?"""
    boxes = boxes.reshape(-1, 4)
    cut = np.zeros(len(boxes), bool)
    if window.x1 > 0:
        cut |= boxes[:, 0] <= window.x1 + margin
    if window.y1 > 0:
        cut |= boxes[:, 1] <= window.y1 + margin
    if window.x2 < width:
        cut |= boxes[:, 2] >= window.x2 - margin
    if window.y2 < height:
        cut |= boxes[:, 3] >= window.y2 - margin
    return cut


def merge_windows(
    boxes: np.ndarray,
    scores: np.ndarray,
    cut: np.ndarray,
    iou_threshold: float,
    limit: int,
    contained: float = 0.6,
) -> np.ndarray:
    """Indices kept after merging detections from several windows of one image.

    A box cut by a tile edge (`cut`) is dropped when most of it (`contained` of its area) lies
    inside another, uncut box: that person was seen whole from another window. Then NMS.
    """
    boxes = boxes.reshape(-1, 4)
    candidates = np.arange(len(boxes))
    if cut.any() and (~cut).any():
        whole = boxes[~cut]
        pieces = boxes[cut]
        left = np.maximum(pieces[:, None, 0], whole[None, :, 0])
        top = np.maximum(pieces[:, None, 1], whole[None, :, 1])
        right = np.minimum(pieces[:, None, 2], whole[None, :, 2])
        bottom = np.minimum(pieces[:, None, 3], whole[None, :, 3])
        inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
        share = inter / np.maximum(box_areas(pieces), 1e-6)[:, None]
        covered = np.zeros(len(boxes), bool)
        covered[np.flatnonzero(cut)] = share.max(axis=1) >= contained
        candidates = candidates[~covered]
    kept = nms(boxes[candidates], scores[candidates], iou_threshold, limit)
    return candidates[kept]


@dataclass(frozen=True)
class Fitted:
    """An image resized (aspect kept) into a model input padded at the right and bottom."""

    pixels: np.ndarray  # (input_h, input_w, 3) RGB uint8
    scale: float  # input pixels per source pixel

    def to_source(
        self, x: np.ndarray, y: np.ndarray, window: Window
    ) -> tuple[np.ndarray, np.ndarray]:
        """Map model-input pixel coordinates back to source-image pixels."""
        return x / self.scale + window.x1, y / self.scale + window.y1


def fit_to_input(
    bgr: np.ndarray, long_side: int, multiple: int = 32, square: bool = False
) -> Fitted:
    """Resize so the long side is `long_side`, pad to a multiple of `multiple` (or to a square),
    and convert BGR to RGB."""
    height, width = bgr.shape[:2]
    scale = long_side / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    if square:
        pad_w = pad_h = long_side
    else:
        pad_w = -(-new_w // multiple) * multiple
        pad_h = -(-new_h // multiple) * multiple
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(bgr, (new_w, new_h), interpolation=interpolation)
    canvas = np.zeros((pad_h, pad_w, 3), np.uint8)
    canvas[:new_h, :new_w] = resized[:, :, ::-1]
    return Fitted(canvas, scale)
