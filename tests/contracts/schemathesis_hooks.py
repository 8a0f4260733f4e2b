"""Hooks for the schemathesis run of tests/integration/test_openapi_contract.py (loaded through
``SCHEMATHESIS_HOOKS``).

The run authenticates as one admin. ``PATCH /api/v1/users/{username}`` is fuzzed like every
operation, but against a user kept for it (``fuzz-target``): fuzzing the caller's own account
would disable or demote it, or change its password, and end the session the rest of the run
needs (which is the API doing its job, issue 16 item 3)."""

from __future__ import annotations

from typing import Any

import schemathesis

TARGET = "fuzz-target"


@schemathesis.hook
def map_path_parameters(ctx: Any, path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    if path_parameters and "username" in path_parameters:
        return {**path_parameters, "username": TARGET}
    return path_parameters
