"""The gateway's FastAPI app: its routers, the probes, the web UI, and a lifespan that opens and
closes the shared clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.gateway.context import GatewayContext
from services.gateway.routers import auth, cameras, events, live, media, schema, uploads, users
from services.gateway.static import DEFAULT_DIST, web_router
from vigil.errors import BadInput, Unavailable
from vigil.runtime.process import Service, probes_router


def build_app(
    context: GatewayContext, services: Sequence[Service], web_dist: Path = DEFAULT_DIST
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await context.open()
        try:
            yield
        finally:
            await context.close()

    app = FastAPI(title="Vigil", summary="Violence detection in CCTV: the gateway API",
                  version="1", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.gateway = context
    for module in (auth, users, cameras, uploads, events, media, live, schema):
        app.include_router(module.router)
    app.include_router(probes_router(services))
    app.include_router(web_router(web_dist))  # last: its page route takes any other path

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": f"a server is unavailable: {exc}"}, 503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(BadInput)
    async def bad_input(_: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 400)

    return app
