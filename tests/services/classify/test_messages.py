"""Wire messages <-> the pure core."""

from __future__ import annotations

import numpy as np
import pytest

from services.classify.events import Culprit, EventKind, EventUpdate
from services.classify.messages import event_message, frame_tracks, verdicts_message
from vigil.v1.detections_pb2 import Box, Keypoint, Motion
from vigil.v1.events_pb2 import EventKind as EventKindProto
from vigil.v1.frames_pb2 import FrameRef, SourceKind
from vigil.v1.tracks_pb2 import TrackedPerson, Tracks


def tracks() -> Tracks:
    ref = FrameRef(camera_id="cam", frame_index=7, position_s=0.7, width=640, height=360,
                   source_kind=SourceKind.SOURCE_KIND_LIVE)
    with_pose = TrackedPerson(track_id=3, box=Box(x1=1, y1=2, x2=3, y2=4),
                              keypoints=[Keypoint(x=i, y=i + 1, score=0.5) for i in range(17)],
                              motion=Motion(mean_speed=12, p90_speed=30, direction_entropy=0.25))
    coasting = TrackedPerson(track_id=9, box=Box(x1=5, y1=6, x2=7, y2=8))
    return Tracks(frame=ref, people=[with_pose, coasting],
                  scene_motion=Motion(mean_speed=2, p90_speed=5, direction_entropy=0.5))


def test_frame_tracks() -> None:
    frame = frame_tracks(tracks())
    assert (frame.time_s, frame.width, frame.height) == (pytest.approx(0.7), 640, 360)
    first, second = frame.people
    assert first.track_id == 3
    np.testing.assert_array_equal(first.box, [1, 2, 3, 4])
    np.testing.assert_allclose(first.keypoints[:, 0], np.arange(17))
    np.testing.assert_allclose(first.keypoints[:, 2], 0.5)
    assert second.track_id == 9 and not second.keypoints.any()  # no pose: not confident
    np.testing.assert_allclose(first.motion, [12, 30, 0.25])
    assert second.motion is None  # coasting: not measured, which is not "still"
    np.testing.assert_allclose(frame.scene_motion, [2, 5, 0.5])
    message = tracks()
    message.ClearField("scene_motion")
    assert frame_tracks(message).scene_motion is None


def test_verdicts_cover_every_person_and_threshold_the_score() -> None:
    verdicts = verdicts_message(tracks(), {3: 0.8}, threshold=0.5)
    assert verdicts.frame.frame_index == 7
    assert [(p.track_id, p.violent, round(p.score, 3)) for p in verdicts.people] == [
        (3, True, 0.8), (9, False, 0.0)]
    assert verdicts.people[1].box.x2 == 7


@pytest.mark.parametrize(
    ("kind", "expected"),
    [(EventKind.OPENED, EventKindProto.EVENT_KIND_OPENED),
     (EventKind.CLOSED, EventKindProto.EVENT_KIND_CLOSED)],
)
def test_event_message(kind: EventKind, expected: int) -> None:
    update = EventUpdate(kind=kind, event_id="e1", camera_id="cam", start_frame=4,
                         start_time_s=1_700_000_000.25, start_position_s=0.4,
                         last_violent_frame=9, last_violent_time_s=1_700_000_000.75,
                         last_violent_position_s=0.9,
                         culprits=(Culprit(3, 0.9, 0.7, 4),), peak_score=0.9)
    ref = FrameRef(source_kind=SourceKind.SOURCE_KIND_UPLOAD, job_id="job")
    event = event_message(update, ref)
    assert (event.event_id, event.kind, event.camera_id, event.job_id) == (
        "e1", expected, "cam", "job")
    assert (event.start_frame, event.end_frame) == (4, 9)
    assert (event.start_time_us, event.end_time_us) == (1_700_000_000_250_000,
                                                        1_700_000_000_750_000)
    assert (event.start_position_s, event.end_position_s) == (pytest.approx(0.4),
                                                              pytest.approx(0.9))
    assert [(c.track_id, round(c.max_score, 2)) for c in event.culprits] == [(3, 0.9)]
    assert event.source_kind == SourceKind.SOURCE_KIND_UPLOAD
