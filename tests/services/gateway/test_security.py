"""No endpoint answers without a token, a viewer cannot manage, the UI's files are public."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.services.gateway.harness import RunningGateway, account, running_gateway

PUBLIC = {("post", "/api/auth/signup"), ("post", "/api/auth/login"), ("get", "/healthz"),
          ("get", "/readyz"), ("get", "/metrics")}


@pytest.fixture(scope="module")
async def gateway(
    mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    async with running_gateway(mongo_url, tmp_path_factory.mktemp("security")) as gw:
        yield gw


def operations(gateway: RunningGateway) -> list[tuple[str, str]]:
    schema = gateway.app.openapi()
    return sorted((method, path) for path, item in schema["paths"].items() for method in item)


async def test_every_endpoint_but_the_public_ones_needs_a_token(gateway: RunningGateway) -> None:
    ops = operations(gateway)
    assert len(ops) >= 20 and set(ops) >= PUBLIC  # the walk sees the whole API
    for method, path in ops:
        if (method, path) in PUBLIC:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)  # dummy path parameters
        response = await gateway.client.request(method.upper(), url)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json() == {"detail": "not authenticated"}


async def test_the_api_schema_is_for_signed_in_users_only(gateway: RunningGateway) -> None:
    assert (await gateway.client.get("/api/openapi.json")).status_code == 401
    user = await account(gateway.client, "admin")
    schema = (await gateway.client.get("/api/openapi.json", headers=user)).json()
    assert "/api/events" in schema["paths"] and "/api/openapi.json" not in schema["paths"]
    for path in ("/openapi.json", "/docs", "/redoc"):  # FastAPI's public defaults are off
        response = await gateway.client.get(path)
        assert "openapi" not in response.text.lower(), path


async def test_the_public_endpoints_answer_without_one(gateway: RunningGateway) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await gateway.client.get(path)).status_code == 200, path


async def test_a_viewer_cannot_manage_cameras_or_delete_events(gateway: RunningGateway) -> None:
    admin = await account(gateway.client, "admin")
    viewer = await account(gateway.client, "viewer")
    created = await gateway.client.post("/api/cameras", headers=admin,
                                        json={"name": "Gate", "source": "0"})
    camera = created.json()["id"]
    await gateway.db["events"].insert_one({"_id": "e1", "started_at": None})
    attempts = [
        ("POST", "/api/cameras", {"name": "Hall", "source": "1"}),
        ("PATCH", f"/api/cameras/{camera}", {"name": "Yard"}),
        ("DELETE", f"/api/cameras/{camera}", None),
        ("POST", f"/api/cameras/{camera}/start", None),
        ("POST", f"/api/cameras/{camera}/stop", None),
        ("DELETE", "/api/events/e1", None),
    ]
    for method, path, body in attempts:
        response = await gateway.client.request(method, path, headers=viewer, json=body)
        assert (response.status_code, response.json()) == (
            403, {"detail": "admin role required"}), (method, path)
    listed = await gateway.client.get("/api/cameras", headers=viewer)
    assert [c["name"] for c in listed.json()] == ["Gate"]
    assert await gateway.db["events"].count_documents({"_id": "e1"}) == 1


async def test_web_ui_is_served_without_a_token_with_spa_fallback(
    gateway: RunningGateway,
) -> None:
    missing = await gateway.client.get("/")
    assert missing.status_code == 503 and "npm run build" in missing.json()["detail"]
    (gateway.web_dist / "assets").mkdir(parents=True)
    (gateway.web_dist / "index.html").write_text("<!doctype html><title>Vigil</title>")
    (gateway.web_dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    for page in ("/", "/login", "/repository/e1", "/live"):
        response = await gateway.client.get(page)
        assert response.status_code == 200, page
        assert "<title>Vigil</title>" in response.text
        assert response.headers["cache-control"] == "no-cache"
    asset = await gateway.client.get("/assets/index-abc123.js")
    assert asset.text == "console.log(1)"
    assert "immutable" in asset.headers["cache-control"]
    for path in ("/assets/nope.js", "/assets/%2E%2E/index.html", "/api/nope"):
        assert (await gateway.client.get(path)).status_code == 404, path
