"""Failed-login limits per client address and per username: one interface, two adapters.

Each key counts failures in a fixed window that opens with its first failure; once a key reaches
its limit, logins under it are refused until the window closes. Redis shares the counts between
gateway replicas; the in-process adapter serves the embedded mode.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from vigil.errors import Unavailable


@dataclass(frozen=True)
class Limit:
    key: str
    attempts: int  # failures allowed in one window


def login_limits(client: str, username: str, per_client: int, per_user: int) -> list[Limit]:
    return [Limit(f"client:{client}", per_client), Limit(f"user:{username.lower()}", per_user)]


class LoginLimiter(abc.ABC):
    def __init__(self, window_s: int) -> None:
        self.window_s = window_s

    @abc.abstractmethod
    async def retry_after(self, limits: Sequence[Limit]) -> int:
        """Seconds until a login under these keys is allowed again; 0 when it is now."""

    @abc.abstractmethod
    async def record_failure(self, limits: Sequence[Limit]) -> None: ...

    @abc.abstractmethod
    async def reset(self, key: str) -> None:
        """Forget a key's failures (a user who logged in)."""


class MemoryLoginLimiter(LoginLimiter):
    def __init__(
        self, window_s: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        super().__init__(window_s)
        self.clock = clock
        self.max_keys = max_keys
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (failures, window end)

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counts.get(key)
        if entry is not None and entry[1] <= now:
            del self._counts[key]
            return None
        return entry

    async def retry_after(self, limits: Sequence[Limit]) -> int:
        now = self.clock()
        waits = [0]
        for limit in limits:
            entry = self._live(limit.key, now)
            if entry is not None and entry[0] >= limit.attempts:
                waits.append(math.ceil(entry[1] - now))
        return max(waits)

    async def record_failure(self, limits: Sequence[Limit]) -> None:
        now = self.clock()
        if len(self._counts) >= self.max_keys:  # many names tried: drop the closed windows
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        for limit in limits:
            count, ends = self._live(limit.key, now) or (0, now + self.window_s)
            self._counts[limit.key] = (count + 1, ends)

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisLoginLimiter(LoginLimiter):
    def __init__(self, redis: Redis, window_s: int, prefix: str = "vigil:login:") -> None:
        super().__init__(window_s)
        self.redis = redis
        self.prefix = prefix

    async def retry_after(self, limits: Sequence[Limit]) -> int:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for limit in limits:
                    pipe.get(self.prefix + limit.key)
                    pipe.pttl(self.prefix + limit.key)
                replies = await pipe.execute()
        except RedisError as exc:
            raise Unavailable(f"redis: {exc}") from exc
        waits = [0]
        for limit, count, ttl_ms in zip(limits, replies[::2], replies[1::2], strict=True):
            if count is not None and int(count) >= limit.attempts and ttl_ms > 0:
                waits.append(math.ceil(ttl_ms / 1000))
        return max(waits)

    async def record_failure(self, limits: Sequence[Limit]) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for limit in limits:
                    key = self.prefix + limit.key
                    pipe.set(key, 0, ex=self.window_s, nx=True)  # opens the window once
                    pipe.incr(key)  # keeps the expiry set above
                await pipe.execute()
        except RedisError as exc:
            raise Unavailable(f"redis: {exc}") from exc

    async def reset(self, key: str) -> None:
        try:
            await self.redis.delete(self.prefix + key)
        except RedisError as exc:
            raise Unavailable(f"redis: {exc}") from exc
