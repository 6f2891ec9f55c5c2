import numpy as np
import pytest

from services.track.sort import Sort


def moving_box(t: int) -> np.ndarray:
    return np.array([[10.0 + 4 * t, 20.0, 60.0 + 4 * t, 120.0]])


def test_follows_one_person_with_one_id_after_min_hits() -> None:
    tracker = Sort(min_hits=3)
    outputs = [tracker.update(moving_box(t), np.ones(1)) for t in range(6)]
    assert [len(o) for o in outputs] == [0, 0, 1, 1, 1, 1]
    assert {o[0].track_id for o in outputs[2:]} == {1}
    np.testing.assert_allclose(outputs[-1][0].box, moving_box(5)[0], atol=1.0)


@pytest.mark.parametrize(("max_age", "same_id"), [(1, True), (0, False)])
def test_a_missed_frame_within_max_age_keeps_the_id(max_age: int, same_id: bool) -> None:
    tracker = Sort(max_age=max_age, min_hits=1)
    first = tracker.update(moving_box(0), np.ones(1))[0].track_id
    tracker.update(moving_box(1), np.ones(1))
    tracker.update(np.zeros((0, 4)), np.zeros(0))
    later = tracker.update(moving_box(3), np.ones(1))[0].track_id
    assert (later == first) is same_id


def test_a_miss_hides_the_track_until_min_hits_in_a_row() -> None:
    tracker = Sort(max_age=1, min_hits=2)
    shown = []
    for t in range(6):
        boxes = np.zeros((0, 4)) if t == 2 else moving_box(t)
        shown.append(len(tracker.update(boxes, np.ones(len(boxes)))))
    assert shown == [0, 1, 0, 0, 1, 1]


def test_unusable_and_weak_detections_are_ignored() -> None:
    tracker = Sort(min_hits=1, min_detection_score=0.5)
    boxes = np.array([[0.0, 0, 0, 10], [np.nan, 0, 5, 5], [0, 0, 10, 20], [50, 50, 60, 70]])
    outputs = tracker.update(boxes, np.array([1.0, 1.0, 0.4, 0.9]))
    assert [o.detection_index for o in outputs] == [3]
