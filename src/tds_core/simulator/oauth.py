"""The Zoho Accounts token endpoint, refresh-token grant only (``zoho-books-reference.md`` §2).

``POST /oauth/v2/token`` with ``grant_type=refresh_token``, ``client_id``, ``client_secret``
and ``refresh_token``, in the query string (Zoho's examples) or a form body. Success gives
``{"access_token", "expires_in": 3600, "api_domain", "token_type": "Bearer"}`` and no new
refresh token. Failures do not use the API envelope (``zoho-books-reference.md`` §10, which wins
over §2): a client must read the body, not the status:

- HTTP 200 ``invalid_client``: unknown ``client_id`` (the reference's "wrong client or wrong DC");
- HTTP 200 ``invalid_client_secret``: the right client with a wrong ``client_secret``;
- HTTP 200 ``invalid_code``: unknown or revoked refresh token;
- HTTP 400 ``{"error": "Access Denied", "error_description": "You have made too many requests
  continuously…", "status": "failure"}``, the throttle: the refresh token already minted its
  quota of access tokens in the sliding window (default 10 in 10 minutes), so every refresh with
  it is refused for ``token_throttle_minutes`` (default 15) from the first refusal. The ``error``
  text is localized: ``token_error_language`` picks it from ``TOKEN_THROTTLE_ERRORS``;
- HTTP 200 ``unsupported_grant_type``: any other grant (the simulator does not model the
  authorization-code step).

``POST /oauth/v2/token/revoke?token=...`` revokes an access or refresh token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from tds_core.simulator.clock import Clock
from tds_core.simulator.config import TOKEN_THROTTLE_ERRORS, SimulatorConfig

TOO_MANY_MESSAGE = "You have made too many requests continuously. Please try again after some time."


class TokenAnswer(NamedTuple):
    """The token endpoint's HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


def _refused(error: str) -> TokenAnswer:
    return TokenAnswer(200, {"error": error})  # Zoho's quirk: a refusal with HTTP 200


class TokenIssuer:
    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._access: dict[str, datetime] = {}
        self._mints: dict[str, list[datetime]] = {}
        self._revoked: set[str] = set()
        self._throttled_until: dict[str, datetime] = {}
        self.minted = 0

    def grant(self, params: Mapping[str, str]) -> TokenAnswer:
        """The token endpoint's answer: status and JSON body."""
        config = self._config
        if params.get("grant_type") != "refresh_token":
            return _refused("unsupported_grant_type")
        if params.get("client_id") != config.client_id:
            return _refused("invalid_client")
        if params.get("client_secret") != config.client_secret:
            return _refused("invalid_client_secret")
        refresh_token = params.get("refresh_token", "")
        if refresh_token != config.refresh_token or refresh_token in self._revoked:
            return _refused("invalid_code")
        now = self._clock()
        throttled_until = self._throttled_until.get(refresh_token)
        if throttled_until is not None and now < throttled_until:
            return self._throttle()
        window_start = now - timedelta(seconds=config.token_mint_window_seconds)
        recent = [moment for moment in self._mints.get(refresh_token, []) if moment > window_start]
        if len(recent) >= config.token_mints_per_window:
            self._mints[refresh_token] = recent
            self._throttled_until[refresh_token] = now + timedelta(minutes=config.token_throttle_minutes)
            return self._throttle()
        recent.append(now)
        self._mints[refresh_token] = recent
        self.minted += 1
        token = self._new_token()
        self._access[token] = now + timedelta(seconds=config.access_token_seconds)
        return TokenAnswer(
            200,
            {
                "access_token": token,
                "expires_in": config.access_token_seconds,
                "api_domain": config.api_domain,
                "token_type": "Bearer",
            },
        )

    def _throttle(self) -> TokenAnswer:
        error = TOKEN_THROTTLE_ERRORS[self._config.token_error_language]
        return TokenAnswer(400, {"error": error, "error_description": TOO_MANY_MESSAGE, "status": "failure"})

    def revoke(self, token: str) -> None:
        self._access.pop(token, None)
        if token == self._config.refresh_token:
            self._revoked.add(token)

    def has_scope(self, scope: str) -> bool:
        """Whether the refresh token's grant covers ``scope`` (``ZohoBooks.contacts.READ``):
        granted exactly, as the module's ``.ALL``, or as the service's ``fullaccess.all``."""
        granted = self._config.granted_scopes
        if granted is None or not scope:
            return True
        service, module, _ = scope.split(".", 2)
        return bool({scope, f"{service}.{module}.ALL", f"{service}.fullaccess.all"} & granted)

    def is_valid(self, token: str) -> bool:
        expires = self._access.get(token)
        return expires is not None and self._clock() < expires

    def _new_token(self) -> str:
        digest = hashlib.sha256(f"{self._config.token_seed}:{self.minted}".encode()).hexdigest()
        return f"1000.{digest[:32]}.{digest[32:]}"
