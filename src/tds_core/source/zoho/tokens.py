"""Access tokens from the refresh-token grant: cached, renewed early, one refresh at a time.

An access token lives an hour (``expires_in``). The manager renews it ``refresh_margin``
before expiry, so a call never leaves with a token about to lapse. All tasks of a process
share one manager: the first task that finds the token stale refreshes it under a lock, the
others wait for that refresh and reuse its token (single flight).

Zoho lets one refresh token mint at most 10 access tokens in 10 minutes and then blocks
minting for the rest of the window. The manager counts its own mints and refuses the next
one with :class:`TokenMintLimited` instead of asking (and prolonging the block). The count is
per process; processes sharing a refresh token share Zoho's budget. When Zoho's token endpoint
throttles anyway (HTTP 400 ``status: "failure"``, reference section 10), the manager asks no more
until the error's ``retry_at`` (15 minutes at least): asking during a throttle prolongs it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from tds_core.source.zoho.config import ZohoConfig
from tds_core.source.zoho.errors import (
    TokenMintLimited,
    UnexpectedResponse,
    json_object,
    translate_token_response,
    translate_transport,
)

log = structlog.get_logger("tds.zoho")

DEFAULT_EXPIRES_IN = 3600.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenManager:
    def __init__(
        self,
        config: ZohoConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self._minted_at = 0.0
        self._mints: deque[float] = deque()
        self._throttled: TokenMintLimited | None = None
        self.refreshes = 0

    def __repr__(self) -> str:
        state = "cached" if self._token else "empty"
        return f"<TokenManager {self._config.token_url} token={state} refreshes={self.refreshes}>"

    async def access_token(self) -> str:
        """A valid access token: the cached one, or a fresh one if it is due for renewal."""
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        async with self._lock:
            # another task may have renewed it while this one waited for the lock
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            return await self._mint()

    async def refresh(self, stale: str | None = None) -> str:
        """Mint a new access token now (after Zoho refused the cached one).

        Pass the token a call was refused with: if a concurrent refresh has already replaced
        it, that newer token is returned without minting again.
        """
        async with self._lock:
            current = self._token
            if (
                stale is not None
                and current is not None
                and current != stale
                and self._clock() < self._renew_at
            ):
                return current
            return await self._mint()

    def is_fresh(self, token: str, within_seconds: float) -> bool:
        """Is ``token`` the cached one, minted less than ``within_seconds`` ago? A fresh token that
        Zoho refuses points at the refresh token or a missing scope, not at expiry."""
        return token == self._token and self._clock() - self._minted_at < within_seconds

    def invalidate(self) -> None:
        """Forget the cached token (the next call refreshes)."""
        self._token = None
        self._renew_at = 0.0

    async def _mint(self) -> str:
        config = self._config
        now = self._clock()
        window = config.token_mint_window_seconds
        while self._mints and self._mints[0] <= now - window:
            self._mints.popleft()
        if len(self._mints) >= config.token_mints_per_window:
            wait = self._mints[0] + window - now
            raise TokenMintLimited(
                f"refusing to mint another Zoho access token: {len(self._mints)} minted in the last "
                f"{window:.0f} s, Zoho's limit is {config.token_mints_per_window} per refresh token; "
                "something is refreshing far too often (tokens refused again and again?)",
                retry_at=self._wall_clock() + timedelta(seconds=wait),
            )
        throttled = self._throttled
        if throttled is not None:
            if self._wall_clock() < throttled.retry_at:
                raise TokenMintLimited(
                    f"not asking Zoho for an access token before {throttled.retry_at.isoformat()}: "
                    f"its token endpoint is throttling this refresh token ({throttled})",
                    retry_at=throttled.retry_at,
                    status=throttled.status,
                )
            self._throttled = None
        self._mints.append(now)
        endpoint = f"POST {config.token_url}"
        form = {
            "grant_type": "refresh_token",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "refresh_token": config.refresh_token,
        }
        try:
            response = await self._http.post(config.token_url, data=form, timeout=config.timeout_seconds)
        except httpx.HTTPError as exc:
            raise translate_transport(endpoint, exc) from exc
        body = json_object(response.content)
        error = translate_token_response(
            config.token_url,
            response.status_code,
            body,
            now=self._wall_clock(),
            mint_window=timedelta(seconds=window),
        )
        if error is not None:
            log.warning("zoho_token_refresh_failed", url=config.token_url, error=str(error))
            if isinstance(error, TokenMintLimited):
                self._throttled = error
            raise error
        assert body is not None
        token = str(body["access_token"])
        expires_in = _seconds(body.get("expires_in"), endpoint)
        self._token = token
        self._minted_at = now
        self._renew_at = now + max(0.0, expires_in - config.token_refresh_margin_seconds)
        self.refreshes += 1
        self._check_api_domain(body.get("api_domain"))
        log.info("zoho_token_refreshed", url=config.token_url, expires_in=expires_in)
        return token

    def _check_api_domain(self, api_domain: Any) -> None:
        """The token response names the organization's API host: warn if it is not the configured one."""
        config = self._config
        if config.api_base is not None or not isinstance(api_domain, str) or not api_domain:
            return
        if api_domain.rstrip("/") != config.api_root:
            log.warning(
                "zoho_data_centre_mismatch",
                configured=config.api_root,
                api_domain=api_domain,
                hint="set the data centre to the one of the organization's Zoho account",
            )


def _seconds(value: Any, endpoint: str) -> float:
    if value is None:
        return DEFAULT_EXPIRES_IN
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UnexpectedResponse(f"{endpoint}: expires_in is not a number") from None
    if seconds <= 0:
        raise UnexpectedResponse(f"{endpoint}: expires_in is not positive")
    return seconds
