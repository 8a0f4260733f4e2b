"""One refusal family (issue 17, scope 4): every "not found", "wrong state" and "invalid" an
operator command raises is a kind of :class:`tds_core.errors.Refusal`, answered by the API in one
place with its status; the exceptions built on them keep their old built-in bases."""

from __future__ import annotations

import pytest

from tds_core import errors
from tds_core.access import admin
from tds_core.alerts.commands import AlertConflict, AlertNotFound, InvalidSilence
from tds_core.api.routes.webhooks import answer_error
from tds_core.jobs import runner as jobs
from tds_core.observability.stats import InvalidRequest as InvalidStatsRequest
from tds_core.reports.digests import ReportNotFound


@pytest.mark.parametrize(
    ("refusal", "status", "reasons"),
    [
        (errors.NotFound("no such job 7"), 404, ["no such job 7"]),
        (AlertNotFound("no alert 3"), 404, ["no alert 3"]),
        (ReportNotFound("no report 9"), 404, ["no report 9"]),
        (errors.WrongState("job 7 is finished"), 409, ["job 7 is finished"]),
        (AlertConflict("alert 3 is resolved"), 409, ["alert 3 is resolved"]),
        (
            errors.InvalidRequest(["limit: too big", "entity: unknown"]),
            422,
            ["limit: too big", "entity: unknown"],
        ),
        (InvalidSilence("a silence needs a rule"), 422, ["a silence needs a rule"]),
        (InvalidStatsRequest("from must be before to"), 422, ["from must be before to"]),
    ],
)
def test_each_refusal_has_one_answer(refusal: errors.Refusal, status: int, reasons: list[str]) -> None:
    assert isinstance(refusal, errors.Refusal)
    answer = answer_error(refusal, 5)
    assert answer is not None
    assert (answer[0], answer[1]["reasons"]) == (status, reasons)


def test_the_family_keeps_the_built_in_bases_callers_catch() -> None:
    assert issubclass(errors.NotFound, LookupError) and issubclass(errors.InvalidRequest, ValueError)
    assert issubclass(AlertNotFound, LookupError) and issubclass(InvalidSilence, ValueError)
    # one class per meaning: the operator modules use the family's, not their own
    assert jobs.NotFound is errors.NotFound and admin.NotFound is errors.NotFound
    assert jobs.WrongState is errors.WrongState and jobs.InvalidRequest is errors.InvalidRequest
