from collections.abc import Callable

import numpy as np
import pytest

from services.track.config import TrackConfig
from services.track.deepsort.tracker import Tracker
from services.track.sort import Sort

W, H = 50.0, 100.0
Frames = list[tuple[np.ndarray, np.ndarray]]
E_A, E_B = np.eye(8)[0], np.eye(8)[1]  # two people who look nothing alike


def box_at(x: float, y: float = 100.0) -> list[float]:
    return [x, y, x + W, y + H]


def meet_and_part() -> Frames:
    """A walks right and B left until they stand on the same spot, then each walks back.

    Yields (boxes, embeddings) per frame with A always in row 0.
    """
    frames = []
    for t in range(25):
        offset = 5.0 * (t if t <= 12 else 24 - t)  # meet at t = 12, x = 100
        boxes = np.array([box_at(40 + offset), box_at(160 - offset)])
        frames.append((boxes, np.stack([E_A, E_B])))
    return frames


def crossing_with_occlusion() -> Frames:
    """A and B cross at constant speed; while they overlap the detector only sees A (in front)."""
    frames = []
    for t in range(30):
        a, b = box_at(20 + 6.0 * t), box_at(200 - 6.0 * t, 110.0)
        rows = [(a, E_A)] if 11 <= t <= 19 else [(a, E_A), (b, E_B)]
        frames.append((np.array([r[0] for r in rows]), np.stack([r[1] for r in rows])))
    return frames


def identities(tracker: Tracker | Sort, frames: Frames) -> dict[int, set[int]]:
    """Person (row 0 = A, row 1 = B) -> set of track ids it was given over the sequence."""
    seen: dict[int, set[int]] = {0: set(), 1: set()}
    for boxes, embeddings in frames:
        for output in tracker.update(boxes, np.ones(len(boxes)), embeddings):
            assert output.detection_index is not None
            seen[output.detection_index].add(output.track_id)
    return seen


@pytest.mark.parametrize("scenario", [meet_and_part, crossing_with_occlusion])
def test_distinct_appearance_keeps_ids_where_sort_fails(scenario: Callable[[], Frames]) -> None:
    frames = scenario()
    deepsort_ids = identities(Tracker(TrackConfig()), frames)
    sort_ids = identities(Sort(), frames)
    assert len(deepsort_ids[0]) == 1
    assert len(deepsort_ids[1]) == 1
    assert deepsort_ids[0] != deepsort_ids[1]
    assert len(sort_ids[0]) + len(sort_ids[1]) > 2  # SORT swaps or renews an id


def test_each_tracker_has_its_own_id_counter() -> None:
    boxes = np.array([box_at(0), box_at(200)])
    first, second = Tracker(TrackConfig(n_init=1)), Tracker(TrackConfig(n_init=1))
    first.update(boxes, np.ones(2), None)
    ids_first = sorted(o.track_id for o in first.update(boxes, np.ones(2), None))
    ids_second = sorted(o.track_id for o in second.update(boxes[:1], np.ones(1), None))
    assert ids_first == [1, 2]
    assert ids_second == [1]


def test_tracks_are_output_only_once_confirmed_and_then_coast_if_asked() -> None:
    boxes = np.array([box_at(0)])
    plain, coasting = (
        Tracker(TrackConfig(n_init=3)),
        Tracker(TrackConfig(n_init=3, output_coasting=True)),
    )
    counts = []
    for frame in range(4):
        frame_boxes = boxes if frame < 3 else np.zeros((0, 4))
        counts.append(
            (
                len(plain.update(frame_boxes, np.ones(len(frame_boxes)))),
                len(coasting.update(frame_boxes, np.ones(len(frame_boxes)))),
            )
        )
    assert counts == [(0, 0), (0, 0), (1, 1), (0, 1)]
    coasted = coasting.update(np.zeros((0, 4)), np.zeros(0))[0]
    assert coasted.detection_index is None
    assert coasted.time_since_update == 2


def test_detection_index_points_to_the_input_row_despite_skipped_rows() -> None:
    tracker = Tracker(TrackConfig(n_init=1, min_detection_score=0.5))
    boxes = np.array([box_at(0), [np.nan, 0, 10, 10], box_at(200), box_at(400)])
    outputs = tracker.update(boxes, np.array([0.9, 0.9, 0.1, 0.8]), None)
    assert sorted(o.detection_index for o in outputs) == [0, 3]  # type: ignore[type-var]
    by_index = {o.detection_index: o for o in outputs}
    np.testing.assert_allclose(by_index[3].box, box_at(400))


@pytest.mark.parametrize(
    ("boxes", "rejected"),
    [
        (np.zeros((0, 4)), 0),
        (np.array([[10.0, 10.0, 10.0, 50.0]]), 1),  # zero width
        (np.array([[10.0, 10.0, 50.0, 10.0]]), 1),  # zero height
        (np.array([[50.0, 10.0, 10.0, 50.0]]), 1),  # negative width
        (np.array([[np.nan, 10.0, 50.0, 50.0]]), 1),
        (np.array([[np.inf, 10.0, 50.0, 50.0]]), 1),
    ],
)
def test_unusable_boxes_make_no_track(boxes: np.ndarray, rejected: int) -> None:
    tracker = Tracker(TrackConfig(n_init=1))
    assert tracker.update(boxes, np.ones(len(boxes)), None) == []
    assert tracker.tracks == []
    assert tracker.rejected_detections == rejected


def test_nan_score_is_rejected() -> None:
    tracker = Tracker(TrackConfig(n_init=1))
    assert tracker.update(np.array([box_at(0)]), np.array([np.nan]), None) == []
    assert tracker.rejected_detections == 1


def test_nan_embedding_keeps_the_detection_without_appearance() -> None:
    tracker = Tracker(TrackConfig(n_init=1))
    embeddings = np.array([[np.nan] * 8, E_B])
    outputs = tracker.update(np.array([box_at(0), box_at(300)]), np.ones(2), embeddings)
    assert len(outputs) == 2
    assert [len(t.gallery) for t in tracker.tracks] == [0, 1]


def test_no_detections_lets_confirmed_tracks_coast_then_die() -> None:
    tracker = Tracker(TrackConfig(n_init=1, max_age=3))
    tracker.update(np.array([box_at(0)]), np.ones(1), None)
    alive = []
    for _ in range(5):
        assert tracker.update(np.zeros((0, 4)), np.zeros(0), None) == []
        alive.append(len(tracker.tracks))
    assert alive == [1, 1, 1, 0, 0]


def test_two_hundred_people_keep_two_hundred_ids() -> None:
    rng = np.random.default_rng(0)
    grid = np.array([[60.0 * (i % 20), 130.0 * (i // 20)] for i in range(200)])
    embeddings = rng.standard_normal((200, 32))
    tracker = Tracker(TrackConfig())
    for t in range(4):
        origin = grid + np.array([2.0 * t, 1.0 * t])
        boxes = np.hstack([origin, origin + np.array([W, H])])
        outputs = tracker.update(boxes, np.ones(200), embeddings)
    assert len(outputs) == 200
    assert {o.track_id for o in outputs} == set(range(1, 201))
    assert all(o.track_id == o.detection_index + 1 for o in outputs)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("boxes", "scores", "embeddings"),
    [
        (np.zeros((2, 3)), np.ones(2), None),
        (np.zeros((2, 4)), np.ones(3), None),
        (np.zeros((2, 4)), np.ones(2), np.ones((3, 8))),
        (np.zeros((2, 4)), np.ones(2), np.ones(8)),
    ],
)
def test_inconsistent_shapes_are_a_caller_error(
    boxes: np.ndarray, scores: np.ndarray, embeddings: np.ndarray | None
) -> None:
    with pytest.raises(ValueError, match="shape"):
        Tracker(TrackConfig()).update(boxes, scores, embeddings)
