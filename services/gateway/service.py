"""The gateway service: its consume loops (camera and job statuses, job progress, the live relay)
and the app that `vigil run` and `vigil serve gateway` serve with uvicorn."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.app import build_app
from services.gateway.context import SERVICE, build_context
from services.gateway.events import EventDeleter
from services.gateway.static import DEFAULT_DIST
from vigil import topics
from vigil.bus import Bus
from vigil.media import MediaStore
from vigil.runtime.process import Service
from vigil.runtime.worker import ConsumeLoop, per_message
from vigil.settings import Settings

Doc = dict[str, Any]


class GatewayService:
    name = SERVICE

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        media: MediaStore,
        db: AsyncDatabase[Doc],
        *,
        event_deleter: EventDeleter | None = None,
        password_hasher: PasswordHasher | None = None,
    ) -> None:
        config = settings.gateway
        self.context = build_context(
            config, bus, media, db, redis_url=settings.redis.url, event_deleter=event_deleter,
            password_hasher=password_hasher,
        )
        context = self.context
        # Every replica sees every camera unless the fan-out carries frames between replicas.
        replica = config.replica_id or uuid.uuid4().hex[:12]
        live = "gateway-live" if context.fanout.spans_replicas else f"gateway-live-{replica}"
        self.loops: list[ConsumeLoop[Any]] = [
            ConsumeLoop(bus, service=SERVICE, topic=topics.CAMERA_STATUS,
                        group="gateway-camera-status",
                        handle=per_message(context.cameras.on_status)),
            ConsumeLoop(bus, service=SERVICE, topic=topics.JOB_STATUS, group="gateway-job-status",
                        handle=per_message(context.jobs.on_status)),
            ConsumeLoop(bus, service=SERVICE, topic=topics.VERDICTS, group="gateway-job-progress",
                        handle=context.jobs.on_verdicts, max_batch=64),
            ConsumeLoop(bus, service=SERVICE, topic=topics.FRAMES, group=f"{live}-frames",
                        handle=context.relay.on_frames, max_batch=16),
            ConsumeLoop(bus, service=SERVICE, topic=topics.VERDICTS, group=f"{live}-verdicts",
                        handle=context.relay.on_verdicts, max_batch=16),
        ]

    async def start_camera(self, camera_id: str, source: str) -> None:
        """A camera given at start-up (`vigil run --source`): stored, so the UI lists it, and
        started."""
        cameras = self.context.cameras
        await cameras.start(await cameras.ensure(camera_id, camera_id, source), force=True)

    def is_ready(self) -> bool:
        return all(loop.started.is_set() for loop in self.loops)

    async def run(self, stop: asyncio.Event) -> None:
        await self.context.open()
        try:
            async with asyncio.TaskGroup() as group:
                for loop in self.loops:
                    group.create_task(loop.run(stop))
        finally:
            await self.context.close()


def create_app(
    settings: Settings,
    services: Sequence[Service],
    bus: Bus,
    media: MediaStore,
    mongo_db: AsyncDatabase[Doc],
    *,
    web_dist: Path = DEFAULT_DIST,
    event_deleter: EventDeleter | None = None,
) -> FastAPI:
    """The gateway's app, sharing the context of the `GatewayService` among `services` (one is
    made when there is none: the API then runs without its consume loops)."""
    gateway = next((s for s in services if isinstance(s, GatewayService)), None)
    if gateway is None:
        gateway = GatewayService(settings, bus, media, mongo_db, event_deleter=event_deleter)
    return build_app(gateway.context, services, web_dist)
