"""How to reach one Zoho organization: data centre, credentials, limits.

The eight data centres of the Books API (``zoho-books-reference.md`` section 1), each with its
API host and its accounts (OAuth) server. Canada's accounts server is ``accounts.zohocloud.ca``,
not ``accounts.zoho.ca``. ``api_base`` / ``accounts_base`` override the data centre (the
built-in simulator, tests, a proxy).

The client id, client secret and refresh token never appear in ``repr()``, logs or errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BOOKS_PATH = "/books/v3"
INVENTORY_PATH = "/inventory/v1"
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class DataCentre:
    code: str
    region: str
    api_base: str
    accounts_base: str


DATA_CENTRES: dict[str, DataCentre] = {
    dc.code: dc
    for dc in (
        DataCentre("com", "United States", "https://www.zohoapis.com", "https://accounts.zoho.com"),
        DataCentre("eu", "Europe", "https://www.zohoapis.eu", "https://accounts.zoho.eu"),
        DataCentre("in", "India", "https://www.zohoapis.in", "https://accounts.zoho.in"),
        DataCentre("com.au", "Australia", "https://www.zohoapis.com.au", "https://accounts.zoho.com.au"),
        DataCentre("jp", "Japan", "https://www.zohoapis.jp", "https://accounts.zoho.jp"),
        DataCentre("ca", "Canada", "https://www.zohoapis.ca", "https://accounts.zohocloud.ca"),
        DataCentre("com.cn", "China", "https://www.zohoapis.com.cn", "https://accounts.zoho.com.cn"),
        DataCentre("sa", "Saudi Arabia", "https://www.zohoapis.sa", "https://accounts.zoho.sa"),
    )
}


@dataclass(frozen=True)
class ZohoConfig:
    """One Zoho organization and the limits TDS keeps to when calling it.

    Defaults follow Zoho's published limits for a paid plan: 100 requests a minute and 10
    concurrent calls per organization. ``daily_quota`` defaults to the smallest plan (Free,
    1000 a day); set it to your plan's figure (Standard 2000, Professional 5000, Premium and
    above 10000, or what Zoho support raised it to).
    """

    organization_id: str
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    data_centre: str = "com"
    api_base: str | None = None
    accounts_base: str | None = None
    books_path: str = BOOKS_PATH
    inventory_path: str = INVENTORY_PATH
    per_page: int = MAX_PER_PAGE
    max_concurrency: int = 10
    requests_per_minute: int = 100
    daily_quota: int = 1000
    timeout_seconds: float = 30.0
    max_retries: int = 3
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 30.0
    token_refresh_margin_seconds: float = 300.0
    token_mints_per_window: int = 10
    token_mint_window_seconds: float = 600.0
    quota_retry_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.data_centre not in DATA_CENTRES:
            known = ", ".join(DATA_CENTRES)
            raise ValueError(f"unknown Zoho data centre {self.data_centre!r} (one of: {known})")
        if not self.organization_id.strip():
            raise ValueError("organization_id is required (Settings > Manage Organizations in Zoho Books)")
        for name in ("client_id", "client_secret", "refresh_token"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} is required")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        for name in ("max_concurrency", "requests_per_minute", "daily_quota", "token_mints_per_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_retries < 0:
            raise ValueError("max_retries must be zero or more")
        for name in ("timeout_seconds", "token_mint_window_seconds", "quota_retry_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def api_root(self) -> str:
        """``https://www.zohoapis.eu`` for the configured data centre, or the override."""
        return (self.api_base or DATA_CENTRES[self.data_centre].api_base).rstrip("/")

    @property
    def accounts_root(self) -> str:
        return (self.accounts_base or DATA_CENTRES[self.data_centre].accounts_base).rstrip("/")

    @property
    def token_url(self) -> str:
        return f"{self.accounts_root}/oauth/v2/token"

    def base_path(self, api: str) -> str:
        """``/books/v3`` or ``/inventory/v1``."""
        if api == "books":
            return self.books_path
        if api == "inventory":
            return self.inventory_path
        raise ValueError(f"unknown Zoho API {api!r}")
