"""`vigil serve detect` and `vigil serve track` as their own processes over the real broker, on a
real fight clip: the tracks' ids stay stable for the people who stay in view."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import pytest

from tests.servers import free_port
from tests.vigil.test_cli import wait_ready
from vigil import topics
from vigil.bus import KafkaBus
from vigil.v1.frames_pb2 import Frame, FrameRef, SourceKind
from vigil.v1.tracks_pb2 import Tracks

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def clip_frames(path: Path, rate: float) -> list[bytes]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    step = fps / rate
    frames, index, due = [], 0, 0.0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index + 1e-6 >= due:
            frames.append(cv2.imencode(".jpg", image)[1].tobytes())
            due += step
        index += 1
    capture.release()
    return frames


async def test_detect_and_track_processes_keep_ids_stable(
    kafka_address: str, data_dir: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(VIGIL_BUS__KIND="kafka", VIGIL_BUS__BOOTSTRAP_SERVERS=kafka_address,
               VIGIL_BUS__PARTITIONS="4", VIGIL_STATE_DIR=str(tmp_path),
               # every frame counts here: no shedding of live frames on a slow machine
               VIGIL_DETECT__MAX_LIVE_LAG_S="0")
    procs = {}
    for name in ("detect", "track"):
        port = free_port()
        with (tmp_path / f"{name}.log").open("wb") as log:
            procs[name] = (subprocess.Popen(
                [sys.executable, "-m", "vigil.cli", "serve", name],
                env={**env, "VIGIL_HTTP__PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT,
            ), port)
    bus = KafkaBus(kafka_address, partitions=4)
    await bus.start()
    reader = bus.consumer([topics.TRACKS.name], "test-tracks")
    camera = f"cam-{free_port()}"
    try:
        for proc, port in procs.values():
            await wait_ready(port, proc, timeout_s=120)
        await reader.start()
        jpegs = clip_frames(data_dir / "surveillance-fight/fight/fi010.mp4", 10)
        for index, jpeg in enumerate(jpegs):
            ref = FrameRef(camera_id=camera, source_kind=SourceKind.SOURCE_KIND_LIVE,
                           frame_index=index, capture_time_us=int(time.time() * 1e6),
                           position_s=index / 10, width=640, height=360, analysis_fps=10)
            await bus.publish(topics.FRAMES.name, camera, Frame(ref=ref, jpeg=jpeg)
                              .SerializeToString())
        tracks: list[Tracks] = []
        deadline = time.monotonic() + 240
        while len(tracks) < len(jpegs):
            assert time.monotonic() < deadline, f"{len(tracks)} of {len(jpegs)} frames tracked"
            tracks += [Tracks.FromString(r.value) for r in await reader.poll(50, 0.5)
                       if r.key == camera]
    finally:
        await reader.stop()
        await bus.stop()
        for proc, _ in procs.values():
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(60) for proc, _ in procs.values()]
    assert codes == [0, 0]
    assert [t.frame.frame_index for t in tracks] == list(range(len(jpegs)))
    presence = Counter(p.track_id for t in tracks for p in t.people)
    # The man in the middle stays in view the whole clip: one id follows him for most of it;
    # others come and go, but identities are not thrown away and re-made frame after frame.
    longest = presence.most_common(2)
    assert longest[0][1] >= 0.7 * len(jpegs), presence
    assert longest[1][1] >= 0.3 * len(jpegs), presence
    assert sum(presence.values()) / len(presence) >= 3, presence
