"""Association cost of the matching cascade: paper eq. 3 with both gates (eq. 1, 2, 5).

c(i, j) = lambda * d1(i, j) + (1 - lambda) * d2(i, j), admissible only when d1 is inside the
chi-square 95% gate and d2 under max_cosine_distance.

Scales: d1, the squared Mahalanobis distance, lies in [0, 9.4877] for admissible pairs while d2,
the cosine distance, lies in [0, 2] (in practice [0, 1]). Taken literally, eq. 3 would let motion
dominate for any lambda above ~0.1, so we divide d1 by the gate: both terms then lie in [0, 1]
and lambda is the share of motion in the cost.

When appearance is unknown for a pair (the detection has no embedding, or the track has not yet
stored one) the cost is the scaled Mahalanobis distance alone and only the motion gate applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.track.deepsort.appearance import nearest_cosine_distance
from services.track.deepsort.detection import Detection
from services.track.deepsort.kalman_filter import CHI2_GATE_4DOF, FloatArray, KalmanFilter
from services.track.deepsort.linear_assignment import INFTY_COST
from services.track.deepsort.track import Track


def max_admissible_cost(lambda_: float, max_cosine_distance: float) -> float:
    """Largest cost an admissible pair can have (motion-only pairs reach 1)."""
    return max(1.0, lambda_ + (1.0 - lambda_) * max_cosine_distance)


def gated_cost_matrix(
    kf: KalmanFilter,
    lambda_: float,
    max_cosine_distance: float,
    tracks: Sequence[Track],
    detections: Sequence[Detection],
    track_indices: Sequence[int],
    detection_indices: Sequence[int],
) -> FloatArray:
    """(len(track_indices), len(detection_indices)) eq. 3 costs, INFTY_COST where gated out."""
    if len(track_indices) == 0 or len(detection_indices) == 0:
        return np.zeros((len(track_indices), len(detection_indices)), dtype=np.float64)
    measurements = np.stack([detections[j].to_xyah() for j in detection_indices])
    means = np.stack([tracks[i].mean for i in track_indices])
    covariances = np.stack([tracks[i].covariance for i in track_indices])
    mahalanobis = kf.gating_distances(means, covariances, measurements)
    inside_motion_gate = mahalanobis <= CHI2_GATE_4DOF
    cost = mahalanobis / CHI2_GATE_4DOF  # motion only, until appearance is known below

    embeddings = [detections[j].embedding for j in detection_indices]
    dims = {len(e) for e in embeddings if e is not None}
    if dims:
        dim = dims.pop()
        has_embedding = np.array([e is not None and len(e) == dim for e in embeddings])
        embedding_matrix = np.zeros((len(embeddings), dim), dtype=np.float32)
        for col, e in enumerate(embeddings):
            if has_embedding[col]:
                embedding_matrix[col] = e
        for row, track_idx in enumerate(track_indices):
            gallery = tracks[track_idx].gallery
            # Appearance only where motion already allows the pair: the costly product then
            # involves the few detections near the track, not all of them.
            cols = np.flatnonzero(inside_motion_gate[row] & has_embedding)
            if len(gallery) == 0 or gallery.dim != dim or len(cols) == 0:
                continue
            appearance = nearest_cosine_distance(gallery.as_array(), embedding_matrix[cols])
            cost[row, cols] = lambda_ * cost[row, cols] + (1.0 - lambda_) * appearance
            cost[row, cols[appearance > max_cosine_distance]] = INFTY_COST
    cost[~inside_motion_gate] = INFTY_COST
    return cost
