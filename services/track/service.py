"""The track service: `detections` -> `tracks`, one DeepSORT tracker per camera.

Tracker state lives with the worker that owns the camera's partition, and is kept resumable on
the compacted `track-state` topic: the owner publishes a snapshot of a camera's tracker on its
first frame and every `snapshot_every` frames, and a tombstone when its stream ends. A worker that
gets a record of a camera it holds no tracker for (after a rebalance, a crash, a restart) restores
the latest snapshot and replays the camera's detections after it without publishing (the old
owner published those), so ids go on where they were. A camera with no snapshot, or whose stream
ended, starts a fresh tracker with its own id counter, from 1.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import DecodeError

from services.track.changelog import LatestState
from services.track.config import TrackConfig
from services.track.deepsort.tracker import Tracker, TrackOutput
from services.track.snapshot import restore, snapshot
from vigil import topics
from vigil.bus import Bus, Record
from vigil.runtime.metrics import FRAMES_PROCESSED
from vigil.runtime.worker import ConsumeLoop, Delivery, per_message
from vigil.v1.detections_pb2 import Box, Detections
from vigil.v1.track_state_pb2 import TrackerState
from vigil.v1.tracks_pb2 import TrackedPerson, Tracks

log = logging.getLogger(__name__)


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
    if message.HasField("scene_motion"):
        tracks.scene_motion.CopyFrom(message.scene_motion)
    for output in outputs:
        x1, y1, x2, y2 = (float(v) for v in output.box)
        person = TrackedPerson(track_id=output.track_id, box=Box(x1=x1, y1=y1, x2=x2, y2=y2))
        if output.detection_index is not None:
            detection = message.people[output.detection_index]
            person.score = detection.score
            person.keypoints.extend(detection.keypoints)
            if detection.HasField("motion"):
                person.motion.CopyFrom(detection.motion)
        tracks.people.append(person)
    return tracks


@dataclass
class Camera:
    """One camera's tracker and where it stands in the `detections` stream."""

    tracker: Tracker
    partition: int
    offset: int  # the last detections record the tracker reflects; -1: none
    snapshot_in: int  # frames to handle until the next snapshot


class TrackService:
    name = "track"

    def __init__(self, bus: Bus, config: TrackConfig) -> None:
        self.bus = bus
        self.config = config
        self.cameras: dict[str, Camera] = {}
        self.expected: dict[int, int] = {}  # detections partition -> the offset it continues at
        # Partitions whose `track-state` this worker has read since it took them over: their
        # other cameras' snapshots can only be its own from then on.
        self.state_read: set[int] = set()
        self.state = LatestState(bus)
        self.loop: ConsumeLoop[Detections] = ConsumeLoop(
            bus, service=self.name, topic=topics.DETECTIONS, group="track",
            handle=per_message(self._handle),
        )

    def is_ready(self) -> bool:
        return self.loop.started.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        await self.loop.run(stop)

    async def _handle(self, delivery: Delivery[Detections]) -> None:
        message, record = delivery.message, delivery.record
        camera_id = message.frame.camera_id
        if self.expected.get(record.partition) != record.offset:
            self._take_over(record)
        camera = self.cameras.get(camera_id) or await self._resume(camera_id, record)
        # At or before the tracker's offset: the previous owner handled and published it.
        if record.offset > camera.offset:
            try:
                await self._track(camera_id, camera, message, record)
            except BaseException:
                # Maybe half done: a retry resumes from the stream, this worker's own latest
                # snapshots included.
                self.cameras.pop(camera_id, None)
                self.state_read.discard(record.partition)
                raise
        self.expected[record.partition] = record.offset + 1

    async def _track(
        self, camera_id: str, camera: Camera, message: Detections, record: Record
    ) -> None:
        outputs = camera.tracker.update(*detection_arrays(message))
        camera.offset = record.offset
        publisher = self.loop.publisher
        await publisher.publish(topics.TRACKS, camera_id, tracks_message(message, outputs))
        FRAMES_PROCESSED.labels(self.name, camera_id).inc()
        if message.frame.end_of_stream:
            del self.cameras[camera_id]  # the upload is over; free its state
            # An empty message is an empty value, a tombstone: the camera id's next stream
            # starts fresh, wherever it lands.
            await publisher.publish(topics.TRACK_STATE, camera_id, TrackerState())
            await self.state.forget(camera_id)
            return
        camera.snapshot_in -= 1
        if camera.snapshot_in <= 0:
            state = snapshot(camera.tracker, record.partition, record.offset, message.frame)
            await publisher.publish(topics.TRACK_STATE, camera_id, state)
            camera.snapshot_in = self.config.snapshot_every

    def _take_over(self, record: Record) -> None:
        """The partition is new to this worker, or does not go on where the worker left it (a
        rebalance took it away and gave it back after another worker handled some of it, or the
        group rewound to its last commit). Other workers may have written its cameras' state, so
        the trackers held resume from the stream."""
        self.state_read.discard(record.partition)
        stale = [c for c, camera in self.cameras.items() if camera.partition == record.partition]
        for camera_id in stale:
            del self.cameras[camera_id]
        log.info(
            "partition taken over",
            extra={"partition": record.partition, "offset": record.offset,
                   "left_at": self.expected.get(record.partition), "cameras_dropped": len(stale)},
        )

    async def _resume(self, camera_id: str, record: Record) -> Camera:
        """The camera's tracker from its latest snapshot and the detections after it, up to the
        record in hand; a fresh one when it has no snapshot or its stream ended."""
        value = await self.state.get(camera_id, refresh=record.partition not in self.state_read)
        self.state_read.add(record.partition)
        # A fresh camera's first frame is snapshotted at once: if it moves before its next
        # snapshot, the new owner resumes rather than restarting the ids.
        camera = Camera(Tracker(self.config), record.partition, -1, snapshot_in=1)
        outcome = "fresh" if value is None else "stream ended: fresh"
        if value:
            try:
                state = TrackerState.FromString(value)
                tracker = restore(state, self.config)
            except (DecodeError, ValueError) as exc:
                outcome = f"snapshot unusable, fresh: {exc}"
            else:
                # Offsets count in the partition the snapshot was taken in (the same, unless
                # the topic's partitions changed: then the snapshot alone, without replay).
                same = state.detections_partition == record.partition
                camera = Camera(tracker, record.partition,
                                state.detections_offset if same else -1, self.config.snapshot_every)
                outcome = "restored" if same else "restored, partitions changed: no replay"
        snapshot_offset = camera.offset
        replayed, unread = await self._replay(camera_id, camera, record.offset)
        self.cameras[camera_id] = camera
        log.log(
            logging.WARNING if unread else logging.INFO,
            "camera tracker resumed",
            extra={"camera": camera_id, "outcome": outcome, "partition": record.partition,
                   "offset": record.offset, "snapshot_offset": snapshot_offset,
                   "replayed": replayed, "unread": unread, "next_id": camera.tracker.next_id},
        )
        return camera

    async def _replay(self, camera_id: str, camera: Camera, until: int) -> tuple[int, int]:
        """Feed the tracker the camera's records after its offset and before `until`, publishing
        nothing. Returns how many were replayed, and how many records of the partition were left
        unread because they lie beyond max_replay_records (ids may then restart for some)."""
        if camera.offset < 0 or camera.offset + 1 >= until:
            return 0, 0
        start = max(camera.offset + 1, until - self.config.max_replay_records)
        unread = start - (camera.offset + 1)
        replayed = 0
        for record in await self.bus.read(topics.DETECTIONS.name, camera.partition, start, until):
            if record.key != camera_id:
                continue
            try:
                message = Detections.FromString(record.value)
                camera.tracker.update(*detection_arrays(message))
            except (DecodeError, ValueError):
                continue  # the owner dead-lettered it: it never reached the tracker
            camera.offset = record.offset
            replayed += 1
            if message.frame.end_of_stream:  # its tombstone is missing; the next stream is new
                camera.tracker = Tracker(self.config)
        return replayed, unread
