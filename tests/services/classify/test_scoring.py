"""CameraHistory: which sequences get scored, bounded memory, retries and restarts."""

from __future__ import annotations

import numpy as np
import pytest

from services.classify.features import (
    COL_PRESENT,
    FEATURE_DIM,
    FrameTracks,
    TrackedPerson,
    person_sequences,
)
from services.classify.scoring import CameraHistory, replay_windows

RATE = 10.0
WINDOW = 6


def person(track_id: int, x: float) -> TrackedPerson:
    keypoints = np.zeros((17, 3))
    keypoints[:, 0], keypoints[:, 1], keypoints[:, 2] = x + 20, 150, 0.9
    return TrackedPerson(track_id, np.array([x, 100.0, x + 40, 200.0]), keypoints)


def frames(count: int, tracks: dict[int, range], start: float = 0.0) -> list[FrameTracks]:
    """`tracks` maps a track id to the frame numbers it is on screen; it walks right."""
    return [
        FrameTracks(start + i / RATE, 640, 360,
                    tuple(person(t, 50.0 * t + 3.0 * i) for t, on in tracks.items() if i in on))
        for i in range(count)
    ]


def test_only_people_on_screen_now_are_scored() -> None:
    history = CameraHistory(WINDOW, RATE)
    got = [history.add(f) for f in frames(10, {1: range(10), 2: range(0, 5)})]
    assert [sorted(g) for g in got] == [[1, 2]] * 5 + [[1]] * 5
    assert all(seq.shape == (WINDOW, FEATURE_DIM) for g in got for seq in g.values())


@pytest.mark.parametrize("min_steps", [1, 3, WINDOW])
def test_a_track_needs_min_present_steps(min_steps: int) -> None:
    history = CameraHistory(WINDOW, RATE, min_present_steps=min_steps)
    got = [history.add(f) for f in frames(10, {1: range(10)})]
    first_scored = next(i for i, g in enumerate(got) if g)
    assert first_scored == min_steps - 1
    assert got[first_scored][1][:, COL_PRESENT].sum() == min_steps


def test_the_history_is_bounded_and_matches_the_whole_history() -> None:
    history = CameraHistory(WINDOW, RATE)
    clip = frames(60, {1: range(60), 2: range(20, 60)})
    for i, f in enumerate(clip):
        got = history.add(f)
        assert len(history.frames) <= WINDOW + 2 + 5 + 1  # window + 2 context steps + gap
        whole = person_sequences(clip[: i + 1], WINDOW, RATE)
        for tid, seq in got.items():
            np.testing.assert_allclose(seq, whole[tid], atol=1e-6)


def test_a_retried_frame_gets_the_same_answer() -> None:
    history = CameraHistory(WINDOW, RATE)
    clip = frames(12, {1: range(12)})
    answers = [history.add(f) for f in clip]
    again = history.add(clip[8])
    np.testing.assert_array_equal(again[1], answers[8][1])
    assert len(history.frames) == 12  # the retry added nothing


def test_positions_going_back_start_a_new_history() -> None:
    history = CameraHistory(WINDOW, RATE, min_present_steps=2)
    for f in frames(12, {1: range(12)}, start=5.0):
        history.add(f)
    restarted = frames(3, {1: range(3)})
    assert history.add(restarted[0]) == {}  # one step only: the old run is gone
    assert len(history.frames) == 1


def test_replay_windows_are_what_the_history_gives_frame_by_frame() -> None:
    clip = frames(15, {1: range(15), 7: range(4, 15)})
    windows = replay_windows(clip, WINDOW, RATE, min_present_steps=2)
    history = CameraHistory(WINDOW, RATE, min_present_steps=2)
    expected = [(i, tid, seq) for i, f in enumerate(clip)
                for tid, seq in sorted(history.add(f).items())]
    assert windows.frame.tolist() == [e[0] for e in expected]
    assert windows.track.tolist() == [e[1] for e in expected]
    np.testing.assert_array_equal(windows.x, np.stack([e[2] for e in expected]))


def test_replay_of_an_empty_clip() -> None:
    windows = replay_windows(frames(5, {}), WINDOW, RATE)
    assert windows.x.shape == (0, WINDOW, FEATURE_DIM) and len(windows.frame) == 0
