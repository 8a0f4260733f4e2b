"""Access and refresh tokens: HS256 JWTs signed with ``TDS_JWT_SECRET``.

An access token is short-lived and carries the role; a refresh token lives longer, carries the
user's ``token_generation`` and is checked against the database on use, so a password change,
a role change or a disabled account revokes every refresh token issued before it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from tds_core.access.roles import Role
from tds_core.config.home import kept_secret

ALGORITHM = "HS256"
ISSUER = "tds-core"
MIN_SECRET_LENGTH = 32


class TokenError(Exception):
    """The token is missing, malformed, expired, of the wrong kind or badly signed."""


@dataclass(frozen=True)
class Claims:
    username: str
    role: Role
    kind: str
    generation: int
    expires_at: float


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    role: Role


class TokenIssuer:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the JWT secret must be at least {MIN_SECRET_LENGTH} characters")
        self._secret = secret

    def issue(
        self, username: str, role: Role, generation: int, *, access_seconds: float, refresh_seconds: float
    ) -> TokenPair:
        now = time.time()
        return TokenPair(
            access_token=self._encode(username, role, "access", generation, now, access_seconds),
            refresh_token=self._encode(username, role, "refresh", generation, now, refresh_seconds),
            expires_in=int(access_seconds),
            role=role,
        )

    def decode(self, token: str, kind: str) -> Claims:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("invalid token") from exc
        if claims.get("typ") != kind:
            raise TokenError(f"not an {kind} token" if kind == "access" else f"not a {kind} token")
        try:
            return Claims(
                username=str(claims["sub"]),
                role=Role(claims["role"]),
                kind=kind,
                generation=int(claims.get("gen", 0)),
                expires_at=float(claims["exp"]),
            )
        except (KeyError, ValueError) as exc:
            raise TokenError("invalid token claims") from exc

    def _encode(
        self, username: str, role: Role, kind: str, generation: int, now: float, seconds: float
    ) -> str:
        payload = {
            "sub": username,
            "role": role.value,
            "typ": kind,
            "gen": generation,
            "iss": ISSUER,
            "iat": int(now),
            "exp": int(now + seconds),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)


def development_secret(home: Path) -> str:
    """A random secret kept in ``TDS_HOME/jwt-secret`` (0600), shared by the processes of one
    development installation. Production sets ``TDS_JWT_SECRET``."""
    return kept_secret(home / "jwt-secret", lambda: secrets.token_urlsafe(48))
