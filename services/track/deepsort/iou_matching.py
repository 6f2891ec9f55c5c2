"""IoU between boxes, and the IoU cost used for tentative and just-lost tracks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.track.deepsort.detection import Detection
from services.track.deepsort.kalman_filter import FloatArray
from services.track.deepsort.linear_assignment import INFTY_COST
from services.track.deepsort.track import Track


def iou(box: FloatArray, candidates: FloatArray) -> FloatArray:
    """IoU of one (x1, y1, x2, y2) box with each row of candidates (m, 4)."""
    top_left = np.maximum(box[:2], candidates[:, :2])
    bottom_right = np.minimum(box[2:], candidates[:, 2:])
    wh = np.maximum(0.0, bottom_right - top_left)
    intersection = wh[:, 0] * wh[:, 1]
    area_box = (box[2] - box[0]) * (box[3] - box[1])
    area_candidates = (candidates[:, 2] - candidates[:, 0]) * (candidates[:, 3] - candidates[:, 1])
    union = area_box + area_candidates - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(union > 0, intersection / union, 0.0)
    return np.asarray(result, dtype=np.float64)


def iou_matrix(boxes_a: FloatArray, boxes_b: FloatArray) -> FloatArray:
    """(n, m) IoU between two sets of (x1, y1, x2, y2) boxes."""
    result = np.zeros((len(boxes_a), len(boxes_b)), dtype=np.float64)
    if len(boxes_b) == 0:
        return result
    for row, box in enumerate(boxes_a):
        result[row] = iou(box, boxes_b)
    return result


def iou_cost(
    tracks: Sequence[Track],
    detections: Sequence[Detection],
    track_indices: Sequence[int],
    detection_indices: Sequence[int],
) -> FloatArray:
    """1 - IoU between predicted track boxes and detections.

    Tracks missed for more than one frame get an infinite cost: their predicted box has drifted
    and IoU with it means little (nwojke/deep_sort does the same).
    """
    cost = np.zeros((len(track_indices), len(detection_indices)), dtype=np.float64)
    if len(detection_indices) == 0:
        return cost
    candidates = np.stack([detections[j].box for j in detection_indices])
    for row, track_idx in enumerate(track_indices):
        if tracks[track_idx].time_since_update > 1:
            cost[row, :] = INFTY_COST
            continue
        cost[row, :] = 1.0 - iou(tracks[track_idx].to_xyxy(), candidates)
    return cost
