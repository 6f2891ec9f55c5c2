"""The track service: detections in, tracks with stable per-camera ids out."""

from __future__ import annotations

import asyncio

import numpy as np

from services.track.config import TrackConfig
from services.track.service import TrackService, detection_arrays
from vigil import topics
from vigil.bus import MemoryBus
from vigil.v1.detections_pb2 import Box, Detections, Keypoint, Motion, Person
from vigil.v1.frames_pb2 import FrameRef
from vigil.v1.tracks_pb2 import Tracks


def detections(camera: str, index: int, xs: list[float], last: bool = False) -> Detections:
    message = Detections(frame=FrameRef(camera_id=camera, frame_index=index, end_of_stream=last),
                         scene_motion=Motion(mean_speed=index))
    for n, x in enumerate(xs):
        embedding = np.zeros(8, np.float32)
        embedding[n] = 1
        message.people.append(Person(
            box=Box(x1=x, y1=100, x2=x + 50, y2=250), score=0.9,
            keypoints=[Keypoint(x=x + 25, y=120, score=0.8)] * 17, embedding=embedding.tolist(),
            motion=Motion(mean_speed=10 * n + index) if n == 0 else None,
        ))
    return message


def test_detection_arrays_handle_missing_embeddings() -> None:
    message = detections("c", 0, [10, 200])
    boxes, scores, embeddings = detection_arrays(message)
    assert boxes.shape == (2, 4) and scores.shape == (2,)
    assert embeddings is not None and embeddings.shape == (2, 8)
    del message.people[0].embedding[:]
    assert detection_arrays(message)[2] is None
    assert detection_arrays(Detections())[0].shape == (0, 4)


async def test_ids_are_stable_per_camera_and_freed_at_end_of_stream() -> None:
    bus = MemoryBus(partitions=2)
    service = TrackService(bus, TrackConfig(n_init=2))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    for index in range(6):
        for camera in ("a", "b"):
            message = detections(camera, index, [10 + 5 * index, 300 - 5 * index],
                                 last=camera == "b" and index == 5)
            await bus.publish(topics.DETECTIONS.name, camera, message.SerializeToString())
    consumer = bus.consumer([topics.TRACKS.name], "reader")
    await consumer.start()
    tracks: list[Tracks] = []
    while len(tracks) < 12:
        tracks += [Tracks.FromString(r.value) for r in await consumer.poll(20, 1)]
    stop.set()
    await task
    for camera in ("a", "b"):
        mine = [t for t in tracks if t.frame.camera_id == camera]
        confirmed = [t for t in mine if t.people]
        ids = {tuple(sorted(p.track_id for p in t.people)) for t in confirmed}
        assert ids == {(1, 2)}, "each camera counts its own ids, stable over frames"
        assert all(len(p.keypoints) == 17 for t in confirmed for p in t.people)
        # Pixel motion travels with the matched detection; the scene's with the frame.
        for t in confirmed:
            moving = [p for p in t.people if p.HasField("motion")]
            assert [p.motion.mean_speed for p in moving] == [t.frame.frame_index]
            assert t.scene_motion.mean_speed == t.frame.frame_index
    assert set(service.cameras) == {"a"}, "camera b's upload ended: its state is freed"


async def collect_tracks(bus: MemoryBus, count: int) -> list[Tracks]:
    consumer = bus.consumer([topics.TRACKS.name], f"reader-{count}")
    await consumer.start()
    tracks: list[Tracks] = []
    try:
        while len(tracks) < count:
            records = await consumer.poll(50, 5)
            assert records, f"{len(tracks)} of {count} tracks"
            tracks += [Tracks.FromString(r.value) for r in records]
    finally:
        await consumer.stop()
    return tracks


async def test_a_stream_that_ended_starts_fresh_on_any_worker() -> None:
    bus = MemoryBus(partitions=2)
    config = TrackConfig(n_init=2)
    for worker, xs in enumerate(([10, 200], [400, 600])):  # two uploads reusing camera id "a"
        service = TrackService(bus, config)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        for index in range(6):
            message = detections("a", index, [x + 5 * index for x in xs], last=index == 5)
            await bus.publish(topics.DETECTIONS.name, "a", message.SerializeToString())
        tracks = [t for t in await collect_tracks(bus, 6 * (worker + 1)) if t.frame.camera_id
                  == "a"][6 * worker:]
        stop.set()
        await task
        ids = {p.track_id for t in tracks for p in t.people}
        assert ids == {1, 2}, "the second upload, on another worker, starts fresh"
        assert service.cameras == {}
        partition = await bus.partition_of(topics.TRACK_STATE.name, "a")
        state = await bus.read(topics.TRACK_STATE.name, partition, 0,
                               await bus.end_offset(topics.TRACK_STATE.name, partition))
        assert [r.value for r in state if r.key == "a"] == [b""], "a tombstone is the last word"
