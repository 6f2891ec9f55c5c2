"""Gateway: live-feed latency from frame capture to the message leaving the WebSocket (p50,
p95) with 1 and 8 viewers; API latency of the events list with 10,000 events."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from tests.servers import start_mongo
from tests.services.gateway.harness import account, running_gateway
from vigil import topics
from vigil.v1.detections_pb2 import Box
from vigil.v1.frames_pb2 import Frame, FrameRef, SourceKind
from vigil.v1.verdicts_pb2 import PersonVerdict, Verdicts

EVENTS = 10_000


def _summary(samples_ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples_ms, n=100)
    return {"p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "n": len(samples_ms)}


async def _events_list(gw: Any, headers: dict[str, str]) -> dict[str, Any]:
    from services.repository.store import INDEXES

    start = datetime(2024, 1, 1, tzinfo=UTC)
    docs = [{"_id": f"e{i:05d}", "camera_id": f"c{i % 20}", "source_kind": "live", "job_id": "",
             "started_at": start + timedelta(minutes=4.3 * i),
             "ended_at": start + timedelta(minutes=4.3 * i, seconds=9), "start_frame": i,
             "max_score": 0.9, "culprits": [], "clip_key": "c", "poster_key": "p",
             "status": "stored"} for i in range(EVENTS)]
    await gw.db["events"].create_indexes(INDEXES)
    for k in range(0, EVENTS, 1000):
        await gw.db["events"].insert_many(docs[k:k + 1000])
    results = {}
    for name, params in [("first_page", {}), ("by_date", {"date": "2024-01-15"}),
                         ("by_camera_page_5", {"camera": "c3", "page": 5})]:
        times = []
        for _ in range(40):
            started = time.perf_counter()
            response = await gw.client.get("/api/events", headers=headers, params=params)
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        results[name] = _summary(times)
    return results


async def _live(gw: Any, headers: dict[str, str]) -> dict[str, Any]:
    camera = (await gw.client.post("/api/cameras", headers=headers,
                                   json={"name": "bench", "source": "0"})).json()["id"]
    jpeg = os.urandom(60_000)
    results = {}
    for base, viewers in ((0, 1), (1000, 8)):
        sockets = [await connect(f"{gw.ws_url}/api/live/{camera}", additional_headers=headers,
                                 max_size=None).__aenter__() for _ in range(viewers)]
        for socket in sockets:
            await socket.recv()  # the camera's status
        latencies: list[float] = []

        async def read(socket: Any, count: int, latencies: list[float] = latencies) -> None:
            for _ in range(count):
                message = json.loads(await socket.recv())
                captured = datetime.fromisoformat(message["captured_at"]).timestamp()
                latencies.append((time.time() - captured) * 1000)

        count = 100
        readers = [asyncio.create_task(read(s, count)) for s in sockets]
        for i in range(count):
            ref = FrameRef(camera_id=camera, source_kind=SourceKind.SOURCE_KIND_LIVE,
                           frame_index=base + i, width=1280, height=720,
                           capture_time_us=int(time.time() * 1e6))
            await gw.bus.publish(topics.FRAMES.name, camera,
                                 Frame(ref=ref, jpeg=jpeg).SerializeToString())
            verdict = Verdicts(frame=ref, people=[PersonVerdict(
                track_id=1, box=Box(x1=1, y1=2, x2=3, y2=4), violent=True, score=0.9)])
            await gw.bus.publish(topics.VERDICTS.name, camera, verdict.SerializeToString())
            await asyncio.sleep(0.05)  # 20 fps
        await asyncio.wait_for(asyncio.gather(*readers), 60)
        for socket in sockets:
            await socket.close()
        results[f"viewers_{viewers}"] = _summary(latencies)
    return results


async def _run(url: str, work: Path) -> dict[str, Any]:
    async with running_gateway(url, work) as gw:
        headers = await account(gw.client, "admin")
        return {"events_list_10k": await _events_list(gw, headers),
                "live_capture_to_websocket": await _live(gw, headers)}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        mongo = start_mongo(Path(tmp))
        try:
            return asyncio.run(_run(mongo.address, Path(tmp)))
        finally:
            mongo.stop()
