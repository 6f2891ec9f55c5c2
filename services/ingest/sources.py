"""Video sources: a file, an RTSP/HTTP stream, a webcam, an upload in the media store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2

from vigil.errors import BadInput, Unavailable

SourceKind = Literal["file", "stream", "webcam"]


@dataclass(frozen=True)
class SourceSpec:
    kind: SourceKind
    location: str

    @property
    def is_live(self) -> bool:
        return self.kind != "file"


def parse_source(text: str) -> SourceSpec:
    """`rtsp://…`, `http(s)://…` -> stream; `0`, `webcam:1` -> webcam; anything else -> file."""
    text = text.strip()
    if not text:
        raise BadInput("empty camera source")
    if re.match(r"^(rtsp|rtsps|rtmp|http|https)://", text, re.IGNORECASE):
        return SourceSpec("stream", text)
    match = re.fullmatch(r"(?:webcam:)?(\d{1,2})", text)
    if match:
        return SourceSpec("webcam", match.group(1))
    return SourceSpec("file", str(Path(text).expanduser()))


def open_capture(spec: SourceSpec) -> cv2.VideoCapture:
    """Open the source or raise: BadInput for a file that is not a video, Unavailable for a
    stream or webcam that does not answer (worth retrying)."""
    if spec.kind == "file":
        if not Path(spec.location).is_file():
            raise BadInput(f"no such video file: {spec.location}")
        capture = cv2.VideoCapture(spec.location, cv2.CAP_FFMPEG)
    elif spec.kind == "webcam":
        capture = cv2.VideoCapture(int(spec.location))
    else:
        capture = cv2.VideoCapture(spec.location, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        if spec.kind == "file":
            raise BadInput("not a video or unreadable")
        raise Unavailable(f"cannot open {spec.kind} {spec.location}")
    return capture


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frame_count: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


def video_info(capture: cv2.VideoCapture) -> VideoInfo:
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    if not 0 < fps <= 1000:  # some streams report 0 or nonsense; assume a common rate
        fps = 25.0
    return VideoInfo(
        fps=fps,
        frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
    )
