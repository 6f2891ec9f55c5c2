"""One camera: open, sample, publish; reopen with back-off when the stream drops.

States: live while frames flow; reconnecting (with the reason) while reopening; error (with the
reason) when the source cannot work (a file that is not a video) or after too many attempts;
idle when stopped or when a file played once ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from services.ingest.config import IngestConfig
from services.ingest.frames import RawFrame, sampled_frames
from services.ingest.sources import SourceSpec, open_capture, video_info
from vigil.errors import BadInput, Unavailable
from vigil.v1.cameras_pb2 import CameraState

log = logging.getLogger(__name__)

StatusCallback = Callable[[str, "CameraState.ValueType", str], Awaitable[None]]
FrameCallback = Callable[[str, RawFrame, int, int, bool], Awaitable[None]]


class CameraRunner:
    def __init__(
        self,
        camera_id: str,
        spec: SourceSpec,
        config: IngestConfig,
        on_frame: FrameCallback,
        on_status: StatusCallback,
    ) -> None:
        self.camera_id = camera_id
        self.spec = spec
        self.config = config
        self.on_frame = on_frame  # (camera, frame, frame_index, capture_time_us, end_of_stream)
        self.on_status = on_status

    async def run(self, stop: asyncio.Event) -> None:
        frame_index = 0
        failures = 0
        delay = self.config.reconnect_initial_s
        offset_s = 0.0  # a looping file keeps counting its position
        while not stop.is_set():
            try:
                capture = await asyncio.to_thread(open_capture, self.spec)
            except BadInput as exc:
                reason = f"{exc}: {self.spec.location}"
                await self.on_status(self.camera_id, CameraState.CAMERA_STATE_ERROR, reason)
                return
            except Unavailable as exc:
                failures += 1
                if not await self._back_off(stop, failures, delay, str(exc)):
                    return
                delay = min(delay * 2, self.config.reconnect_max_s)
                continue
            info = video_info(capture)
            await self.on_status(self.camera_id, CameraState.CAMERA_STATE_LIVE, "")
            frames = sampled_frames(capture, self.config.analysis_fps, info.fps, self.spec.is_live)
            started = time.monotonic()
            published = 0
            try:
                while not stop.is_set():
                    frame = await asyncio.to_thread(next, frames, None)
                    if frame is None:
                        break
                    if not self.spec.is_live:  # a file plays at its own speed, like a camera
                        await _sleep_until(stop, started + frame.position_s)
                    position = RawFrame(offset_s + frame.position_s, frame.image)
                    await self.on_frame(
                        self.camera_id, position, frame_index, int(time.time() * 1e6), False
                    )
                    frame_index += 1
                    published += 1
            finally:
                capture.release()
            if stop.is_set():
                break
            if not self.spec.is_live:
                if published == 0:
                    await self.on_status(
                        self.camera_id, CameraState.CAMERA_STATE_ERROR,
                        "no decodable frames in the file",
                    )
                    return
                if not self.config.loop_files:
                    break
                offset_s += max(info.duration_s, published / self.config.analysis_fps)
                continue
            if published:
                failures, delay = 0, self.config.reconnect_initial_s
            failures += 1
            if not await self._back_off(stop, failures, delay, "stream dropped"):
                return
            delay = min(delay * 2, self.config.reconnect_max_s)
        await self.on_status(self.camera_id, CameraState.CAMERA_STATE_IDLE, "")

    async def _back_off(
        self, stop: asyncio.Event, failures: int, delay: float, reason: str
    ) -> bool:
        """Mark the camera reconnecting and wait; False once it has failed too often."""
        if failures > self.config.reconnect_attempts:
            await self.on_status(
                self.camera_id, CameraState.CAMERA_STATE_ERROR,
                f"{reason} (gave up after {failures - 1} reconnection attempts)",
            )
            return False
        log.warning(
            "camera unavailable, reconnecting",
            extra={"camera": self.camera_id, "attempt": failures, "retry_in_s": delay,
                   "reason": reason},
        )
        await self.on_status(self.camera_id, CameraState.CAMERA_STATE_RECONNECTING, reason)
        await _sleep_until(stop, time.monotonic() + delay)
        return not stop.is_set()


async def _sleep_until(stop: asyncio.Event, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), remaining)
