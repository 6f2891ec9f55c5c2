"""Encode BGR frames into a clip that plays in a browser, one frame at a time.

PyAV (FFmpeg bundled in its wheel) does the work: OpenCV's wheel cannot write H.264.
- `h264`: libx264, yuv420p, in MP4 with `movflags=+faststart`, so the moov atom comes before
  the media data and a browser starts playing before the whole file has arrived.
- `vp9`: libvpx-vp9, yuv420p, constant quality, in WebM (always streamable).
Both play in Chromium; H.264 also plays in Safari, hence the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Self

import av
import cv2
import numpy as np
from av.video.stream import VideoStream

from services.repository.config import RepositoryConfig, VideoCodec


@dataclass(frozen=True, slots=True)
class CodecSpec:
    encoder: str  # FFmpeg encoder name
    container: str  # FFmpeg muxer name
    suffix: str
    mime_type: str


CODECS: dict[VideoCodec, CodecSpec] = {
    "h264": CodecSpec("libx264", "mp4", ".mp4", "video/mp4"),
    "vp9": CodecSpec("libvpx-vp9", "webm", ".webm", "video/webm"),
}


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What a finished clip file holds."""

    path: Path
    frames: int
    duration_s: float
    bytes: int
    codec: VideoCodec
    mime_type: str
    width: int
    height: int
    fps: float


def clip_suffix(codec: VideoCodec) -> str:
    return CODECS[codec].suffix


def _even(size: int) -> int:
    # yuv420p subsamples chroma 2x2, so both sides must be even.
    return max(2, size - size % 2)


def _stream_rate(fps: float) -> Fraction:
    # 29.97 comes out as 30000/1001; a plain float would give the muxer an odd time base.
    return Fraction(fps).limit_denominator(1001)


def _encoder_options(codec: VideoCodec, config: RepositoryConfig) -> dict[str, str]:
    if codec == "h264":
        return {"crf": str(config.h264_crf), "preset": config.h264_preset}
    return {
        "crf": str(config.vp9_crf),
        "b": "0",  # with crf, b=0 selects constant quality rather than constrained quality
        "deadline": "realtime",
        "cpu-used": str(config.vp9_cpu_used),
        "row-mt": "1",
    }


class ClipWriter:
    """Writes frames to `path` as they come; only the encoder's own look-ahead stays in memory."""

    def __init__(
        self,
        path: Path,
        fps: float,
        width: int,
        height: int,
        *,
        codec: VideoCodec = "h264",
        config: RepositoryConfig | None = None,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        config = config or RepositoryConfig()
        spec = CODECS[codec]
        self.path = path
        self.codec: VideoCodec = codec
        self.width = _even(width)
        self.height = _even(height)
        self.rate = _stream_rate(fps)
        self._spec = spec
        self._frames = 0
        self._closed = False
        container_options = {"movflags": "+faststart"} if spec.container == "mp4" else {}
        self._container = av.open(
            str(path), mode="w", format=spec.container, options=container_options
        )
        try:
            stream = self._container.add_stream(
                spec.encoder, rate=self.rate, options=_encoder_options(codec, config)
            )
            if not isinstance(stream, VideoStream):
                raise TypeError(f"{spec.encoder} did not give a video stream")
            stream.width = self.width
            stream.height = self.height
            stream.pix_fmt = "yuv420p"
            keyframe_every = round(float(self.rate) * config.keyframe_interval_s)
            stream.codec_context.gop_size = max(1, keyframe_every)
            stream.codec_context.thread_count = config.encoder_threads
        except Exception:
            self._container.close()
            raise
        self._stream = stream

    @property
    def frames(self) -> int:
        return self._frames

    def write(self, bgr: np.ndarray) -> None:
        """Append one frame; a frame of another size is scaled to the clip's size."""
        if self._closed:
            raise RuntimeError("write after close")
        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 BGR image, got {bgr.shape} {bgr.dtype}")
        if bgr.shape[:2] != (self.height, self.width):
            bgr = self._fit(bgr)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        frame.pts = self._frames  # codec time base is 1/rate, so one tick per frame
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._frames += 1

    def _fit(self, bgr: np.ndarray) -> np.ndarray:
        height, width = bgr.shape[:2]
        if (height - height % 2, width - width % 2) == (self.height, self.width):
            return bgr[: self.height, : self.width]  # odd source size: drop the last row/column
        return cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)

    def close(self) -> ClipInfo:
        """Flush the encoder, finish the file (MP4: moov moved to the front) and describe it."""
        if self._closed:
            raise RuntimeError("clip already closed")
        self._closed = True
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
        return ClipInfo(
            path=self.path,
            frames=self._frames,
            duration_s=self._frames / float(self.rate),
            bytes=self.path.stat().st_size,
            codec=self.codec,
            mime_type=self._spec.mime_type,
            width=self.width,
            height=self.height,
            fps=float(self.rate),
        )

    def abort(self) -> None:
        """Give up on the clip: close the container and remove the partial file."""
        if not self._closed:
            self._closed = True
            self._container.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()
