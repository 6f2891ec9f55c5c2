import numpy as np
import pytest

from services.track.deepsort.detection import Detection
from services.track.deepsort.kalman_filter import KalmanFilter
from services.track.deepsort.track import Track, TrackState

DETECTION = Detection(
    box=np.array([10.0, 20.0, 60.0, 120.0]), score=0.9, embedding=np.array([1.0, 0.0]), index=0
)


def new_track(n_init: int, max_age: int) -> tuple[Track, KalmanFilter]:
    kf = KalmanFilter()
    mean, cov = kf.initiate(DETECTION.to_xyah())
    return Track(mean, cov, 7, n_init, max_age, gallery_size=3, detection=DETECTION), kf


def run(track: Track, kf: KalmanFilter, events: str) -> list[TrackState]:
    """events: 'h' = predicted then matched, 'm' = predicted then missed."""
    states = []
    for event in events:
        track.predict(kf)
        if event == "h":
            track.update(kf, DETECTION)
        else:
            track.mark_missed()
        states.append(track.state)
    return states


T, C, D = TrackState.TENTATIVE, TrackState.CONFIRMED, TrackState.DELETED


@pytest.mark.parametrize(
    ("n_init", "max_age", "events", "expected"),
    [
        (3, 5, "hh", [T, C]),  # creation is the first hit
        (3, 5, "hm", [T, D]),  # a tentative track dies at its first miss
        (1, 5, "m", [C]),  # n_init = 1: confirmed from creation, so it survives a miss
        (2, 2, "hmmm", [C, C, C, D]),  # deleted once missed more than max_age frames
        (2, 2, "hmmhmmm", [C, C, C, C, C, C, D]),  # a hit resets the count
        (5, 5, "hhhh", [T, T, T, C]),
    ],
)
def test_state_transitions(
    n_init: int, max_age: int, events: str, expected: list[TrackState]
) -> None:
    track, kf = new_track(n_init, max_age)
    assert run(track, kf, events) == expected


def test_counters_follow_predict_and_update() -> None:
    track, kf = new_track(3, 5)
    run(track, kf, "hm")
    assert (track.age, track.time_since_update, track.hits) == (3, 1, 2)
    assert track.last_detection_index is None  # not matched in the last frame


def test_gallery_keeps_embeddings_of_hits_up_to_its_size() -> None:
    track, kf = new_track(1, 10)
    run(track, kf, "hmhhh")
    assert len(track.gallery) == 3
