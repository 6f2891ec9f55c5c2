"""Event state machine on synthetic per-frame score sequences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from services.classify.events import (
    EventKind,
    EventTracker,
    EventUpdate,
    event_id,
    opening_score,
)

FPS = 10.0
HIGH, LOW = 0.9, 0.1


def _tracker(camera: str = "cam-1") -> EventTracker:
    return EventTracker(camera, on_threshold=0.5, k=3, n=5, quiet_seconds=1.0)


def _run(pattern: str, camera: str = "cam-1", fps: float = FPS) -> list[tuple[int, EventUpdate]]:
    """'x' = track 1 violent, '.' = calm; returns (frame the update came on, update)."""
    tracker = _tracker(camera)
    out = []
    for i, ch in enumerate(pattern):
        scores = {1: HIGH if ch == "x" else LOW, 2: LOW}
        out += [(i, u) for u in tracker.update(i, i / fps, scores)]
    out += [(len(pattern), u) for u in tracker.flush()]
    return out


def _spans(updates: Sequence[tuple[int, EventUpdate]]) -> list[tuple[int, int | None]]:
    return [(u.start_frame, u.end_frame) for _, u in updates if u.kind is EventKind.CLOSED]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("....." + "x...x...x...x..." * 3, []),  # flicker: never 3 of 5
        ("....xx.x....", [(4, 7)]),  # 3 of 5 with a hole; start is the first violent
        ("..xxxxx...xxxx" + "." * 20, [(2, 13)]),  # a short gap (0.3 s) stays one event
        ("xxx" + "." * 15, [(0, 2)]),  # a fight at the very first frame
        ("xxxx" + "." * 12 + "xxxxx" + "." * 12, [(0, 3), (16, 20)]),  # back to back
        ("....xxxxxx", [(4, 9)]),  # still violent at the end: flush closes it
    ],
)
def test_event_spans(pattern: str, expected: list[tuple[int, int]]) -> None:
    assert _spans(_run(pattern)) == expected


def test_close_waits_for_quiet_seconds() -> None:
    updates = _run("xxxx" + "." * 30)
    (closed_on, closed), = [(i, u) for i, u in updates if u.kind is EventKind.CLOSED]
    assert closed.end_time_s == pytest.approx(3 / FPS)
    # The first calm frame at least 1.0 s after the last violent frame (frame 3) is frame 13.
    assert closed_on == 13


def test_position_in_the_source_is_carried_separately_from_time() -> None:
    tracker = _tracker()
    start_us = 1_700_000_000.0  # an upload job that started at this unix time
    updates = []
    for i, ch in enumerate("..xxxx" + "." * 15):
        position = i / FPS
        updates += tracker.update(i, start_us + position, {1: HIGH if ch == "x" else LOW},
                                  position_s=position)
    opened, closed = updates
    assert opened.start_position_s == pytest.approx(0.2)
    assert opened.start_time_s == pytest.approx(start_us + 0.2)
    assert opened.end_position_s is None
    assert closed.end_position_s == pytest.approx(0.5)
    assert closed.end_time_s == pytest.approx(start_us + 0.5)


def test_opened_carries_start_time_and_no_end() -> None:
    (_, opened), *_ = _run("..xxx", fps=25.0)
    assert opened.kind is EventKind.OPENED
    assert opened.start_frame == 2
    assert opened.start_time_s == pytest.approx(2 / 25.0)
    assert opened.end_frame is None and opened.end_time_s is None
    assert [c.track_id for c in opened.culprits] == [1]


def test_replay_gives_same_ids_and_ids_depend_on_camera_and_start() -> None:
    pattern = "..xxxx" + "." * 15 + "xxx" + "." * 12
    first = [u.event_id for _, u in _run(pattern)]
    again = [u.event_id for _, u in _run(pattern)]
    other = [u.event_id for _, u in _run(pattern, camera="cam-2")]
    assert first == again
    assert len(set(first)) == 2
    assert set(first).isdisjoint(other)
    assert first[0] == event_id("cam-1", 2)


def test_culprit_joining_later_emits_update() -> None:
    tracker = _tracker()
    updates: list[EventUpdate] = []
    scores = [{1: 0.9, 2: 0.2}] * 5 + [{1: 0.9, 2: 0.7}] * 2 + [{1: 0.9, 2: 0.6}] + [{1: 0.9}] * 2
    for i, s in enumerate(scores):
        updates += tracker.update(i, i / FPS, s)
    updates += tracker.flush()
    assert [u.kind for u in updates] == [EventKind.OPENED, EventKind.UPDATED, EventKind.CLOSED]
    opened, joined, closed = updates
    assert [c.track_id for c in opened.culprits] == [1]
    assert [c.track_id for c in joined.culprits] == [1, 2]
    culprit_2 = closed.culprits[1]
    assert culprit_2.first_frame == 5
    assert culprit_2.max_score == pytest.approx(0.7)
    # Mean over the event's violent frames where track 2 was scored: 0.2 x 5 (from the first
    # violent frame on), 0.7, 0.7, 0.6; frames without track 2 do not count.
    assert culprit_2.mean_score == pytest.approx((0.2 * 5 + 0.7 + 0.7 + 0.6) / 8)
    assert closed.peak_score == pytest.approx(0.9)


def test_off_threshold_keeps_event_open() -> None:
    scores = [0.9] * 3 + [0.4] * 20
    def spans(off: float | None) -> list[tuple[int, int | None]]:
        tracker = EventTracker("cam", 0.5, 3, 5, 1.0, off_threshold=off)
        ups = [u for i, s in enumerate(scores) for u in tracker.update(i, i / FPS, {1: s})]
        ups += tracker.flush()
        return [(u.start_frame, u.end_frame) for u in ups if u.kind is EventKind.CLOSED]
    assert spans(None) == [(0, 2)]
    assert spans(0.3) == [(0, 22)]


def test_stale_frames_are_ignored_and_empty_frames_are_calm() -> None:
    tracker = _tracker()
    for i in range(3):
        tracker.update(i, i / FPS, {1: 0.9})
    assert tracker.is_open
    assert tracker.update(1, 0.1, {1: 0.9}) == []  # replayed frame
    assert tracker.update(5, 0.5, {}) == []
    (closed,) = tracker.update(20, 2.0, {})
    assert closed.kind is EventKind.CLOSED and closed.end_frame == 2


def test_expire_closes_a_stalled_stream() -> None:
    tracker = _tracker()
    for i in range(3):
        tracker.update(i, i / FPS, {1: 0.9})
    assert tracker.expire(0.5) == []
    (closed,) = tracker.expire(1.2)
    assert closed.kind is EventKind.CLOSED
    assert not tracker.is_open


@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 6, "n": 5},
        {"k": 0, "n": 5},
        {"on_threshold": 0.5, "off_threshold": 0.6},
        {"quiet_seconds": 0.0},
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EventTracker("cam", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("k", "n"), [(1, 1), (3, 5), (2, 4)])
def test_opening_score_matches_the_tracker(seed: int, k: int, n: int) -> None:
    """Thresholding the opening score answers 'would the tracker open an event?' exactly."""
    rng = np.random.default_rng(seed)
    peaks = rng.random(rng.integers(0, 25)).round(2)
    score = opening_score(peaks, k, n)
    for threshold in np.linspace(0.0, 1.0, 21):
        tracker = EventTracker("c", on_threshold=float(threshold), k=k, n=n, quiet_seconds=100)
        opened = any(
            u.kind is EventKind.OPENED
            for i, p in enumerate(peaks)
            for u in tracker.update(i, i / FPS, {1: float(p)})
        )
        assert opened == (len(peaks) >= k and score >= threshold), (threshold, score)


@pytest.mark.parametrize(
    ("peaks", "k", "n", "expected"),
    [
        ([], 3, 5, 0.0),
        ([0.9, 0.9], 3, 5, 0.0),  # fewer frames than k: no event can open
        ([0.9, 0.8, 0.7], 3, 5, 0.7),
        ([0.9, 0.1, 0.1, 0.1, 0.1, 0.9, 0.9], 3, 5, 0.1),  # the first 0.9 is out of reach
    ],
)
def test_opening_score_examples(peaks: list[float], k: int, n: int, expected: float) -> None:
    assert opening_score(peaks, k, n) == pytest.approx(expected)
