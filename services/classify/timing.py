"""How well events line up with the truth: streams composed of real clips (pure).

Each stream is no-fight, fight, no-fight: three real clips one after the other, so the true
fight starts and ends at the cuts. A clip's per-frame peak scores (the highest person score of
each analysed frame) come from a model that did not see the clip (cross-validation: out-of-fold
scores), and the stream's frames go through the service's `EventTracker` with the configured
hysteresis and quiet period. Person windows never span a cut (tracks end there), so a clip's
frame scores are the same alone or inside a stream.

Reported: how far the detected start (first violent frame) and end (last violent frame) of the
event that overlaps the fight are from the cuts, the events that touch no fight (false events
per hour of the streams' no-fight parts), and the events on all no-fight clips played one
after the other (false events per hour of ordinary video).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.classify.events import EventKind, EventTracker


@dataclass(frozen=True)
class EventRule:
    on_threshold: float = 0.5
    k: int = 3
    n: int = 5
    quiet_seconds: float = 2.0
    off_threshold: float | None = None


def stream_events(peaks: np.ndarray, fps: float, rule: EventRule) -> list[tuple[int, int]]:
    """(first, last) violent frame of every event the tracker reports on a stream."""
    tracker = EventTracker("timing", rule.on_threshold, rule.k, rule.n, rule.quiet_seconds,
                           rule.off_threshold)
    updates = [u for i, p in enumerate(peaks) for u in tracker.update(i, i / fps, {1: float(p)})]
    updates += tracker.flush()
    return [(u.start_frame, u.last_violent_frame) for u in updates if u.kind is EventKind.CLOSED]


@dataclass(frozen=True)
class StreamResult:
    fight: tuple[int, int]  # first and last frame of the fight clip in the stream
    events: tuple[tuple[int, int], ...]
    frames: int

    def matched(self, slack: int) -> tuple[int, int] | None:
        """The first event overlapping the fight (give or take `slack` frames)."""
        start, end = self.fight
        for event in self.events:
            if event[0] <= end + slack and event[1] >= start - slack:
                return event
        return None

    def false_events(self, slack: int) -> int:
        start, end = self.fight
        return sum(1 for e in self.events if e[1] < start - slack or e[0] > end + slack)


def compose_streams(
    fight_peaks: Sequence[np.ndarray],
    calm_peaks: Sequence[np.ndarray],
    fps: float,
    rule: EventRule,
    seed: int = 0,
    calm_per_side: int = 3,
) -> list[StreamResult]:
    """One stream per fight clip: `calm_per_side` different no-fight clips, the fight, then
    `calm_per_side` more, drawn with the seed. Several calm clips per side make each calm part
    longer than the quiet period, so an event there is told apart from the fight's."""
    if len(calm_peaks) < 2 * calm_per_side:
        raise ValueError(f"composing streams needs {2 * calm_per_side} no-fight clips")
    rng = np.random.default_rng(seed)
    out = []
    for fight in fight_peaks:
        calm = rng.choice(len(calm_peaks), size=2 * calm_per_side, replace=False)
        before = [calm_peaks[i] for i in calm[:calm_per_side]]
        after = [calm_peaks[i] for i in calm[calm_per_side:]]
        peaks = np.concatenate([*before, fight, *after])
        start = sum(len(p) for p in before)
        out.append(StreamResult((start, start + len(fight) - 1),
                                tuple(stream_events(peaks, fps, rule)), len(peaks)))
    return out


def calm_stream_events(
    calm_peaks: Sequence[np.ndarray], fps: float, rule: EventRule, seed: int = 0
) -> dict[str, Any]:
    """Every no-fight clip once, one after the other in a seeded order: a stretch of ordinary
    video. Every event on it is false; reported per hour."""
    order = np.random.default_rng(seed).permutation(len(calm_peaks))
    peaks = np.concatenate([calm_peaks[i] for i in order]) if len(order) else np.zeros(0)
    events = len(stream_events(peaks, fps, rule))
    hours = len(peaks) / fps / 3600
    return {"clips": len(calm_peaks), "hours": round(hours, 4), "false_events": events,
            "false_events_per_hour": round(events / hours, 1) if hours else None}


def _stats(errors: Sequence[float]) -> dict[str, float | None]:
    if not errors:
        return {"median_abs": None, "worst_abs": None, "median_signed": None}
    values = np.asarray(errors)
    return {
        "median_abs": round(float(np.median(np.abs(values))), 3),
        "worst_abs": round(float(np.max(np.abs(values))), 3),
        "median_signed": round(float(np.median(values)), 3),
    }


def timing_report(streams: Sequence[StreamResult], fps: float, rule: EventRule) -> dict[str, Any]:
    """Start/end errors in seconds (signed: negative = early) and false events per hour."""
    slack = round(rule.quiet_seconds * fps)  # an event within the quiet period of the fight
    # belongs to it (hysteresis may start it early or end it late); beyond that it is false.
    starts, ends = [], []
    for stream in streams:
        event = stream.matched(slack)
        if event is not None:
            starts.append((event[0] - stream.fight[0]) / fps)
            ends.append((event[1] - stream.fight[1]) / fps)
    false = sum(s.false_events(slack) for s in streams)
    calm_hours = sum(s.frames - (s.fight[1] - s.fight[0] + 1) for s in streams) / fps / 3600
    return {
        "streams": len(streams),
        "fights_detected": len(starts),
        "fights_missed": len(streams) - len(starts),
        "start_error_s": _stats(starts),
        "end_error_s": _stats(ends),
        "false_events": false,
        "no_fight_hours": round(calm_hours, 4),
        "false_events_per_hour": round(false / calm_hours, 2) if calm_hours else None,
        "rule": {"on_threshold": rule.on_threshold, "k": rule.k, "n": rule.n,
                 "quiet_seconds": rule.quiet_seconds},
        "fps": fps,
    }
