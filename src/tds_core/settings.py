"""Process settings, read once from the environment (``TDS_`` prefix) and ``.env``.

These are the things a process needs before it can reach the database. Behaviour that
operators tune at run time (batch size, attempts, backoff, breaker thresholds) lives in
``tds_configuration`` instead; see :mod:`tds_core.config.runtime`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tds_core.config import encryption

MIN_WEBHOOK_SECRET = 12
MIN_JWT_SECRET = 32
PLACEHOLDERS = ("change", "placeholder", "secret", "example", "xxxx")


ZOHO_CREDENTIALS: dict[str, str] = {
    "zoho_organization_id": "TDS_ZOHO_ORGANIZATION_ID",
    "zoho_client_id": "TDS_ZOHO_CLIENT_ID",
    "zoho_client_secret": "TDS_ZOHO_CLIENT_SECRET",
    "zoho_refresh_token": "TDS_ZOHO_REFRESH_TOKEN",
}
"""The settings a real Zoho source needs, with their environment variables."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TDS_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    home: Path = Field(default=Path(".tds"), description="Where the embedded PostgreSQL and state live.")
    database_url: SecretStr | None = Field(
        default=None, description="postgresql://... of an external PostgreSQL 14+; unset = embedded."
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_processes: int = Field(default=1, ge=1, le=32, description="API processes sharing the port.")
    http_header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds a client has to send a request's headers (408 and closed after).",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Webhook body limit (413 above).")
    max_json_depth: int = Field(default=64, ge=4, le=512, description="Deepest JSON nesting accepted.")
    zoho_webhook_secret: SecretStr | None = Field(
        default=None, description="When set, X-Zoho-Webhook-Signature (HMAC-SHA256 hex) is checked."
    )
    retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After on a 503.")
    api_key_cache_seconds: float = Field(default=5.0, ge=0, description="How long a valid key is cached.")
    user_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="How long an API process trusts a user's cached state (enabled, role, token "
        "generation) when checking an access token; a disabled or changed user loses access within it.",
    )
    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_command_timeout: float = Field(
        default=15.0,
        gt=0,
        description="Seconds a statement of the API or a worker may wait for PostgreSQL before the "
        "request is answered 503 (a hung server) and the batch released.",
    )
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    workers: int = Field(default=1, ge=0, le=32, description="Worker processes `tds up` starts.")
    source: Literal["zoho", "simulator"] | None = Field(
        default=None,
        description="zoho or simulator. Unset: zoho when any Zoho credential is set; otherwise the "
        "built-in simulator in development and test, and a refusal to start in production.",
    )
    zoho_organization_id: str | None = Field(default=None, description="Your Zoho Books organization id.")
    zoho_client_id: str | None = None
    zoho_client_secret: SecretStr | None = None
    zoho_refresh_token: SecretStr | None = None
    zoho_data_centre: str = Field(default="com", description="com, eu, in, com.au, jp, ca, com.cn or sa")
    zoho_api_base: str | None = Field(default=None, description="Override the data centre's API host.")
    zoho_accounts_base: str | None = Field(default=None, description="Override the accounts server.")
    zoho_requests_per_minute: int = Field(default=100, ge=1)
    zoho_daily_quota: int = Field(default=1000, ge=1, description="Your plan's daily API calls.")
    zoho_max_concurrency: int = Field(default=10, ge=1)
    zoho_use_inventory: bool = Field(
        default=False, description="Pull items from Zoho Inventory (documents last_modified_time)."
    )
    webhook_complete_partial: bool = Field(
        default=False,
        description="Keep partial webhooks (just an id, no line items) as hints and fetch the full record.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="Signs access/refresh tokens (32+ characters). Unset in development: a random secret "
        "kept in TDS_HOME/jwt-secret. Required in production.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) encrypting the secrets stored in the database, comma-separated: the "
        "first encrypts, all decrypt (rotation). Unset in development: a random key kept in "
        "TDS_HOME/secret-key. Required in production.",
    )
    cors_origins: list[str] = Field(
        default=[], description="Origins allowed to call the API from a browser (JSON list); none by default."
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses of the reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are "
        'believed (JSON list, e.g. ["127.0.0.1"] behind the nginx of deploy/); none by default, so a '
        "client cannot pick the address its rate limits are counted under.",
    )
    dashboard_dir: Path | None = Field(
        default=None,
        description="The built dashboard (index.html + assets); unset = dashboard/dist of this checkout.",
    )
    simulator_port: int = Field(default=8001, ge=1, le=65535, description="Port of the built-in simulator.")
    log_level: str = "INFO"
    log_requests: bool = Field(
        default=True, description="One log line per HTTP request (method, path, status, ms)."
    )
    log_format: Literal["json", "console"] = "json"

    @field_validator("zoho_webhook_secret")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_WEBHOOK_SECRET:
            raise ValueError(f"must be at least {MIN_WEBHOOK_SECRET} characters (Zoho allows 12-50)")
        return value

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # an empty TDS_SECRET_KEY= is "unset"
        problem = encryption.invalid_keys(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        if self.env != "development" and self.secret_key is not None:
            problem = encryption.placeholder_keys(self.secret_key.get_secret_value())
            if problem:
                raise ValueError(f"{problem} (refused when TDS_ENV={self.env})")
        if self.env != "production":
            return self
        if self.secret_key is None:
            raise ValueError(
                f"TDS_SECRET_KEY must be set when TDS_ENV={self.env}: {encryption.GENERATE_HINT}"
            )
        if self.jwt_secret is None:
            raise ValueError(f"TDS_JWT_SECRET must be set when TDS_ENV={self.env}")
        secret = self.jwt_secret.get_secret_value()
        if len(secret) < MIN_JWT_SECRET or any(word in secret.lower() for word in PLACEHOLDERS):
            raise ValueError(
                f"TDS_JWT_SECRET must be a random value of at least {MIN_JWT_SECRET} characters, "
                "not a placeholder"
            )
        return self

    @property
    def uses_simulator(self) -> bool:
        """Whether the built-in Zoho Books simulator is the source: only when chosen, by
        ``TDS_SOURCE=simulator`` or, with ``TDS_SOURCE`` unset, outside production when no Zoho
        credential at all is set. Never a fallback: :meth:`source_problem` says what is wrong."""
        if self.source is not None:
            return self.source == "simulator"
        return self.env != "production" and not any(getattr(self, name) for name in ZOHO_CREDENTIALS)

    def missing_zoho_credentials(self) -> list[str]:
        """The environment variables of the Zoho credentials that are not set."""
        return [variable for name, variable in ZOHO_CREDENTIALS.items() if not getattr(self, name)]

    def source_problem(self) -> str | None:
        """Why this configuration cannot start a process that talks to the source (one line), or
        None. Checked after the stored secrets joined the settings (they may hold the client
        secret and the refresh token)."""
        if self.uses_simulator:
            if self.env == "production":
                return (
                    "TDS_SOURCE=simulator is refused when TDS_ENV=production: production syncs a "
                    "real Zoho organization"
                )
            return None
        missing = self.missing_zoho_credentials()
        if not missing:
            return None
        why = "TDS_SOURCE=zoho" if self.source == "zoho" else f"TDS_ENV={self.env}"
        if self.source is None and self.env != "production":
            why = "some Zoho credentials are set"
        hint = (
            "" if self.env == "production" else " (or set TDS_SOURCE=simulator to use the built-in simulator)"
        )
        return (
            f"the Zoho source needs all four Zoho credentials ({why}): missing {', '.join(missing)}{hint}; "
            "the client secret and refresh token may also be stored with `tds secrets set`"
        )

    @property
    def embedded(self) -> bool:
        return self.database_url is None
