"""Everything the gateway's routes and consume loops share, built once per process.

Both the app's lifespan and the service's run open it; the clients it owns close when the last
of them closes it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from services.gateway.auth import Passwords, Tokens
from services.gateway.cameras import Cameras
from services.gateway.config import GatewayConfig
from services.gateway.events import EventDeleter
from services.gateway.fanout import Fanout, MemoryFanout, RedisFanout
from services.gateway.jobs import Jobs
from services.gateway.live import LiveHub, LiveRelay
from services.gateway.ratelimit import LoginLimiter, MemoryLoginLimiter, RedisLoginLimiter
from services.gateway.users import UserStore
from services.repository.store import EventStore
from vigil.bus import Bus
from vigil.errors import ConfigError
from vigil.media import MediaStore
from vigil.runtime.worker import Publisher

log = logging.getLogger(__name__)
Doc = dict[str, Any]
SERVICE = "gateway"


@dataclass
class GatewayContext:
    config: GatewayConfig
    db: AsyncDatabase[Doc]
    media: MediaStore
    publisher: Publisher
    fanout: Fanout
    limiter: LoginLimiter
    passwords: Passwords
    tokens: Tokens
    users: UserStore
    cameras: Cameras
    jobs: Jobs
    events: EventStore
    delete_event: EventDeleter
    hub: LiveHub
    relay: LiveRelay
    redis: Redis | None = None  # owned: closed with the context
    _users: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def open(self) -> None:
        async with self._lock:
            self._users += 1
            if self._users > 1:
                return
            await self.fanout.start()
            for store in (self.users, self.cameras, self.jobs):
                await store.create_indexes()

    async def close(self) -> None:
        async with self._lock:
            self._users -= 1
            if self._users > 0:
                return
            await self.hub.stop()
            await self.fanout.stop()
            if self.redis is not None:
                await self.redis.aclose()


def build_context(
    config: GatewayConfig,
    bus: Bus,
    media: MediaStore,
    db: AsyncDatabase[Doc],
    *,
    redis_url: str | None = None,
    event_deleter: EventDeleter | None = None,
    password_hasher: PasswordHasher | None = None,
) -> GatewayContext:
    """Redis (fan-out and login limits shared by every replica) when `redis_url` is set,
    in-process otherwise. Events are deleted by `event_deleter`, by default the repository's
    `EventStore.delete` (the media under `events/{id}/`, then the document)."""
    if config.jwt_secret is None:
        raise ConfigError(
            "the gateway needs a token key: set VIGIL_GATEWAY__JWT_SECRET (32 characters or more)"
        )
    redis = Redis.from_url(redis_url) if redis_url else None
    fanout: Fanout = RedisFanout(redis) if redis else MemoryFanout()
    limiter: LoginLimiter = (
        RedisLoginLimiter(redis, config.login_window_s) if redis
        else MemoryLoginLimiter(config.login_window_s)
    )
    publisher = Publisher(bus, SERVICE)
    events = EventStore(db, media)
    return GatewayContext(
        config=config, db=db, media=media, publisher=publisher, fanout=fanout, limiter=limiter,
        passwords=Passwords(password_hasher),
        tokens=Tokens(config.jwt_secret.get_secret_value(), config.token_ttl_s),
        users=UserStore(db), cameras=Cameras(db, publisher, fanout), jobs=Jobs(db),
        events=events, delete_event=event_deleter or events.delete,
        hub=LiveHub(fanout, config.live_verdict_timeout_s, config.live_pending_frames,
                    config.live_viewer_queue),
        relay=LiveRelay(fanout, config.live_max_age_s),
        redis=redis,
    )
