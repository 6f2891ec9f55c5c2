import numpy as np
import pytest

from services.track.deepsort.detection import Detection
from services.track.deepsort.iou_matching import iou, iou_cost
from services.track.deepsort.kalman_filter import KalmanFilter
from services.track.deepsort.linear_assignment import INFTY_COST
from services.track.deepsort.track import Track


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ([0, 0, 10, 10], 1.0),
        ([5, 0, 15, 10], 50 / 150),
        ([20, 20, 30, 30], 0.0),
        ([0, 0, 5, 5], 25 / 100),
        ([3, 3, 3, 3], 0.0),  # zero-area candidate
    ],
)
def test_iou(candidate: list[float], expected: float) -> None:
    result = iou(np.array([0.0, 0, 10, 10]), np.array([candidate], dtype=float))
    assert result[0] == pytest.approx(expected)


def test_iou_cost_forbids_tracks_lost_for_more_than_one_frame() -> None:
    kf = KalmanFilter()
    detection = Detection(np.array([0.0, 0, 10, 20]), 1.0, None, 0)
    tracks = []
    for track_id in (1, 2):
        mean, cov = kf.initiate(detection.to_xyah())
        tracks.append(Track(mean, cov, track_id, 3, 30, 10, detection))
    tracks[0].time_since_update = 1
    tracks[1].time_since_update = 2
    cost = iou_cost(tracks, [detection], [0, 1], [0])
    assert cost[0, 0] == pytest.approx(0.0)
    assert cost[1, 0] == INFTY_COST
