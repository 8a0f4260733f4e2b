"""What every request body of the admin API shares.

- :class:`RequestBody` refuses fields it does not know (``additionalProperties: false`` in the
  OpenAPI document): a misspelt ``heal`` or ``dry_run`` is a 422 naming it, never a request
  quietly done with the default.
- :data:`Instant` is a date-time given as ISO 8601 text. Pydantic would also take a number (or a
  query string of digits) as seconds since 1970, so ``"to": 0`` selected 1970 instead of being
  refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d*)?\s*")


def _text_only(value: Any) -> Any:
    """Pydantic reads a number, or a string of digits (a query parameter), as seconds since
    1970; the API's date-times are ISO 8601 only."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an ISO 8601 date-time, not a number")
    return value


Instant = Annotated[datetime, BeforeValidator(_text_only)]
