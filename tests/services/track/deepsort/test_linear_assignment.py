from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from services.track.deepsort.linear_assignment import (
    INFTY_COST,
    CostFunction,
    matching_cascade,
    min_cost_matching,
)


@dataclass
class FakeTrack:
    time_since_update: int


def table_cost(table: list[list[float]]) -> CostFunction[FakeTrack, int]:
    """Cost function reading a fixed (all tracks x all detections) table."""
    full = np.array(table, dtype=float)

    def cost(
        tracks: Sequence[FakeTrack],
        detections: Sequence[int],
        track_indices: Sequence[int],
        detection_indices: Sequence[int],
    ) -> np.ndarray:
        return full[np.ix_(list(track_indices), list(detection_indices))]

    return cost


@pytest.mark.parametrize(
    ("table", "max_distance", "matches", "unmatched_tracks", "unmatched_detections"),
    [
        ([[0.1, 0.9], [0.8, 0.2]], 0.5, [(0, 0), (1, 1)], [], []),
        # Globally optimal, not greedy: track 0 takes its second choice.
        ([[0.1, 0.2], [0.15, 0.9]], 0.5, [(0, 1), (1, 0)], [], []),
        ([[0.1, 0.9], [0.8, 0.7]], 0.5, [(0, 0)], [1], [1]),  # over the threshold
        ([[INFTY_COST, INFTY_COST]], 0.5, [], [0], [0, 1]),
        ([[0.3, 0.1, 0.2]], 0.5, [(0, 1)], [], [0, 2]),
    ],
)
def test_min_cost_matching(
    table: list[list[float]],
    max_distance: float,
    matches: list[tuple[int, int]],
    unmatched_tracks: list[int],
    unmatched_detections: list[int],
) -> None:
    tracks = [FakeTrack(1) for _ in table]
    detections = list(range(len(table[0])))
    result = min_cost_matching(
        table_cost(table), max_distance, tracks, detections, range(len(tracks)), detections
    )
    assert sorted(result[0]) == matches
    assert result[1] == unmatched_tracks
    assert result[2] == unmatched_detections


def test_min_cost_matching_with_nothing_to_match() -> None:
    assert min_cost_matching(table_cost([[0.0]]), 0.5, [FakeTrack(1)], [0], [0], []) == (
        [],
        [0],
        [],
    )


def test_cascade_gives_the_detection_to_the_most_recently_seen_track() -> None:
    # Track 0 was lost 5 frames ago and fits the detection better than track 1, seen last frame.
    tracks = [FakeTrack(5), FakeTrack(1)]
    cost = table_cost([[0.05], [0.4]])
    matches, unmatched_tracks, unmatched_detections = matching_cascade(
        cost, 0.5, 30, tracks, [0], [0, 1], [0]
    )
    assert matches == [(1, 0)]
    assert unmatched_tracks == [0]
    assert unmatched_detections == []
    # Plain Hungarian over the same pairs would have chosen the older track.
    assert min_cost_matching(cost, 0.5, tracks, [0], [0, 1], [0])[0] == [(0, 0)]


def test_cascade_falls_back_to_older_tracks_for_what_is_left() -> None:
    tracks = [FakeTrack(3), FakeTrack(1)]
    cost = table_cost([[0.1, 0.2], [0.3, INFTY_COST]])
    matches, unmatched_tracks, _ = matching_cascade(cost, 0.5, 30, tracks, [0, 1], [0, 1], [0, 1])
    assert sorted(matches) == [(0, 1), (1, 0)]
    assert unmatched_tracks == []


def test_cascade_ignores_tracks_older_than_its_depth() -> None:
    tracks = [FakeTrack(4)]
    matches, unmatched_tracks, _ = matching_cascade(
        table_cost([[0.0]]), 0.5, 3, tracks, [0], [0], [0]
    )
    assert matches == []
    assert unmatched_tracks == [0]
