"""Between the wire and the pure core: `Tracks` -> `FrameTracks`, scores -> `Verdicts`/`Event`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from services.classify.events import EventKind, EventUpdate
from services.classify.features import NUM_KEYPOINTS, FrameTracks, TrackedPerson
from vigil.v1.detections_pb2 import Box, Motion
from vigil.v1.events_pb2 import Culprit, Event
from vigil.v1.events_pb2 import EventKind as EventKindProto
from vigil.v1.frames_pb2 import FrameRef
from vigil.v1.tracks_pb2 import Tracks
from vigil.v1.verdicts_pb2 import PersonVerdict, Verdicts

EVENT_KINDS = {
    EventKind.OPENED: EventKindProto.EVENT_KIND_OPENED,
    EventKind.UPDATED: EventKindProto.EVENT_KIND_UPDATED,
    EventKind.CLOSED: EventKindProto.EVENT_KIND_CLOSED,
}


def frame_tracks(message: Tracks) -> FrameTracks:
    """The core's view of one tracks message; time is the position in the source (seconds).

    A person sent without keypoints (a coasting track) gets all-zero keypoints, which the
    features treat as not confident.
    """
    people = []
    for person in message.people:
        box = np.array([person.box.x1, person.box.y1, person.box.x2, person.box.y2])
        keypoints = np.zeros((NUM_KEYPOINTS, 3))
        if len(person.keypoints) == NUM_KEYPOINTS:
            keypoints = np.array([[k.x, k.y, k.score] for k in person.keypoints])
        people.append(TrackedPerson(int(person.track_id), box, keypoints,
                                    _motion(person.motion) if person.HasField("motion") else None))
    frame = message.frame
    scene = _motion(message.scene_motion) if message.HasField("scene_motion") else None
    return FrameTracks(frame.position_s, int(frame.width), int(frame.height), tuple(people), scene)


def _motion(motion: Motion) -> np.ndarray:
    return np.array([motion.mean_speed, motion.p90_speed, motion.direction_entropy])


def verdicts_message(
    message: Tracks, scores: Mapping[int, float], threshold: float
) -> Verdicts:
    """The per-frame overlay: every tracked person of the frame with its score (0 if unscored)."""
    verdicts = Verdicts(frame=message.frame)
    for person in message.people:
        score = float(scores.get(int(person.track_id), 0.0))
        verdicts.people.append(PersonVerdict(
            track_id=person.track_id, box=Box(x1=person.box.x1, y1=person.box.y1,
                                              x2=person.box.x2, y2=person.box.y2),
            violent=score >= threshold, score=score,
        ))
    return verdicts


def event_message(update: EventUpdate, ref: FrameRef) -> Event:
    """An event update on the wire; `ref` is any frame of the source (kind and job id)."""
    event = Event(
        event_id=update.event_id,
        kind=EVENT_KINDS[update.kind],
        camera_id=update.camera_id,
        source_kind=ref.source_kind,
        job_id=ref.job_id,
        start_frame=update.start_frame,
        start_time_us=round(update.start_time_s * 1e6),
        start_position_s=update.start_position_s or 0.0,
        end_frame=update.last_violent_frame,
        end_time_us=round(update.last_violent_time_s * 1e6),
        end_position_s=update.last_violent_position_s or 0.0,
        max_score=update.peak_score,
    )
    for culprit in update.culprits:
        event.culprits.append(Culprit(track_id=culprit.track_id, max_score=culprit.max_score,
                                      mean_score=culprit.mean_score))
    return event
