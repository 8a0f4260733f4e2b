"""A built-in Zoho Books (and Zoho Inventory) simulator, so TDS runs without a Zoho account.

It follows ``zoho-books-reference.md`` (sections 1-7) and answers in the shapes of Zoho's own
OpenAPI documents (the tests validate its responses against them). Parts:

- :mod:`.store`: the organization's records (seeded ``random.Random``, injectable clock),
  create/update/delete/stock mutations, and a change log ("what changed since T").
- :mod:`.app`: ``create_app(store, config=...)``, the HTTP API (token endpoint, Books v3
  and Inventory v1 reads) with Zoho's envelope, errors and limits.
- :mod:`.webhooks`: an emitter posting changes to TDS as Zoho-style webhooks (with seeded
  duplicates, reordering and drops) and ``generate()``, a traffic generator.
- :mod:`.server`: ``serve(host, port, seed, records_per_module, ...)`` runs it with uvicorn.

Simulated
  OAuth refresh grant (query string or form body; errors as ``{"error": ...}`` with HTTP 200;
  10 tokens per refresh token per 10 minutes; one-hour tokens); the ``Zoho-oauthtoken``
  header and ``organization_id`` on every call; list and get for Books ``items``,
  ``contacts``, ``invoices``, ``bills``, ``creditnotes`` and Inventory ``items`` and
  ``pricebooks``; ``page``/``per_page`` (default and maximum 200) and ``page_context``;
  ``sort_column``/``sort_order`` with each endpoint's documented columns; the
  ``last_modified_time`` filter on Books invoices (after), Books bills (at or after) and
  Inventory items (after); ``filter_by`` status values (items list active ones by default);
  exact-match ``status``, ``customer_id``, ``vendor_id``, ``contact_type`` where documented;
  429 codes 44 (100/minute), 45 (daily quota), 1070 (10 in flight), without ``Retry-After``;
  404 code 1002; injectable faults (500 code 1000, latency). Deletes vanish from lists.

Not simulated
  Writes through the API (mutate the store directly); the authorization-code grant and
  scopes; other modules and sub-resources (payments, comments, PDFs); search and the other
  documented filters (``search_text``, ``date_start``..., ``filter_by`` values outside the
  status ones are refused); webhook signatures and Zoho's webhook retry policies; per-plan
  differences (Free plan's 5 concurrent calls: set ``max_concurrent_requests``).

Unconfirmed in the reference, simulated as it describes (or as chosen here)
  - The webhook body is the record under its module key (``{"invoice": {...}}``), in the
    module's GET shape; a delete carries the last state (or only the id, by choice).
  - ``invalid_code`` (and the other token errors) arrive with HTTP 200; the 401 body is
    ``{"code": 57, ...}``; no ``Retry-After`` header on 429s.
  - The token limit is the current "10 per 10 minutes" rule (a sliding window), not the
    older "30 active tokens" rule.
  - ``per_page`` maximum 200 everywhere (documented for invoices only); above it, 200 is
    served.
  - Books items carry no ``last_modified_time`` or top-level stock (configurable); Inventory
    items do. Books and Inventory share one item set, as in an organization with both.
  - Inventory items list active items by default, like Books items; contacts list all.
  - ``GET /inventory/v1/pricebooks/{id}`` (not in the Inventory OpenAPI) answers under the
    ``pricebook`` key, like the documented update response.
  - Choices where the reference is silent: an undocumented ``sort_column`` (e.g.
    ``last_modified_time`` on invoices) and malformed values are refused with 400
    ``{"code": 2, "message": "Invalid value passed for <param>"}`` (``sort_column`` can be set
    to be ignored); filters an endpoint does not document (e.g. ``last_modified_time`` on
    contacts) are ignored and the full list comes back; a missing ``organization_id`` is
    400 code 2 and an organization other than the simulated one is 401 code 57; an unknown
    path is 404 code 1002 "Invalid URL Passed"; the per-minute limit counts calendar
    minutes and the daily quota calendar days in the organization's zone.
"""

from __future__ import annotations

from tds_core.simulator.app import create_app
from tds_core.simulator.clock import ManualClock
from tds_core.simulator.config import Faults, SimulatorConfig
from tds_core.simulator.server import serve
from tds_core.simulator.store import Change, Store
from tds_core.simulator.webhooks import WebhookConfig, WebhookEmitter, generate

__all__ = [
    "Change",
    "Faults",
    "ManualClock",
    "SimulatorConfig",
    "Store",
    "WebhookConfig",
    "WebhookEmitter",
    "create_app",
    "generate",
    "serve",
]
