"""One process: its services, an HTTP server for probes and metrics, and one stop event.

SIGTERM or SIGINT sets the stop event: every consume loop finishes the batch in hand, commits it
and leaves its group; then the HTTP server and the clients close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Protocol

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then finish what is in hand and return."""

    def is_ready(self) -> bool: ...


def probes_router(services: Sequence[Service]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        """Every service is connected and taking work."""
        waiting = [s.name for s in services if not s.is_ready()]
        if waiting:
            response.status_code = 503
        return {"status": "waiting" if waiting else "ready", "waiting": waiting}

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process owns the signals; it tells the server when to exit


async def run_process(
    services: Sequence[Service],
    app: FastAPI,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    on_close: Sequence[Callable[[], Awaitable[None]]] = (),
) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))

    async def guard(service: Service) -> None:
        try:
            await service.run(stop)
        except Exception:
            log.exception("service failed, stopping the process", extra={"service": service.name})
            stop.set()
            raise

    async def exit_on_stop() -> None:
        await stop.wait()
        log.info("stopping: finishing work in hand")
        server.should_exit = True

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(server.serve())
            group.create_task(exit_on_stop())
            for service in services:
                group.create_task(guard(service))
    finally:
        for close in on_close:
            try:
                await close()
            except Exception:
                log.exception("closing a client failed")
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")
