"""The DeepSORT tracker of one camera: predict, match (cascade, then IoU), update, output."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from services.track.config import TrackConfig
from services.track.deepsort import linear_assignment
from services.track.deepsort.appearance import normalise_rows
from services.track.deepsort.association_cost import gated_cost_matrix, max_admissible_cost
from services.track.deepsort.detection import Detection
from services.track.deepsort.iou_matching import iou_cost
from services.track.deepsort.kalman_filter import FloatArray, KalmanFilter
from services.track.deepsort.track import Track

logger = logging.getLogger(__name__)


# eq=False: the box is an array, so field-wise equality and hashing would be meaningless.
@dataclass(frozen=True, eq=False)
class TrackOutput:
    """One track in one frame.

    box: Kalman-filtered (x1, y1, x2, y2) in pixels, after the update with this frame's detection.
    detection_index: row of the matched detection in the update() inputs (None when coasting), so
    that the caller can attach that detection's keypoints.
    age: frames since the track was created; time_since_update: 0 when matched this frame.
    """

    track_id: int
    box: FloatArray
    detection_index: int | None
    age: int
    time_since_update: int


def valid_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    embeddings: np.ndarray | None,
    min_score: float,
) -> tuple[list[Detection], int]:
    """Detections worth tracking, and how many rows were rejected as unusable.

    Rejected: a non-finite box or score, zero or negative width or height. Rows scoring below
    min_score are skipped without counting as rejected. A non-finite or zero embedding only loses
    its appearance. Inconsistent shapes are a caller bug and raise ValueError.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if boxes.size == 0 and scores.size == 0:
        return [], 0
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (n, 4), got {boxes.shape}")
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must have shape ({len(boxes)},), got {scores.shape}")
    has_embedding = np.zeros(len(boxes), dtype=bool)
    normalised: np.ndarray | None = None
    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if embeddings.ndim != 2 or len(embeddings) != len(boxes):
            raise ValueError(
                f"embeddings must have shape ({len(boxes)}, d), got {embeddings.shape}"
            )
        normalised, has_embedding = normalise_rows(embeddings)

    usable = (
        np.isfinite(boxes).all(axis=1)
        & np.isfinite(scores)
        & (boxes[:, 2] > boxes[:, 0])
        & (boxes[:, 3] > boxes[:, 1])
    )
    rejected = int((~usable).sum())
    keep = usable & (scores >= min_score)
    detections = [
        Detection(
            box=boxes[i].copy(),
            score=float(scores[i]),
            embedding=normalised[i] if normalised is not None and has_embedding[i] else None,
            index=int(i),
        )
        for i in np.flatnonzero(keep)
    ]
    return detections, rejected


class Tracker:
    """Multi-person tracker of one camera. Its id counter is its own: ids start at 1."""

    def __init__(self, config: TrackConfig) -> None:
        self.config = config
        self.kf = KalmanFilter()
        self.tracks: list[Track] = []
        self.rejected_detections = 0  # running count of unusable input rows (NaN, zero area)
        self.next_id = 1  # the id the next new track gets

    def update(
        self, boxes: np.ndarray, scores: np.ndarray, embeddings: np.ndarray | None = None
    ) -> list[TrackOutput]:
        """Advance one frame with its detections and return the tracks to show.

        boxes (n, 4) x1, y1, x2, y2 in pixels; scores (n,); embeddings (n, d) or None.
        By default only confirmed tracks matched in this frame are returned; with
        config.output_coasting, confirmed tracks that missed this frame too.
        """
        detections, rejected = valid_detections(
            boxes, scores, embeddings, self.config.min_detection_score
        )
        if rejected:
            self.rejected_detections += rejected
            logger.debug("ignored %d detections with a non-finite or empty box", rejected)

        for track in self.tracks:
            track.predict(self.kf)

        matches, unmatched_tracks, unmatched_detections = self._match(detections)

        for track_idx, detection_idx in matches:
            self.tracks[track_idx].update(self.kf, detections[detection_idx])
        for track_idx in unmatched_tracks:
            self.tracks[track_idx].mark_missed()
        for detection_idx in unmatched_detections:
            self._initiate_track(detections[detection_idx])
        self.tracks = [t for t in self.tracks if not t.is_deleted()]
        return self._outputs()

    def _match(
        self, detections: Sequence[Detection]
    ) -> tuple[linear_assignment.Matches, list[int], list[int]]:
        config = self.config
        confirmed = [i for i, t in enumerate(self.tracks) if t.is_confirmed()]
        unconfirmed = [i for i, t in enumerate(self.tracks) if not t.is_confirmed()]

        # 1. Confirmed tracks by the eq. 3 cost, most recently seen first.
        cost = partial(gated_cost_matrix, self.kf, config.lambda_, config.max_cosine_distance)
        matches_a, unmatched_tracks_a, unmatched_detections = linear_assignment.matching_cascade(
            cost,
            max_admissible_cost(config.lambda_, config.max_cosine_distance),
            config.max_age,
            self.tracks,
            detections,
            confirmed,
            list(range(len(detections))),
        )

        # 2. IoU for the rest: tentative tracks and confirmed ones that were seen last frame.
        iou_candidates = unconfirmed + [
            k for k in unmatched_tracks_a if self.tracks[k].time_since_update == 1
        ]
        unmatched_tracks_a = [
            k for k in unmatched_tracks_a if self.tracks[k].time_since_update != 1
        ]
        matches_b, unmatched_tracks_b, unmatched_detections = linear_assignment.min_cost_matching(
            iou_cost,
            config.max_iou_distance,
            self.tracks,
            detections,
            iou_candidates,
            unmatched_detections,
        )
        return matches_a + matches_b, unmatched_tracks_a + unmatched_tracks_b, unmatched_detections

    def _initiate_track(self, detection: Detection) -> None:
        mean, covariance = self.kf.initiate(detection.to_xyah())
        self.tracks.append(
            Track(
                mean,
                covariance,
                self.next_id,
                self.config.n_init,
                self.config.max_age,
                self.config.gallery_size,
                detection,
            )
        )
        self.next_id += 1

    def _outputs(self) -> list[TrackOutput]:
        return [
            TrackOutput(
                track_id=t.track_id,
                box=t.to_xyxy(),
                detection_index=t.last_detection_index,
                age=t.age,
                time_since_update=t.time_since_update,
            )
            for t in self.tracks
            if t.is_confirmed() and (t.time_since_update == 0 or self.config.output_coasting)
        ]
