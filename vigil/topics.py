"""Every topic on the bus, with the one message type it carries.

Keys are camera ids (job ids for the job topics). A compacted topic keeps the latest record of each
key (Kafka's `cleanup.policy=compact`); an empty value there deletes the key.
"""

from dataclasses import dataclass

from google.protobuf.message import Message

from vigil.v1 import (
    cameras_pb2,
    dead_letters_pb2,
    detections_pb2,
    events_pb2,
    frames_pb2,
    jobs_pb2,
    track_state_pb2,
    tracks_pb2,
    verdicts_pb2,
)


@dataclass(frozen=True)
class Topic:
    name: str
    message: type[Message]
    compacted: bool = False


FRAMES = Topic("frames", frames_pb2.Frame)
DETECTIONS = Topic("detections", detections_pb2.Detections)
TRACKS = Topic("tracks", tracks_pb2.Tracks)
TRACK_STATE = Topic("track-state", track_state_pb2.TrackerState, compacted=True)
VERDICTS = Topic("verdicts", verdicts_pb2.Verdicts)
EVENTS = Topic("events", events_pb2.Event)
JOBS = Topic("jobs", jobs_pb2.UploadJob)
JOB_STATUS = Topic("job-status", jobs_pb2.JobStatus)
CAMERA_COMMANDS = Topic("camera-commands", cameras_pb2.CameraCommand)
CAMERA_STATUS = Topic("camera-status", cameras_pb2.CameraStatus)
DEAD_LETTERS = Topic("dead-letters", dead_letters_pb2.DeadLetter)

ALL = (
    FRAMES,
    DETECTIONS,
    TRACKS,
    TRACK_STATE,
    VERDICTS,
    EVENTS,
    JOBS,
    JOB_STATUS,
    CAMERA_COMMANDS,
    CAMERA_STATUS,
    DEAD_LETTERS,
)

COMPACTED = frozenset(t.name for t in ALL if t.compacted)
