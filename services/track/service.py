"""The track service: `detections` -> `tracks`, one DeepSORT tracker per camera.

Tracker state lives with the worker that owns the camera's partition. A camera seen for the
first time (or again after its upload ended) starts a fresh tracker with its own id counter.
"""

from __future__ import annotations

import asyncio

import numpy as np

from services.track.config import TrackConfig
from services.track.deepsort.tracker import Tracker, TrackOutput
from vigil import topics
from vigil.bus import Bus
from vigil.runtime.metrics import FRAMES_PROCESSED
from vigil.runtime.worker import ConsumeLoop, Delivery, per_message
from vigil.v1.detections_pb2 import Box, Detections
from vigil.v1.tracks_pb2 import TrackedPerson, Tracks


def detection_arrays(message: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """boxes (n, 4), scores (n,), embeddings (n, d) or None when the detector sent none."""
    people = message.people
    boxes = np.array([[p.box.x1, p.box.y1, p.box.x2, p.box.y2] for p in people],
                     np.float32).reshape(-1, 4)
    scores = np.array([p.score for p in people], np.float32)
    sizes = {len(p.embedding) for p in people}
    embeddings = None
    if people and sizes != {0} and len(sizes) == 1:
        embeddings = np.array([list(p.embedding) for p in people], np.float32)
    return boxes, scores, embeddings


def tracks_message(message: Detections, outputs: list[TrackOutput]) -> Tracks:
    tracks = Tracks(frame=message.frame)
    for output in outputs:
        x1, y1, x2, y2 = (float(v) for v in output.box)
        person = TrackedPerson(track_id=output.track_id, box=Box(x1=x1, y1=y1, x2=x2, y2=y2))
        if output.detection_index is not None:
            detection = message.people[output.detection_index]
            person.score = detection.score
            person.keypoints.extend(detection.keypoints)
        tracks.people.append(person)
    return tracks


class TrackService:
    name = "track"

    def __init__(self, bus: Bus, config: TrackConfig) -> None:
        self.config = config
        self.trackers: dict[str, Tracker] = {}
        self.loop: ConsumeLoop[Detections] = ConsumeLoop(
            bus, service=self.name, topic=topics.DETECTIONS, group="track",
            handle=per_message(self._handle),
        )

    def is_ready(self) -> bool:
        return self.loop.started.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        await self.loop.run(stop)

    async def _handle(self, delivery: Delivery[Detections]) -> None:
        message = delivery.message
        camera = message.frame.camera_id
        tracker = self.trackers.setdefault(camera, Tracker(self.config))
        outputs = tracker.update(*detection_arrays(message))
        await self.loop.publisher.publish(topics.TRACKS, camera, tracks_message(message, outputs))
        FRAMES_PROCESSED.labels(self.name, camera).inc()
        if message.frame.end_of_stream:
            del self.trackers[camera]  # the upload is over; free its state
