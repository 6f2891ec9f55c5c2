"""`vigil analyze`: one video through the whole pipeline; a JSON report and an annotated video.

Frame numbers: `start_frame`/`end_frame` index the analysed frames (the ingest's analysis rate,
as the events on the bus carry them); `start_video_frame`/`end_video_frame` are the matching frame
numbers of the video file itself; times are positions in the video, in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from services.classify.config import ClassifyConfig
from services.classify.dataset import video_meta
from services.classify.evaluate import verdict_peaks
from services.classify.events import opening_score
from services.classify.features import FEATURE_VERSION
from services.classify.pipeline import PipelineResult
from services.ingest.frames import sampled_frames
from services.ingest.sources import SourceSpec, open_capture, video_info
from vigil.v1.events_pb2 import Event, EventKind
from vigil.v1.verdicts_pb2 import Verdicts

RED = (0, 0, 255)  # BGR
GREEN = (0, 200, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def final_events(events: Sequence[Event]) -> list[Event]:
    """The last update of every event (its close, once the source ended), by start frame."""
    latest: dict[str, Event] = {}
    for event in events:
        previous = latest.get(event.event_id)
        if previous is None or event.kind == EventKind.EVENT_KIND_CLOSED or (
            previous.kind != EventKind.EVENT_KIND_CLOSED
        ):
            latest[event.event_id] = event
    return sorted(latest.values(), key=lambda e: e.start_frame)


def analysis_report(
    result: PipelineResult, config: ClassifyConfig, source_fps: float
) -> dict[str, Any]:
    def video_frame(position_s: float) -> int:
        return round(position_s * source_fps) if source_fps > 0 else 0

    events = [
        {
            "event_id": e.event_id,
            "closed": e.kind == EventKind.EVENT_KIND_CLOSED,
            "start_frame": e.start_frame,
            "start_video_frame": video_frame(e.start_position_s),
            "start_time_s": round(e.start_position_s, 3),
            "end_frame": e.end_frame,
            "end_video_frame": video_frame(e.end_position_s),
            "end_time_s": round(e.end_position_s, 3),
            "culprits": [c.track_id for c in e.culprits],
            "culprit_scores": [
                {"track_id": c.track_id, "max_score": round(c.max_score, 4),
                 "mean_score": round(c.mean_score, 4)}
                for c in e.culprits
            ],
            "max_score": round(e.max_score, 4),
        }
        for e in final_events(result.events)
    ]
    peaks = verdict_peaks(result.verdicts)
    people: dict[int, dict[str, Any]] = {}
    for verdicts in sorted(result.verdicts, key=lambda v: v.frame.frame_index):
        for person in verdicts.people:
            entry = people.setdefault(person.track_id, {
                "track_id": person.track_id, "first_frame": verdicts.frame.frame_index,
                "last_frame": 0, "max_score": 0.0, "violent_frames": 0})
            entry["last_frame"] = verdicts.frame.frame_index
            entry["max_score"] = round(max(entry["max_score"], person.score), 4)
            entry["violent_frames"] += int(person.violent)
    return {
        "video": str(result.video),
        "violent": bool(events),
        "score": round(opening_score(peaks, config.k, config.n), 4),
        "events": events,
        "people": sorted(people.values(), key=lambda p: p["track_id"]),
        "frames": len(result.verdicts),
        "analysis_fps": result.analysis_fps,
        "duration_s": round(result.duration_s, 3),
        "seconds": round(result.seconds, 2),
        "model": str(config.model_path),
        "feature_version": FEATURE_VERSION,
        "event_rule": {"on_threshold": config.on_threshold, "k": config.k, "n": config.n,
                       "quiet_seconds": config.quiet_seconds},
    }


def draw_verdicts(image: np.ndarray, verdicts: Verdicts | None, in_event: bool) -> np.ndarray:
    """Red boxes for violent people, green for the others, each with its track id and score."""
    out = image.copy()
    if verdicts is not None:
        sx = out.shape[1] / verdicts.frame.width if verdicts.frame.width else 1.0
        sy = out.shape[0] / verdicts.frame.height if verdicts.frame.height else 1.0
        thickness = max(2, round(out.shape[0] / 300))
        scale = max(0.5, out.shape[0] / 900)
        for person in verdicts.people:
            colour = RED if person.violent else GREEN
            b = person.box
            p1 = (round(b.x1 * sx), round(b.y1 * sy))
            p2 = (round(b.x2 * sx), round(b.y2 * sy))
            cv2.rectangle(out, p1, p2, colour, thickness)
            label = f"#{person.track_id} {person.score:.2f}"
            cv2.putText(out, label, (p1[0], max(12, p1[1] - 6)), _FONT, scale, colour,
                        max(1, thickness // 2), cv2.LINE_AA)
    if in_event:
        cv2.putText(out, "VIOLENCE", (10, 30), _FONT, 1.0, RED, 2, cv2.LINE_AA)
    return out


def write_annotated(
    video: Path, result: PipelineResult, out: Path, analysis_fps: float
) -> int:
    """The video at the analysis rate (the frames the pipeline judged), boxes drawn; H.264 MP4.
    Returns the number of frames written."""
    from services.repository.encode import ClipWriter

    by_index = {v.frame.frame_index: v for v in result.verdicts}
    spans = [(e.start_frame, e.end_frame) for e in final_events(result.events)]
    capture = open_capture(SourceSpec("file", str(video)))
    try:
        info = video_info(capture)
        out.parent.mkdir(parents=True, exist_ok=True)
        writer: Any = None
        written = 0
        # The same sampler as ingest: the i-th frame here is analysed frame i.
        for index, frame in enumerate(sampled_frames(capture, analysis_fps, info.fps, live=False)):
            if writer is None:
                height, width = frame.image.shape[:2]
                writer = ClipWriter(out, analysis_fps, width, height)
            in_event = any(start <= index <= end for start, end in spans)
            writer.write(draw_verdicts(frame.image, by_index.get(index), in_event))
            written += 1
        if writer is not None:
            writer.close()
        return written
    finally:
        capture.release()


def source_fps(video: Path) -> float:
    return video_meta(video).fps
