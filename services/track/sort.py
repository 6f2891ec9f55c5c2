"""Plain SORT (Bewley et al., 2016): Kalman prediction, IoU, Hungarian; no appearance.

The baseline that DeepSORT is measured against. It differs from Bewley's code in two ways so
that the comparison is about association only:
- it shares DeepSORT's 8-d Kalman filter (x, y, a, h) instead of SORT's 7-d (u, v, s, r);
- the creating detection counts as the first hit (min_hits = n_init means the same delay before
  a track is shown), and there is no "show everything in the first min_hits frames" warm-up.
As in SORT, a track is shown only while its run of consecutive hits is at least min_hits: one
missed frame hides it again until it has been hit min_hits times in a row.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from services.track.deepsort.detection import Detection, xyah_to_xyxy
from services.track.deepsort.iou_matching import iou_matrix
from services.track.deepsort.kalman_filter import KalmanFilter
from services.track.deepsort.tracker import TrackOutput, valid_detections


class _SortTrack:
    def __init__(self, kf: KalmanFilter, detection: Detection, track_id: int) -> None:
        self.mean, self.covariance = kf.initiate(detection.to_xyah())
        self.track_id = track_id
        self.hit_streak = 1
        self.age = 1
        self.time_since_update = 0
        self.last_detection_index: int | None = detection.index

    def predict(self, kf: KalmanFilter) -> None:
        self.mean, self.covariance = kf.predict(self.mean, self.covariance)
        if self.time_since_update > 0:
            self.hit_streak = 0
        self.age += 1
        self.time_since_update += 1
        self.last_detection_index = None

    def update(self, kf: KalmanFilter, detection: Detection) -> None:
        self.mean, self.covariance = kf.update(self.mean, self.covariance, detection.to_xyah())
        self.time_since_update = 0
        self.hit_streak += 1
        self.last_detection_index = detection.index


class Sort:
    """SORT tracker of one camera; defaults are Bewley's (max_age 1, min_hits 3, IoU 0.3)."""

    def __init__(
        self,
        max_age: int = 1,
        min_hits: int = 3,
        iou_threshold: float = 0.3,
        min_detection_score: float = 0.0,
    ) -> None:
        self.max_age = max_age
        self.min_hits = min_hits
        self.iou_threshold = iou_threshold
        self.min_detection_score = min_detection_score
        self.kf = KalmanFilter()
        self.tracks: list[_SortTrack] = []
        self._next_id = 1

    def update(
        self, boxes: np.ndarray, scores: np.ndarray, embeddings: np.ndarray | None = None
    ) -> list[TrackOutput]:
        """Same contract as DeepSORT's Tracker.update; embeddings are ignored."""
        detections, _ = valid_detections(boxes, scores, None, self.min_detection_score)
        for track in self.tracks:
            track.predict(self.kf)

        matched_detections: set[int] = set()
        if self.tracks and detections:
            track_boxes = np.stack([xyah_to_xyxy(t.mean[:4]) for t in self.tracks])
            detection_boxes = np.stack([d.box for d in detections])
            overlap = iou_matrix(track_boxes, detection_boxes)
            rows, cols = linear_sum_assignment(-overlap)
            for row, col in zip(rows, cols, strict=True):
                if overlap[row, col] >= self.iou_threshold:
                    self.tracks[row].update(self.kf, detections[col])
                    matched_detections.add(int(col))

        for j, detection in enumerate(detections):
            if j not in matched_detections:
                self.tracks.append(_SortTrack(self.kf, detection, self._next_id))
                self._next_id += 1
        self.tracks = [t for t in self.tracks if t.time_since_update <= self.max_age]
        return [
            TrackOutput(
                track_id=t.track_id,
                box=xyah_to_xyxy(t.mean[:4]),
                detection_index=t.last_detection_index,
                age=t.age,
                time_since_update=t.time_since_update,
            )
            for t in self.tracks
            if t.time_since_update == 0 and t.hit_streak >= self.min_hits
        ]
