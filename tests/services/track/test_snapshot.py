"""A tracker through a `track-state` snapshot and back goes on exactly as the original."""

from __future__ import annotations

import numpy as np
import pytest

from services.track.config import TrackConfig
from services.track.deepsort.tracker import Tracker, TrackOutput
from services.track.evaluate import Frame
from services.track.snapshot import restore, snapshot
from tests.services.track.people import tud
from vigil.v1.frames_pb2 import FrameRef
from vigil.v1.track_state_pb2 import TrackerState


def run(tracker: Tracker, frames: tuple[Frame, ...]) -> list[list[TrackOutput]]:
    return [tracker.update(f.boxes, f.scores, f.embeddings) for f in frames]


def same(a: list[list[TrackOutput]], b: list[list[TrackOutput]]) -> bool:
    """Bit for bit: ids, boxes, matched detections, ages."""
    return len(a) == len(b) and all(
        [(o.track_id, o.box.tobytes(), o.detection_index, o.age, o.time_since_update) for o in x]
        == [(o.track_id, o.box.tobytes(), o.detection_index, o.age, o.time_since_update) for o in y]
        for x, y in zip(a, b, strict=True)
    )


def through_the_wire(tracker: Tracker, config: TrackConfig) -> Tracker:
    message = snapshot(tracker, 3, 1234, FrameRef(camera_id="c", frame_index=9))
    decoded = TrackerState.FromString(message.SerializeToString())
    assert (decoded.detections_partition, decoded.detections_offset) == (3, 1234)
    assert decoded.frame.frame_index == 9
    return restore(decoded, config)


@pytest.mark.parametrize("cut", [1, 25, 90])
@pytest.mark.parametrize("gallery_size", [100, 4])  # 4: the galleries wrap around their ring
def test_restored_tracker_continues_exactly(cut: int, gallery_size: int) -> None:
    frames = tud()
    config = TrackConfig(gallery_size=gallery_size)
    original = Tracker(config)
    run(original, frames[:cut])
    restored = through_the_wire(original, config)
    assert restored.next_id == original.next_id
    assert len(restored.tracks) == len(original.tracks) > 0
    after = frames[cut:]
    expected = run(original, after)
    assert sum(len(o) for o in expected) > 100, "people are tracked after the cut"
    assert same(run(restored, after), expected)
    # ... and so does every part of the state, the galleries' rings and the counters included.
    assert snapshot(restored, 0, 0, FrameRef()) == snapshot(original, 0, 0, FrameRef())


def test_an_untouched_tracker_round_trips() -> None:
    config = TrackConfig()
    restored = through_the_wire(Tracker(config), config)
    assert restored.next_id == 1 and restored.tracks == []


def test_galleries_too_big_for_a_message_keep_their_newest_embeddings() -> None:
    frames = tud()
    config = TrackConfig()
    original = Tracker(config)
    run(original, frames[:60])
    whole = snapshot(original, 0, 0, FrameRef())
    assert not whole.galleries_trimmed
    limit = whole.ByteSize() // 3
    cut = snapshot(original, 0, 0, FrameRef(), max_bytes=limit)
    assert cut.galleries_trimmed and cut.ByteSize() <= limit
    kept = max(t.gallery_rows for t in cut.tracks)
    for track, message in zip(original.tracks, cut.tracks, strict=True):
        newest = track.gallery.newest(kept)
        assert message.gallery == newest.astype("<f4").tobytes()
    restored = restore(cut, config)
    outputs = run(restored, frames[60:])
    assert [o.track_id for o in outputs[0]] == [o.track_id for o in run(original, frames[60:61])[0]]
    assert all(len(t.gallery) <= config.gallery_size for t in restored.tracks)


def test_a_snapshot_that_does_not_fit_the_config_is_refused() -> None:
    frames = tud()
    original = Tracker(TrackConfig(gallery_size=50))
    run(original, frames[:80])
    message = snapshot(original, 0, 0, FrameRef())
    assert max(t.gallery_rows for t in message.tracks) > 10
    with pytest.raises(ValueError, match="not a gallery of 10"):
        restore(message, TrackConfig(gallery_size=10))
    broken = TrackerState()
    broken.CopyFrom(message)
    del broken.tracks[0].mean[:]
    with pytest.raises(ValueError, match="8-d"):
        restore(broken, TrackConfig(gallery_size=50))
    broken.CopyFrom(message)
    broken.next_id = 1
    with pytest.raises(ValueError, match="next id"):
        restore(broken, TrackConfig(gallery_size=50))


def test_newest_embeddings_come_oldest_first_across_the_ring() -> None:
    tracker = Tracker(TrackConfig(gallery_size=3))
    box = np.array([[10.0, 10.0, 60.0, 110.0]])
    for n in range(5):
        embedding = np.zeros((1, 8))
        embedding[0, n] = 1
        tracker.update(box, np.ones(1), embedding)
    (track,) = tracker.tracks
    assert [int(np.argmax(row)) for row in track.gallery.newest(3)] == [2, 3, 4]
    assert [int(np.argmax(row)) for row in track.gallery.newest(2)] == [3, 4]
