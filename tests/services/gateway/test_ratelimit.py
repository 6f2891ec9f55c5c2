"""One suite over both login limiters: in-process, and Redis (the real server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from services.gateway.ratelimit import (
    Limit,
    LoginLimiter,
    MemoryLoginLimiter,
    RedisLoginLimiter,
    login_limits,
)

WINDOW_S = 1


@dataclass
class Setup:
    limiter: LoginLimiter
    end_window: Callable[[], Awaitable[None]]  # lets the current window pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def setup(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    if request.param == "memory":
        clock = FakeClock()

        async def advance() -> None:
            clock.now += WINDOW_S

        yield Setup(MemoryLoginLimiter(WINDOW_S, clock=clock), advance)
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    limiter = RedisLoginLimiter(redis, WINDOW_S, prefix=f"test:{uuid.uuid4().hex}:")

    async def expire() -> None:
        await asyncio.sleep(WINDOW_S + 0.1)  # the server's own clock ends the window

    try:
        yield Setup(limiter, expire)
    finally:
        await redis.aclose()


USER = [Limit("user:ann", 3)]


async def fail(limiter: LoginLimiter, limits: list[Limit], times: int) -> None:
    for _ in range(times):
        await limiter.record_failure(limits)


async def test_allowed_until_the_limit_then_refused(setup: Setup) -> None:
    limiter = setup.limiter
    await fail(limiter, USER, 2)
    assert await limiter.retry_after(USER) == 0
    await fail(limiter, USER, 1)
    assert 0 < await limiter.retry_after(USER) <= WINDOW_S


async def test_the_window_ends(setup: Setup) -> None:
    await fail(setup.limiter, USER, 3)
    await setup.end_window()
    assert await setup.limiter.retry_after(USER) == 0
    await fail(setup.limiter, USER, 2)  # a new window counts from zero
    assert await setup.limiter.retry_after(USER) == 0


async def test_reset_forgets_a_key(setup: Setup) -> None:
    await fail(setup.limiter, USER, 3)
    await setup.limiter.reset("user:ann")
    assert await setup.limiter.retry_after(USER) == 0


async def test_keys_count_apart_and_either_limit_refuses(setup: Setup) -> None:
    limiter = setup.limiter
    from_one_client = [login_limits("10.0.0.1", f"user{n}", per_client=4, per_user=3)
                       for n in range(4)]
    for limits in from_one_client:  # four users, one failure each: the client is at 4
        await limiter.record_failure(limits)
    assert all([await limiter.retry_after(limits) for limits in from_one_client])
    elsewhere = login_limits("10.0.0.2", "user0", per_client=4, per_user=3)
    assert await limiter.retry_after(elsewhere) == 0  # user0 failed once only
    await fail(limiter, elsewhere, 2)
    assert await limiter.retry_after(login_limits("10.0.0.3", "USER0", 4, 3)) > 0  # any case


async def test_memory_limiter_forgets_closed_windows_when_full() -> None:
    clock = FakeClock()
    limiter = MemoryLoginLimiter(WINDOW_S, clock=clock, max_keys=10)
    for n in range(10):
        await limiter.record_failure([Limit(f"user:{n}", 3)])
    clock.now += WINDOW_S
    await limiter.record_failure([Limit("user:new", 3)])
    assert list(limiter._counts) == ["user:new"]
