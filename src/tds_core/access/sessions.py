"""Access tokens are checked against the user's current state, not only their signature.

A signed access token says who its holder was when it was issued. Without this check a user
who is disabled, demoted or whose password changed keeps full power until the token expires
(15 minutes by default): a disabled admin could still create a new admin. Every change to a
user bumps ``tds_users.token_generation`` (``users_update``), so a token is honoured only while
the user exists, is enabled and still has the generation the token carries; the role checked
is the user's current role.

Each API process caches a user's state for ``ttl_seconds`` (``TDS_USER_CACHE_SECONDS``, 2 s by
default; 0 checks on every request), so a revocation takes effect within that time while a busy
dashboard costs at most one query per user every few seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from tds_core.access.users import User, find_active
from tds_core.db.connection import Executor

MAX_CACHED_USERS = 1024


class CurrentUsers:
    """``await users.current(pool, "alice")``: the enabled user, or None (unknown or disabled)."""

    def __init__(self, ttl_seconds: float = 2.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, User | None]] = OrderedDict()

    async def current(self, db: Executor, username: str) -> User | None:
        now = self._clock()
        cached = self._cache.get(username)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await find_active(db, username)
        if self.ttl_seconds > 0:
            self._cache[username] = (now + self.ttl_seconds, user)
            self._cache.move_to_end(username)
            while len(self._cache) > MAX_CACHED_USERS:
                self._cache.popitem(last=False)
        return user

    def forget(self, username: str) -> None:
        """Drop one user's cached state (this process changed it)."""
        self._cache.pop(username, None)
