"""The web UI: `dist/assets/*` as they are, `dist/index.html` for every other page path (the UI
routes on the client). No token is needed: the UI itself asks `GET /api/me`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

DEFAULT_DIST = Path(__file__).resolve().parent / "web" / "dist"
NOT_PAGES = ("api/", "assets/", "healthz", "readyz", "metrics")
NOT_BUILT = (
    "the web UI is not built: run `npm ci && npm run build` in services/gateway/web"
    " (`make setup` does it)"
)


def web_router(dist: Path) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    assets = dist / "assets"

    @router.get("/assets/{name:path}")
    async def asset(name: str) -> FileResponse:
        path = (assets / name).resolve()
        if not path.is_relative_to(assets.resolve()) or not path.is_file():
            raise HTTPException(404, "Not Found")
        # Hashed names: a changed file gets a new name, so the old one can be kept forever.
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    @router.get("/{page:path}")
    async def index(page: str) -> FileResponse:
        if page.startswith(NOT_PAGES):
            raise HTTPException(404, "Not Found")
        index_html = dist / "index.html"
        if not index_html.is_file():
            raise HTTPException(503, NOT_BUILT)
        return FileResponse(index_html, headers={"Cache-Control": "no-cache"})

    return router
