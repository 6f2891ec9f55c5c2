"""A real gateway for the API tests: uvicorn on a free port, the in-process bus, a local media
folder and a fresh database on the test MongoDB server, all in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.config import GatewayConfig
from services.gateway.service import GatewayService, create_app
from tests.servers import free_port
from vigil import topics
from vigil.bus import MemoryBus
from vigil.media import LocalMediaStore
from vigil.settings import RedisSettings, Settings

T = TypeVar("T")
SECRET = "a-test-only-token-key-of-forty-characters"
PASSWORD = "correct horse battery"
# argon2id with small costs: the tests hash dozens of passwords on a shared 2-core machine.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the test runner keeps its signal handlers


@dataclass
class RunningGateway:
    url: str
    ws_url: str
    bus: MemoryBus
    media: LocalMediaStore
    db: AsyncDatabase[dict[str, Any]]
    service: GatewayService
    client: httpx.AsyncClient
    upload_tmp: Path
    web_dist: Path
    app: FastAPI


@contextlib.asynccontextmanager
async def running_gateway(
    mongo_url: str,
    workdir: Path,
    *,
    bus: MemoryBus | None = None,
    db_name: str | None = None,
    redis_url: str | None = None,
    **config: Any,
) -> AsyncIterator[RunningGateway]:
    """A gateway replica; replicas given the same bus, database and Redis work together."""
    bus = bus or MemoryBus(partitions=4)
    media = LocalMediaStore(workdir / "media")
    await media.start()
    upload_tmp = workdir / "upload-tmp"
    upload_tmp.mkdir()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    own_db = db_name is None
    db_name = db_name or f"gateway_test_{uuid.uuid4().hex[:10]}"
    db = mongo[db_name]
    settings = Settings(
        gateway=GatewayConfig(jwt_secret=SECRET, upload_tmp_dir=upload_tmp, **config),
        redis=RedisSettings(url=redis_url),
    )
    service = GatewayService(settings, bus, media, db, password_hasher=FAST_HASHER)
    web_dist = workdir / "dist"
    app = create_app(settings, [service], bus, media, db, web_dist=web_dist)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                    access_log=False, lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        async def up() -> bool:
            return server.started and service.is_ready()

        await eventually(up)
        # A client that keeps no cookie: each test says how it authenticates.
        no_cookies = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     cookies=no_cookies) as client:
            yield RunningGateway(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", bus,
                                 media, db, service, client, upload_tmp, web_dist, app)
    finally:
        server.should_exit = True
        await serving
        stop.set()
        await running
        if own_db:
            await mongo.drop_database(db_name)
        await mongo.close()


async def eventually(check: Callable[[], Awaitable[T | None]], timeout_s: float = 20) -> T:
    """The first truthy result of `check`, polled until the deadline (then the test fails)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


async def account(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, str]:
    """Signs up (when new) and logs in; the bearer header of the session."""
    await client.post("/api/auth/signup", json={
        "username": username, "email": f"{username}@example.org", "password": password})
    response = await client.post("/api/auth/login",
                                 json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def read_topic(
    bus: MemoryBus, topic: topics.Topic, until: Callable[[list[Any]], bool], group: str
) -> list[Any]:
    """Messages of a topic from its start, decoded, until `until` holds for what was read."""
    consumer = bus.consumer([topic.name], group)
    await consumer.start()
    messages: list[Any] = []
    deadline = asyncio.get_running_loop().time() + 20
    try:
        while not until(messages):
            assert asyncio.get_running_loop().time() < deadline, f"only read {messages}"
            messages += [topic.message.FromString(r.value) for r in await consumer.poll(100, 0.1)]
    finally:
        await consumer.stop()
    return messages
