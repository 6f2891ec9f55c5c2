"""Sign up, log in, log out, the current user: every status code of the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from argon2 import Type

from services.gateway.auth import Passwords
from tests.services.gateway.harness import PASSWORD, RunningGateway, account, running_gateway

ATTEMPTS = 3


@pytest.fixture(scope="module")
async def gateway(
    mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    async with running_gateway(mongo_url, tmp_path_factory.mktemp("auth"),
                               login_attempts=ATTEMPTS, login_attempts_per_client=1000) as gw:
        yield gw


def signup_body(username: str, email: str | None = None, password: str = PASSWORD) -> dict:
    return {"username": username, "email": email or f"{username}@example.org",
            "password": password}


async def test_first_account_is_admin_later_ones_viewers(gateway: RunningGateway) -> None:
    first = await gateway.client.post("/api/auth/signup", json=signup_body("ann"))
    second = await gateway.client.post("/api/auth/signup", json=signup_body("bob"))
    assert first.status_code == second.status_code == 201
    assert first.json() == {"username": "ann", "email": "ann@example.org", "role": "admin"}
    assert second.json()["role"] == "viewer"
    assert "set-cookie" not in first.headers  # the UI logs in next


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (signup_body("dup", "dup-1@example.org"), None),
        (signup_body("dup", "dup-2@example.org"), "username already used"),
        (signup_body("dup2", "DUP-1@example.org"), "email already used"),
        (signup_body("dup", "dup-1@example.org"), "username already used"),  # username first
    ],
)
async def test_signup_conflicts_say_which_field(
    gateway: RunningGateway, body: dict, detail: str | None
) -> None:
    response = await gateway.client.post("/api/auth/signup", json=body)
    if detail is None:
        assert response.status_code == 201
    else:
        assert (response.status_code, response.json()) == (409, {"detail": detail})


@pytest.mark.parametrize(
    ("change", "field", "error_type"),
    [
        ({"username": ""}, "username", "string_too_short"),
        ({"username": "ab"}, "username", "string_too_short"),
        ({"username": "a" * 33}, "username", "string_too_long"),
        ({"username": "bad name!"}, "username", "string_pattern_mismatch"),
        ({"email": ""}, "email", "value_error"),
        ({"email": "not-an-email"}, "email", "value_error"),
        ({"password": ""}, "password", "string_too_short"),
        ({"password": "short"}, "password", "string_too_short"),
        ({"password": None}, "password", "missing"),
    ],
)
async def test_signup_refuses_empty_or_invalid_fields(
    gateway: RunningGateway, change: dict, field: str, error_type: str
) -> None:
    body = {**signup_body("carol"), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = await gateway.client.post("/api/auth/signup", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [(e["loc"][-1], e["type"]) for e in errors] == [(field, error_type)]


async def test_login_returns_token_and_httponly_cookie(gateway: RunningGateway) -> None:
    await gateway.client.post("/api/auth/signup", json=signup_body("dora"))
    response = await gateway.client.post(
        "/api/auth/login", json={"username": "dora", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"vigil_token={body['access_token']};")
    assert {"httponly", "samesite=strict", "path=/"} <= {
        part.strip().lower() for part in cookie.split(";")}
    # The cookie alone authenticates (the browser's way), and so does the header alone.
    by_cookie = await gateway.client.get(
        "/api/me", headers={"Cookie": f"vigil_token={body['access_token']}"})
    by_header = await gateway.client.get(
        "/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert by_cookie.json() == by_header.json() == {
        "username": "dora", "email": "dora@example.org", "role": "viewer"}


@pytest.mark.parametrize(
    "body",
    [{"username": "", "password": "x"}, {"username": "x", "password": ""}, {"username": "x"}, {}],
)
async def test_login_with_empty_fields_is_422(gateway: RunningGateway, body: dict) -> None:
    response = await gateway.client.post("/api/auth/login", json=body)
    assert response.status_code == 422


async def test_wrong_username_or_password_get_one_message(gateway: RunningGateway) -> None:
    await gateway.client.post("/api/auth/signup", json=signup_body("erin"))
    wrong_password = await gateway.client.post(
        "/api/auth/login", json={"username": "erin", "password": "not the password"})
    unknown_user = await gateway.client.post(
        "/api/auth/login", json={"username": "nobody-here", "password": PASSWORD})
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.json() == {"detail": "wrong username or password"}
        assert "set-cookie" not in response.headers


async def test_failed_logins_are_limited_per_user(gateway: RunningGateway) -> None:
    await gateway.client.post("/api/auth/signup", json=signup_body("fred"))
    bad = {"username": "fred", "password": "guess guess"}
    codes = [(await gateway.client.post("/api/auth/login", json=bad)).status_code
             for _ in range(ATTEMPTS)]
    assert codes == [401] * ATTEMPTS
    locked = await gateway.client.post("/api/auth/login", json=bad)
    assert locked.status_code == 429
    assert locked.json() == {"detail": "too many failed logins, try again later"}
    assert 0 < int(locked.headers["retry-after"]) <= 300
    # Even the right password waits now; another user is not affected.
    right = await gateway.client.post(
        "/api/auth/login", json={"username": "fred", "password": PASSWORD})
    assert right.status_code == 429
    assert (await account(gateway.client, "gina"))["Authorization"].startswith("Bearer ")


async def test_a_success_clears_the_users_failures(gateway: RunningGateway) -> None:
    await gateway.client.post("/api/auth/signup", json=signup_body("hugo"))
    bad = {"username": "hugo", "password": "guess guess"}
    for _ in range(ATTEMPTS - 1):
        await gateway.client.post("/api/auth/login", json=bad)
    await account(gateway.client, "hugo")
    codes = [(await gateway.client.post("/api/auth/login", json=bad)).status_code
             for _ in range(ATTEMPTS)]
    assert codes == [401] * ATTEMPTS


@pytest.mark.parametrize(
    "token", [None, "not-a-token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.forged"]
)
async def test_me_without_a_valid_token_is_401(gateway: RunningGateway, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await gateway.client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "not authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_logout_clears_the_cookie(gateway: RunningGateway) -> None:
    headers = await account(gateway.client, "ivan")
    response = await gateway.client.post("/api/auth/logout", headers=headers)
    assert response.status_code == 204
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith('vigil_token="";') and "max-age=0" in cookie


async def test_passwords_are_stored_only_as_argon2id_hashes(gateway: RunningGateway) -> None:
    await account(gateway.client, "judy", "judy's secret phrase")
    stored = await gateway.db["users"].find_one({"username": "judy"})
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    salted = stored["password_hash"].split("$")
    assert len(salted) == 6 and len(salted[4]) >= 16  # parameters, salt, hash
    assert not any("judy's secret phrase" in str(value) for value in stored.values())


def test_the_production_hasher_is_slow() -> None:
    hasher = Passwords().hasher
    assert hasher.type is Type.ID
    assert hasher.memory_cost >= 64 * 1024 and hasher.time_cost >= 3
