"""Session tokens and where a request carries them."""

from __future__ import annotations

import time

import jwt
import pytest

from services.gateway.auth import Claims, InvalidToken, Tokens, token_from

SECRET = "k" * 40


def test_a_token_names_its_user_and_role() -> None:
    tokens = Tokens(SECRET, ttl_s=60)
    assert tokens.decode(tokens.issue("ann", "admin")).username == "ann"
    issued = int(time.time()) - 10
    claims = tokens.decode(tokens.issue("bob", "viewer", now=issued))
    assert claims == Claims("bob", "viewer", issued + 60)


@pytest.mark.parametrize(
    "token",
    [
        Tokens(SECRET, 60).issue("ann", "admin", now=1_000_000),  # long expired
        Tokens("x" * 40, 60).issue("ann", "admin"),  # another key
        jwt.encode({"sub": "ann", "role": "root", "exp": 4_000_000_000}, SECRET),  # no such role
        jwt.encode({"sub": "ann", "role": "admin"}, SECRET),  # never expires
        jwt.encode({"sub": "ann", "role": "admin", "exp": 4_000_000_000}, "", algorithm="none"),
        "not.a.token",
    ],
    ids=["expired", "other-key", "bad-role", "no-expiry", "unsigned", "garbage"],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        Tokens(SECRET, 60).decode(token)


@pytest.mark.parametrize(
    ("headers", "cookies", "expected"),
    [
        ({"authorization": "Bearer aaa"}, {"vigil_token": "ccc"}, "aaa"),  # the header first
        ({"authorization": "bearer  aaa "}, {}, "aaa"),
        ({}, {"vigil_token": "ccc"}, "ccc"),
        ({"authorization": "Basic dXNlcjpwdw=="}, {"vigil_token": "ccc"}, "ccc"),
        ({"authorization": "Bearer "}, {}, None),
        ({}, {"vigil_token": ""}, None),
        ({}, {}, None),
    ],
)
def test_token_from(headers: dict, cookies: dict, expected: str | None) -> None:
    assert token_from(headers, cookies) == expected
