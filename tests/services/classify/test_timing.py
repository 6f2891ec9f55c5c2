"""Event timing on composed streams, with synthetic per-frame peak scores."""

from __future__ import annotations

import numpy as np
import pytest

from services.classify.timing import (
    EventRule,
    calm_stream_events,
    compose_streams,
    stream_events,
    timing_report,
)

FPS = 10.0
RULE = EventRule(on_threshold=0.5, k=3, n=5, quiet_seconds=1.0)


def calm(frames: int = 20, burst_at: int | None = None) -> np.ndarray:
    peaks = np.full(frames, 0.1)
    if burst_at is not None:
        peaks[burst_at : burst_at + 4] = 0.9  # a short false alarm
    return peaks


def fight(frames: int = 20, late_by: int = 0) -> np.ndarray:
    peaks = np.full(frames, 0.9)
    peaks[:late_by] = 0.1
    return peaks


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("....xxxx....", [(4, 7)]),
        ("xx.x" + "." * 20 + "xxx", [(0, 3), (24, 26)]),  # quiet period apart: two events
        ("x..x..x...", []),  # 3 of 5 never reached
    ],
)
def test_stream_events(pattern: str, expected: list[tuple[int, int]]) -> None:
    peaks = np.array([0.9 if c == "x" else 0.1 for c in pattern])
    assert stream_events(peaks, FPS, RULE) == expected


@pytest.mark.parametrize("late_by", [0, 5])
def test_a_clean_model_finds_every_fight_on_time(late_by: int) -> None:
    fights = [fight(20 + i, late_by) for i in range(4)]
    streams = compose_streams(fights, [calm(15 + i) for i in range(8)], FPS, RULE, seed=1)
    assert [s.fight[1] - s.fight[0] + 1 for s in streams] == [20, 21, 22, 23]
    report = timing_report(streams, FPS, RULE)
    assert (report["fights_detected"], report["fights_missed"]) == (4, 0)
    assert report["start_error_s"]["median_signed"] == pytest.approx(late_by / FPS)
    assert report["start_error_s"]["worst_abs"] == pytest.approx(late_by / FPS)
    assert report["end_error_s"]["worst_abs"] == 0.0
    assert report["false_events"] == 0 and report["false_events_per_hour"] == 0.0


def test_false_alarms_far_from_the_fight_are_counted() -> None:
    calms = [calm(30, burst_at=2) for _ in range(6)]  # each calm clip holds one burst
    streams = compose_streams([fight()], calms, FPS, RULE, seed=0, calm_per_side=3)
    report = timing_report(streams, FPS, RULE)
    # Six bursts, but the two nearest the fight are within its quiet period, or merged.
    assert report["fights_detected"] == 1
    assert 4 <= report["false_events"] <= 6
    hours = 6 * 30 / FPS / 3600
    assert report["no_fight_hours"] == pytest.approx(hours, abs=1e-4)
    assert report["false_events_per_hour"] == pytest.approx(report["false_events"] / hours, 0.01)


def test_a_missed_fight() -> None:
    streams = compose_streams([np.full(20, 0.2)], [calm() for _ in range(6)], FPS, RULE)
    report = timing_report(streams, FPS, RULE)
    assert (report["fights_detected"], report["fights_missed"]) == (0, 1)
    assert report["start_error_s"]["median_abs"] is None


def test_calm_stream_events() -> None:
    calms = [calm(20), calm(20, burst_at=5), calm(20), calm(40, burst_at=10)]
    report = calm_stream_events(calms, FPS, RULE, seed=3)
    assert report["false_events"] == 2
    assert report["hours"] == pytest.approx(100 / FPS / 3600, abs=1e-4)


def test_too_few_calm_clips() -> None:
    with pytest.raises(ValueError, match="no-fight"):
        compose_streams([fight()], [calm()], FPS, RULE)
