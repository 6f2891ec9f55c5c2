"""Detections of real walking people for the track tests: the TUD ground truth (MOT format, shipped
with motmetrics), turned into detections by jitter, drops, false positives and simulated
appearance embeddings (services/track/evaluate.py), with a fixed seed."""

from __future__ import annotations

from functools import cache

import numpy as np

from services.track.config import TrackConfig
from services.track.deepsort.tracker import Tracker
from services.track.evaluate import Frame, Perturbation, tud_sequences
from services.track.service import detection_arrays, tracks_message
from vigil.v1.detections_pb2 import Box, Detections, Person
from vigil.v1.frames_pb2 import FrameRef
from vigil.v1.tracks_pb2 import Tracks


@cache
def tud(sequence: str = "TUD-Stadtmitte") -> tuple[Frame, ...]:
    return tuple(tud_sequences(seed=1, perturbation=Perturbation())[sequence])


def detections(camera: str, frames: tuple[Frame, ...], first_index: int = 0) -> list[Detections]:
    """One Detections message per frame; the last one ends the stream."""
    messages = []
    for n, frame in enumerate(frames):
        message = Detections(frame=FrameRef(camera_id=camera, frame_index=first_index + n,
                                            end_of_stream=n == len(frames) - 1))
        assert frame.embeddings is not None
        for box, score, embedding in zip(frame.boxes, frame.scores, frame.embeddings,
                                         strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            message.people.append(Person(box=Box(x1=x1, y1=y1, x2=x2, y2=y2), score=float(score),
                                         embedding=embedding.astype(np.float32).tolist()))
        messages.append(message)
    return messages


def uninterrupted(messages: list[Detections], config: TrackConfig) -> list[Tracks]:
    """The tracks one tracker that saw every frame publishes, as the service builds them."""
    tracker = Tracker(config)
    return [tracks_message(m, tracker.update(*detection_arrays(m))) for m in messages]


def identities(tracks: Tracks) -> list[tuple[int, tuple[float, ...]]]:
    """Each person's id and box in one frame: what must not change when a camera moves."""
    return sorted((p.track_id, (p.box.x1, p.box.y1, p.box.x2, p.box.y2)) for p in tracks.people)
