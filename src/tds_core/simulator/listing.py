"""One list request: filter, sort, paginate, and describe it in ``page_context``.

Rules (``zoho-books-reference.md`` section 3, plus the simulator's choices where it is
silent):

- ``page`` (default 1) and ``per_page`` (default 200); a ``per_page`` above the maximum (200)
  is served as 200, and ``page_context.per_page`` says so. Loop until ``has_more_page`` is
  false; there is no total count.
- ``last_modified_time`` filters only where documented: Books invoices ("modified after",
  strictly later), Books bills ("at or after"), Inventory items ("modified after"). On the
  other endpoints it is ignored, like any parameter the endpoint does not know, and the full
  list comes back.
- ``sort_column`` must be one of the endpoint's documented columns; anything else is refused
  with HTTP 400 ``{"code": 2, "message": "Invalid value passed for sort_column"}`` (or, with
  ``undocumented_sort_column="ignore"``, the default order is used). ``sort_order`` is ``A``
  or ``D``. Ties are broken by id, so pages never overlap or skip a record.
- ``filter_by`` must be one of the simulated values (``Status.All|Active|Inactive`` for
  items, the status values for documents); others are refused the same way. Without one,
  contacts and Books items show only active records when ``hide_inactive_by_default`` is on
  (the default), and every list echoes the filter it applied in ``applied_filter``.
- With ``ignore_sort`` the asked ``sort_column`` / ``sort_order`` are checked, then ignored:
  the endpoint's default order is applied and echoed, as a client must be ready for.
- ``page_context`` has no total (reference section 10): stop on ``has_more_page``.
- A malformed value (``page=abc``, a ``last_modified_time`` Zoho cannot parse, such as one
  whose ``+`` arrived unencoded as a space) is refused the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from tds_core.simulator.clock import parse_zoho_time
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.endpoints import Endpoint
from tds_core.simulator.records import Record
from tds_core.simulator.store import ID_FIELDS
from tds_core.simulator.views import ViewOptions

TIME_COLUMNS = ("created_time", "last_modified_time")


class InvalidParameter(ValueError):
    """A query parameter Zoho would refuse: HTTP 400, code 2."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid value passed for {name}")
        self.name = name


def _positive_int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(name) from None
    if value < 1:
        raise InvalidParameter(name)
    return value


def _modified_cut(endpoint: Endpoint, params: Mapping[str, str]) -> datetime | None:
    raw = params.get("last_modified_time")
    if endpoint.modified_filter is None or raw is None or raw == "":
        return None
    try:
        return parse_zoho_time(raw)
    except ValueError:
        raise InvalidParameter("last_modified_time") from None


def _sort_key(column: str, id_field: str) -> Any:
    def key(row: Record) -> tuple[tuple[int, Any], int]:
        value = row.get(column)
        if value is None or value == "":
            rank: tuple[int, Any] = (0, "")
        elif column in TIME_COLUMNS:
            rank = (1, parse_zoho_time(str(value)).timestamp())
        elif isinstance(value, bool):
            rank = (1, int(value))
        elif isinstance(value, int | float):
            rank = (1, float(value))
        else:
            rank = (2, str(value).casefold())
        return rank, int(row[id_field])

    return key


def list_page(
    endpoint: Endpoint,
    records: Iterable[Record],
    params: Mapping[str, str],
    options: ViewOptions,
    config: SimulatorConfig,
) -> dict[str, Any]:
    """The full list response body (envelope included) for one request."""
    page = _positive_int(params, "page", 1)
    per_page = min(_positive_int(params, "per_page", config.default_per_page), config.max_per_page)

    applied_filter = params.get("filter_by") or default_filter(endpoint, config)
    if applied_filter not in endpoint.filter_by:
        raise InvalidParameter("filter_by")
    keep = endpoint.filter_by[applied_filter]

    sort_column, sort_order = endpoint.default_sort
    requested_column = params.get("sort_column")
    if requested_column:
        if requested_column in endpoint.sort_columns:
            sort_column, sort_order = requested_column, "A"
        elif config.undocumented_sort_column == "reject":
            raise InvalidParameter("sort_column")
    requested_order = params.get("sort_order")
    if requested_order:
        if requested_order not in ("A", "D"):
            raise InvalidParameter("sort_order")
        sort_order = requested_order
    if config.ignore_sort:
        sort_column, sort_order = endpoint.default_sort  # validated, then ignored: the echo tells

    cut = _modified_cut(endpoint, params)
    equals = {name: params[name] for name in endpoint.equal_params if params.get(name)}

    matched: list[Record] = []
    for record in records:
        if not keep(record):
            continue
        if cut is not None:
            modified = parse_zoho_time(record["last_modified_time"])
            if modified < cut or (endpoint.modified_filter == "after" and modified == cut):
                continue
        if any(not _equal(endpoint, record, name, value) for name, value in equals.items()):
            continue
        matched.append(record)

    rows = [endpoint.row(record, options) for record in matched]
    id_field = ID_FIELDS[endpoint.module]
    rows.sort(key=_sort_key(sort_column, id_field), reverse=sort_order == "D")
    start = (page - 1) * per_page
    page_rows = rows[start : start + per_page]

    page_context: dict[str, Any] = {
        "page": page,
        "per_page": per_page,
        "has_more_page": len(rows) > start + per_page,
        "report_name": endpoint.report_name,
        "applied_filter": applied_filter,
        "custom_fields": [],
        "sort_column": sort_column,
        "sort_order": sort_order,
    }
    page_context.update(endpoint.page_context_extra)
    return {"code": 0, "message": "success", endpoint.list_key: page_rows, "page_context": page_context}


def default_filter(endpoint: Endpoint, config: SimulatorConfig) -> str:
    """The filter a list without ``filter_by`` applies (and echoes as ``applied_filter``)."""
    if endpoint.hides_inactive and config.hide_inactive_by_default:
        return "Status.Active"
    return endpoint.default_filter


def _equal(endpoint: Endpoint, record: Record, name: str, value: str) -> bool:
    if name == "status" and value in endpoint.status_aliases:
        return record.get("status") in endpoint.status_aliases[value]
    return str(record.get(name, "")) == value
