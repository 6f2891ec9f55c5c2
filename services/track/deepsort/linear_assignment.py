"""Assignment: Hungarian matching with a cost threshold, and the matching cascade by track age."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

# Cost of a forbidden pair; finite so that the Hungarian solver always finds a full assignment.
INFTY_COST = 1e5


class HasTimeSinceUpdate(Protocol):
    time_since_update: int


TrackT = TypeVar("TrackT", bound=HasTimeSinceUpdate)
DetectionT = TypeVar("DetectionT")

CostFunction = Callable[
    [Sequence[TrackT], Sequence[DetectionT], Sequence[int], Sequence[int]],
    NDArray[np.float64],
]
Matches = list[tuple[int, int]]


def min_cost_matching(
    cost_function: CostFunction[TrackT, DetectionT],
    max_distance: float,
    tracks: Sequence[TrackT],
    detections: Sequence[DetectionT],
    track_indices: Sequence[int],
    detection_indices: Sequence[int],
) -> tuple[Matches, list[int], list[int]]:
    """Hungarian assignment; pairs costing more than max_distance are left unmatched.

    Returns (matches as (track index, detection index), unmatched tracks, unmatched detections).
    """
    if len(track_indices) == 0 or len(detection_indices) == 0:
        return [], list(track_indices), list(detection_indices)

    cost = cost_function(tracks, detections, track_indices, detection_indices)
    cost = np.where(cost > max_distance, max_distance + 1e-5, cost)
    rows, cols = linear_sum_assignment(cost)

    matches: Matches = []
    matched_rows, matched_cols = set(), set()
    for row, col in zip(rows, cols, strict=True):
        if cost[row, col] > max_distance:
            continue
        matches.append((track_indices[row], detection_indices[col]))
        matched_rows.add(row)
        matched_cols.add(col)
    unmatched_tracks = [t for i, t in enumerate(track_indices) if i not in matched_rows]
    unmatched_detections = [d for j, d in enumerate(detection_indices) if j not in matched_cols]
    return matches, unmatched_tracks, unmatched_detections


def matching_cascade(
    cost_function: CostFunction[TrackT, DetectionT],
    max_distance: float,
    cascade_depth: int,
    tracks: Sequence[TrackT],
    detections: Sequence[DetectionT],
    track_indices: Sequence[int],
    detection_indices: Sequence[int],
) -> tuple[Matches, list[int], list[int]]:
    """Match the most recently seen tracks first (paper, Listing 1).

    A track lost for long has a wide covariance and so a small Mahalanobis distance to
    everything; matching by age stops it from stealing detections from fresher tracks.
    """
    unmatched_detections = list(detection_indices)
    matches: Matches = []
    for level in range(cascade_depth):
        if not unmatched_detections:
            break
        level_tracks = [k for k in track_indices if tracks[k].time_since_update == 1 + level]
        if not level_tracks:
            continue
        level_matches, _, unmatched_detections = min_cost_matching(
            cost_function, max_distance, tracks, detections, level_tracks, unmatched_detections
        )
        matches += level_matches
    matched_tracks = {k for k, _ in matches}
    unmatched_tracks = [k for k in track_indices if k not in matched_tracks]
    return matches, unmatched_tracks, unmatched_detections
