"""Between the wire and the arrays: frames in, detections out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.detect.backends.base import Person
from services.detect.motion import FlowStats, FrameMotion
from vigil.errors import BadInput
from vigil.images import decode_jpeg
from vigil.v1.detections_pb2 import Box, Detections, Keypoint, Motion
from vigil.v1.detections_pb2 import Person as PersonMessage
from vigil.v1.frames_pb2 import Frame, FrameRef


def decode_frame(frame: Frame) -> np.ndarray:
    """The frame's BGR pixels, or BadInput naming the frame for an empty or corrupt JPEG."""
    try:
        return decode_jpeg(frame.jpeg)
    except BadInput as exc:
        raise BadInput(f"frame {frame.ref.camera_id}#{frame.ref.frame_index}: {exc}") from exc


def detections_message(
    ref: FrameRef,
    people: Sequence[Person],
    embeddings: np.ndarray,
    motion: FrameMotion,
    model: str,
    ms: float,
) -> Detections:
    message = Detections(frame=ref, model=model, inference_ms=ms,
                         scene_motion=motion_message(motion.scene))
    for person, embedding, moved in zip(people, embeddings, motion.people, strict=True):
        x1, y1, x2, y2 = (float(v) for v in person.box)
        message.people.append(PersonMessage(
            box=Box(x1=x1, y1=y1, x2=x2, y2=y2),
            score=float(person.score),
            keypoints=[Keypoint(x=float(x), y=float(y), score=float(s))
                       for x, y, s in person.keypoints],
            embedding=embedding.tolist(),
            motion=motion_message(moved),
        ))
    return message


def motion_message(stats: FlowStats | None) -> Motion | None:
    if stats is None:
        return None
    return Motion(mean_speed=stats.mean_speed, p90_speed=stats.p90_speed,
                  direction_entropy=stats.direction_entropy)
