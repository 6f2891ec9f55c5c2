"""`vigil serve ingest` as its own process over the real broker, the way a container runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port
from vigil import topics
from vigil.bus import KafkaBus
from vigil.v1.cameras_pb2 import CameraCommand
from vigil.v1.frames_pb2 import Frame


async def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            assert proc.poll() is None, "the service exited"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "not ready in time"
            await asyncio.sleep(0.2)


@pytest.mark.kafka
async def test_serve_ingest_publishes_a_clip_in_order(
    kafka_address: str, data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(VIGIL_BUS__KIND="kafka", VIGIL_BUS__BOOTSTRAP_SERVERS=kafka_address,
               VIGIL_BUS__PARTITIONS="4", VIGIL_HTTP__PORT=str(port),
               VIGIL_STATE_DIR=str(tmp_path), VIGIL_INGEST__LOOP_FILES="false")
    with (tmp_path / "ingest.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "serve", "ingest"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    bus = KafkaBus(kafka_address, partitions=4)
    await bus.start()
    reader = bus.consumer([topics.FRAMES.name], "test-reader")
    try:
        await wait_ready(port, proc)
        await reader.start()
        camera = f"cam-{port}"
        command = CameraCommand(camera_id=camera, action=CameraCommand.ACTION_START,
                                source=str(data_dir / "surveillance-fight/fight/fi005.mp4"))
        await bus.publish(topics.CAMERA_COMMANDS.name, camera, command.SerializeToString())

        frames: list[Frame] = []
        deadline = time.monotonic() + 60
        while len(frames) < 29:
            assert time.monotonic() < deadline, f"got {len(frames)} frames"
            frames += [Frame.FromString(r.value) for r in await reader.poll(50, 0.5)
                       if r.key == camera]
        refs = [f.ref for f in frames]
        assert [r.frame_index for r in refs] == list(range(29))
        assert {r.camera_id for r in refs} == {camera}
        assert [r.position_s for r in refs] == pytest.approx([i / 10 for i in range(29)])
        times = [r.capture_time_us for r in refs]
        assert times == sorted(times) and abs(times[0] / 1e6 - time.time()) < 120
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert f'vigil_frames_ingested_total{{camera="{camera}"}} 29.0' in metrics
    finally:
        await reader.stop()
        await bus.stop()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, (tmp_path / "ingest.log").read_text()[-2000:]


@pytest.mark.kafka
def test_serve_with_a_missing_model_exits_2_naming_the_fix_and_closes_its_clients(
    kafka_address: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(VIGIL_BUS__KIND="kafka", VIGIL_BUS__BOOTSTRAP_SERVERS=kafka_address,
               VIGIL_BUS__PARTITIONS="4", VIGIL_HTTP__PORT=str(free_port()),
               VIGIL_STATE_DIR=str(tmp_path), VIGIL_MODEL_DIR=str(tmp_path / "no-models"))
    done = subprocess.run([sys.executable, "-m", "vigil.cli", "serve", "detect"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "vigil models fetch" in done.stderr
    # The bus was connected before the model was found missing: it is closed, not leaked.
    assert "Unclosed" not in done.stderr, done.stderr[-2000:]
