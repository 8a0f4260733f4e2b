"""The Zoho Accounts token endpoint, refresh-token grant only (``zoho-books-reference.md`` §2).

``POST /oauth/v2/token`` with ``grant_type=refresh_token``, ``client_id``, ``client_secret``
and ``refresh_token``, in the query string (Zoho's examples) or a form body. Success gives
``{"access_token", "expires_in": 3600, "api_domain", "token_type": "Bearer"}`` and no new
refresh token. Failures are a JSON ``{"error": ...}`` sent with HTTP 200, the quirk a client
must handle by reading the body:

- ``invalid_client``: unknown ``client_id`` or wrong ``client_secret`` (the reference's
  "wrong client or wrong DC");
- ``invalid_code``: unknown or revoked refresh token;
- ``access_denied``: the refresh token already minted its quota of access tokens in the
  sliding window (default 10 in 10 minutes); refused attempts are not counted;
- ``unsupported_grant_type``: any other grant (the simulator does not model the
  authorization-code step).

``POST /oauth/v2/token/revoke?token=...`` revokes an access or refresh token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tds_core.simulator.clock import Clock
from tds_core.simulator.config import SimulatorConfig

TOO_MANY_MESSAGE = "You have made too many requests continuously. Please try again after some time."


class TokenIssuer:
    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._access: dict[str, datetime] = {}
        self._mints: dict[str, list[datetime]] = {}
        self._revoked: set[str] = set()
        self.minted = 0

    def grant(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The token endpoint's JSON answer (always sent with HTTP 200)."""
        config = self._config
        if params.get("grant_type") != "refresh_token":
            return {"error": "unsupported_grant_type"}
        if params.get("client_id") != config.client_id or params.get("client_secret") != config.client_secret:
            return {"error": "invalid_client"}
        refresh_token = params.get("refresh_token", "")
        if refresh_token != config.refresh_token or refresh_token in self._revoked:
            return {"error": "invalid_code"}
        now = self._clock()
        window_start = now - timedelta(seconds=config.token_mint_window_seconds)
        recent = [moment for moment in self._mints.get(refresh_token, []) if moment > window_start]
        if len(recent) >= config.token_mints_per_window:
            self._mints[refresh_token] = recent
            return {"error": "access_denied", "error_description": TOO_MANY_MESSAGE}
        recent.append(now)
        self._mints[refresh_token] = recent
        self.minted += 1
        token = self._new_token()
        self._access[token] = now + timedelta(seconds=config.access_token_seconds)
        return {
            "access_token": token,
            "expires_in": config.access_token_seconds,
            "api_domain": config.api_domain,
            "token_type": "Bearer",
        }

    def revoke(self, token: str) -> None:
        self._access.pop(token, None)
        if token == self._config.refresh_token:
            self._revoked.add(token)

    def is_valid(self, token: str) -> bool:
        expires = self._access.get(token)
        return expires is not None and self._clock() < expires

    def _new_token(self) -> str:
        digest = hashlib.sha256(f"{self._config.token_seed}:{self.minted}".encode()).hexdigest()
        return f"1000.{digest[:32]}.{digest[32:]}"
