"""The Zoho Books / Zoho Inventory API as a source of records.

config.ZohoConfig      data centre, organization, credentials (never shown), limits
tokens.TokenManager    refresh-token grant, cached token, single-flight renewal, mint limit
rate_limit             per-organization minute/day limits shared through PostgreSQL,
                       and the in-flight cap lowered after code 1070
client.ZohoClient      get / list_page / iterate, retries, error translation, call count
errors                 the Zoho branch of the TDS exception tree
"""

from tds_core.source.zoho.client import Page, ZohoClient, zoho_time
from tds_core.source.zoho.config import DATA_CENTRES, DataCentre, ZohoConfig
from tds_core.source.zoho.errors import (
    AuthError,
    InvalidURL,
    NotFound,
    QuotaExhausted,
    RateLimited,
    RequestRejected,
    TokenMintLimited,
    TooManyInFlight,
    UnexpectedResponse,
    ZohoError,
    ZohoUnavailable,
)
from tds_core.source.zoho.modules import MODULES, ZohoModule
from tds_core.source.zoho.rate_limit import (
    InFlightLimit,
    MemoryRateLimiter,
    PostgresRateLimiter,
    RateLimiter,
)
from tds_core.source.zoho.tokens import TokenManager

__all__ = [
    "DATA_CENTRES",
    "MODULES",
    "AuthError",
    "DataCentre",
    "InFlightLimit",
    "InvalidURL",
    "MemoryRateLimiter",
    "NotFound",
    "Page",
    "PostgresRateLimiter",
    "QuotaExhausted",
    "RateLimited",
    "RateLimiter",
    "RequestRejected",
    "TokenManager",
    "TokenMintLimited",
    "TooManyInFlight",
    "UnexpectedResponse",
    "ZohoClient",
    "ZohoConfig",
    "ZohoError",
    "ZohoModule",
    "ZohoUnavailable",
    "zoho_time",
]
