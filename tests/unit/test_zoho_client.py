"""ZohoClient against a scripted Zoho (httpx.MockTransport): requests, paging, retries, errors."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import structlog

from tds_core.source.zoho import (
    MODULES,
    AuthError,
    MemoryRateLimiter,
    NotFound,
    QuotaExhausted,
    RateLimited,
    RequestRejected,
    TokenMintLimited,
    UnexpectedResponse,
    ZohoClient,
    ZohoUnavailable,
    zoho_time,
)
from tests.zoho_fakes import SECRETS, FakeClock, FakeZoho, envelope, make_config, zoho_error

ClientFactory = Callable[..., ZohoClient]


@pytest.fixture
def zoho() -> FakeZoho:
    return FakeZoho()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_client(zoho: FakeZoho, clock: FakeClock) -> AsyncIterator[ClientFactory]:
    """Build clients on the fake Zoho and the fake clock (config overrides as keywords)."""
    made: list[ZohoClient] = []

    def build(
        limiter: MemoryRateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **overrides: Any,
    ) -> ZohoClient:
        config = make_config(**overrides)
        limiter = limiter or MemoryRateLimiter(
            config.organization_id,
            requests_per_minute=config.requests_per_minute,
            daily_quota=config.daily_quota,
            clock=clock,
            sleep=clock.sleep,
        )
        client = ZohoClient(
            config,
            limiter,
            transport=transport or zoho.transport(),
            clock=clock,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
            rng=random.Random(7),
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> ZohoClient:
    return make_client()


def page_of(key: str, records: list[dict[str, Any]], more: bool, page: int = 1) -> httpx.Response:
    return envelope(**{key: records, "page_context": {"page": page, "per_page": 200, "has_more_page": more}})


async def test_every_call_carries_the_token_and_the_organization(client: ZohoClient, zoho: FakeZoho) -> None:
    record = await client.get("invoices", "460000000091001")
    assert record == {"invoice_id": "460000000091001"}
    (request,) = zoho.api_requests
    assert request.method == "GET"
    assert request.url.host == "www.zohoapis.eu"
    assert request.url.path == "/books/v3/invoices/460000000091001"
    assert request.url.params["organization_id"] == "10234695"
    assert request.headers["authorization"] == "Zoho-oauthtoken access-1"
    assert client.calls_made == 1


@pytest.mark.parametrize(
    ("module", "path", "key"),
    [
        ("items", "/books/v3/items/7", "item"),
        ("contacts", "/books/v3/contacts/7", "contact"),
        ("invoices", "/books/v3/invoices/7", "invoice"),
        ("bills", "/books/v3/bills/7", "bill"),
        ("creditnotes", "/books/v3/creditnotes/7", "creditnote"),
        ("inventory_items", "/inventory/v1/items/7", "item"),
        ("pricebooks", "/inventory/v1/pricebooks/7", "pricebook"),
    ],
)
async def test_get_each_module(client: ZohoClient, zoho: FakeZoho, module: str, path: str, key: str) -> None:
    zoho.reply(envelope(**{key: {"id": "7", "last_modified_time": "2024-01-15T10:20:30+0530"}}))
    assert (await client.get(module, "7"))["id"] == "7"
    assert zoho.api_requests[0].url.path == path


async def test_unknown_module(client: ZohoClient) -> None:
    with pytest.raises(ValueError, match="unknown Zoho module 'payments'"):
        await client.get("payments", "1")


async def test_record_id_is_quoted(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.reply(envelope(invoice={}))
    await client.get("invoices", "a/../b")
    assert zoho.api_requests[0].url.raw_path.startswith(b"/books/v3/invoices/a%2F..%2Fb?")


async def test_credit_note_version_comes_from_updated_time(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.reply(envelope(creditnote={"creditnote_id": "9", "updated_time": "2024-01-20T11:00:00+0530"}))
    record = await client.get("creditnotes", "9")
    assert record["last_modified_time"] == "2024-01-20T11:00:00+0530"
    assert record["updated_time"] == "2024-01-20T11:00:00+0530"


async def test_list_page(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.reply(page_of("invoices", [{"invoice_id": "1"}, {"invoice_id": "2"}], more=True, page=3))
    since = datetime(2024, 1, 15, 10, 20, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    page = await client.list_page("invoices", 3, last_modified_time=since, sort_column="created_time")
    assert [r["invoice_id"] for r in page.records] == ["1", "2"]
    assert page.has_more_page and page.number == 3
    assert page.context["page"] == 3
    url = zoho.api_requests[0].url
    assert dict(url.params) == {
        "organization_id": "10234695",
        "last_modified_time": "2024-01-15T10:20:30+0530",
        "sort_column": "created_time",
        "page": "3",
        "per_page": "200",
    }
    assert b"last_modified_time=2024-01-15T10%3A20%3A30%2B0530" in url.query


async def test_iterate_until_has_more_page_is_false(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.reply(
        page_of("contacts", [{"contact_id": "1"}, {"contact_id": "2"}], more=True),
        page_of("contacts", [{"contact_id": "3"}], more=True, page=2),
        page_of("contacts", [{"contact_id": "4"}], more=False, page=3),
    )
    ids = [record["contact_id"] async for record in client.iterate("contacts", filter_by="Status.All")]
    assert ids == ["1", "2", "3", "4"]
    assert [r.url.params["page"] for r in zoho.api_requests] == ["1", "2", "3"]
    assert {r.url.params["per_page"] for r in zoho.api_requests} == {"200"}
    assert {r.url.params["filter_by"] for r in zoho.api_requests} == {"Status.All"}
    assert client.calls_made == 3


async def test_iterate_inventory_pricebooks(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.reply(page_of("pricebooks", [{"pricebook_id": "p1"}], more=False))
    pages = [page async for page in client.iterate_pages(MODULES["pricebooks"])]
    assert len(pages) == 1 and pages[0].records == [{"pricebook_id": "p1"}]
    assert zoho.api_requests[0].url.path == "/inventory/v1/pricebooks"


async def test_missing_page_context_pages_by_size(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.reply(envelope(items=[{"item_id": "1"}, {"item_id": "2"}]), envelope(items=[]))
    ids = [r["item_id"] async for r in client.iterate("items", per_page=2)]
    assert ids == ["1", "2"]
    assert len(zoho.api_requests) == 2


async def test_empty_page_claiming_more_stops(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.reply(page_of("bills", [], more=True))
    assert [r async for r in client.iterate("bills")] == []
    assert len(zoho.api_requests) == 1


async def test_answer_without_the_envelope_key(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.reply(envelope(bill=None), envelope(), httpx.Response(200, text="<html>"))
    with pytest.raises(UnexpectedResponse, match="no 'bill' object"):
        await client.get("bills", "1")
    with pytest.raises(UnexpectedResponse, match="no 'bills' list"):
        await client.list_page("bills")
    with pytest.raises(UnexpectedResponse, match="not JSON"):
        await client.get("bills", "1")


async def test_refused_token_is_refreshed_once(client: ZohoClient, zoho: FakeZoho, clock: FakeClock) -> None:
    await client.get("invoices", "1")
    clock.advance(120)
    zoho.reply(zoho_error(401, 57, "You are not authorized to perform this operation"))
    assert await client.get("invoices", "2") == {"invoice_id": "2"}
    assert [r.headers["authorization"] for r in zoho.api_requests] == [
        "Zoho-oauthtoken access-1",
        "Zoho-oauthtoken access-1",
        "Zoho-oauthtoken access-2",
    ]
    assert len(zoho.token_requests) == 2


async def test_refused_twice_names_the_likely_cause(
    client: ZohoClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    await client.get("invoices", "1")
    clock.advance(120)
    zoho.reply(*[zoho_error(401, 57, "You are not authorized to perform this operation")] * 2)
    with pytest.raises(AuthError) as refused:
        await client.get("pricebooks", "1")
    message = str(refused.value)
    assert "expired or revoked" in message and "ZohoInventory.settings.READ" in message
    assert "You are not authorized" in message
    assert refused.value.alert and refused.value.code == 57
    assert len(zoho.token_requests) == 2
    assert len(zoho.api_requests) == 3


async def test_a_just_minted_token_refused_is_not_refreshed_again(client: ZohoClient, zoho: FakeZoho) -> None:
    """A missing scope must not burn the minting budget: one refusal of a fresh token is final."""
    zoho.reply(zoho_error(401, 57, "You are not authorized to perform this operation"))
    with pytest.raises(AuthError, match=r"ZohoBooks\.bills\.READ"):
        await client.get("bills", "1")
    assert len(zoho.token_requests) == 1


async def test_per_minute_limit_waits_for_the_next_minute(
    client: ZohoClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    zoho.reply(zoho_error(429, 44, "blocked"))
    assert await client.get("invoices", "1") == {"invoice_id": "1"}
    assert clock.now == datetime(2030, 1, 15, 12, 1, tzinfo=UTC)
    assert clock.sleeps == [50.0]
    assert client.calls_made == 2


async def test_per_minute_limit_persisting_is_raised(
    make_client: ClientFactory, zoho: FakeZoho, clock: FakeClock
) -> None:
    client = make_client(max_retries=2)
    zoho.reply(*[zoho_error(429, 44, "blocked")] * 3)
    with pytest.raises(RateLimited):
        await client.get("invoices", "1")
    assert client.calls_made == 3
    assert clock.now == datetime(2030, 1, 15, 12, 2, tzinfo=UTC)


async def test_daily_quota_is_never_retried(client: ZohoClient, zoho: FakeZoho, clock: FakeClock) -> None:
    zoho.reply(zoho_error(429, 45, "The API call for this organization has exceeded the maximum call rate"))
    with pytest.raises(QuotaExhausted) as exhausted:
        await client.get("invoices", "1")
    assert exhausted.value.alert
    assert exhausted.value.retry_at == clock.now + timedelta(hours=1)
    assert client.calls_made == 1
    # the process stops calling until the quota may have reset
    with pytest.raises(QuotaExhausted):
        await client.get("invoices", "2")
    assert client.calls_made == 1
    clock.advance(3600)
    assert await client.get("invoices", "3") == {"invoice_id": "3"}


async def test_too_many_in_flight_lowers_concurrency(
    client: ZohoClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    zoho.reply(zoho_error(429, 1070, "in process"))
    assert await client.get("invoices", "1") == {"invoice_id": "1"}
    assert client.in_flight.limit == 9
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] <= 1.0


@pytest.mark.parametrize(
    "failure",
    [
        zoho_error(500, 1000, "Internal error"),
        httpx.Response(502, text="bad gateway"),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
    ],
    ids=["code-1000", "502", "connect", "timeout"],
)
async def test_transient_failures_are_retried(
    client: ZohoClient, zoho: FakeZoho, clock: FakeClock, failure: Any
) -> None:
    zoho.reply(failure, failure)
    assert await client.get("invoices", "1") == {"invoice_id": "1"}
    assert client.calls_made == 3
    # full-jitter backoff: base 1 s, then 2 s
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 1.0 and 0 <= clock.sleeps[1] <= 2.0


async def test_retries_are_bounded(client: ZohoClient, zoho: FakeZoho, clock: FakeClock) -> None:
    zoho.reply(*[httpx.ConnectError("connection refused")] * 4)
    with pytest.raises(ZohoUnavailable, match="ConnectError") as failed:
        await client.get("invoices", "1")
    assert isinstance(failed.value.__cause__, httpx.ConnectError)
    assert client.calls_made == 4
    assert len(clock.sleeps) == 3


@pytest.mark.parametrize(
    ("reply", "expected", "message"),
    [
        (zoho_error(404, 1002, "Invoice does not exist."), NotFound, "Invoice does not exist."),
        (zoho_error(400, 4, "Invalid value passed for per_page"), RequestRejected, "Invalid value"),
    ],
)
async def test_permanent_errors_are_not_retried(
    client: ZohoClient, zoho: FakeZoho, reply: httpx.Response, expected: type[Exception], message: str
) -> None:
    zoho.reply(reply)
    with pytest.raises(expected, match=message):
        await client.get("invoices", "1")
    assert client.calls_made == 1


async def test_token_endpoint_outage_is_retried(client: ZohoClient, zoho: FakeZoho) -> None:
    zoho.token_script.append(httpx.Response(503))
    assert await client.get("invoices", "1") == {"invoice_id": "1"}
    assert len(zoho.token_requests) == 2
    assert client.calls_made == 1


async def test_minting_limit_reaches_the_caller(make_client: ClientFactory, zoho: FakeZoho) -> None:
    client = make_client(token_mints_per_window=1)
    zoho.token_script.append(httpx.Response(503))
    with pytest.raises(TokenMintLimited):
        await client.get("invoices", "1")
    assert client.calls_made == 0


async def test_every_call_takes_a_rate_limit_slot(
    make_client: ClientFactory, zoho: FakeZoho, clock: FakeClock
) -> None:
    window = FakeClock(exact=True)  # the limiter's sliding window waits exactly
    limiter = MemoryRateLimiter(
        "org", requests_per_minute=3, clock=window, sleep=window.sleep, jitter_seconds=0
    )
    client = make_client(requests_per_minute=3, limiter=limiter)
    for number in range(7):
        await client.get("invoices", str(number))
    assert window.now == datetime(2030, 1, 15, 12, 2, 12, tzinfo=UTC)
    assert window.sleeps == [61.0, 61.0]
    assert len(zoho.api_requests) == 7


async def test_concurrency_is_capped(make_client: ClientFactory, zoho: FakeZoho) -> None:
    in_flight = 0
    highest = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, highest
        if request.url.path == "/oauth/v2/token":
            return zoho.handle(request)
        in_flight += 1
        highest = max(highest, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return zoho.handle(request)

    client = make_client(max_concurrency=2, transport=httpx.MockTransport(slow))
    records = await asyncio.gather(*(client.get("invoices", str(n)) for n in range(8)))
    assert [r["invoice_id"] for r in records] == [str(n) for n in range(8)]
    assert highest == 2


async def test_secrets_never_leak(make_client: ClientFactory, zoho: FakeZoho, clock: FakeClock) -> None:
    client = make_client()
    zoho.token_script.append(httpx.Response(200, json={"error": "invalid_client"}))
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(AuthError) as refused:
            await client.get("invoices", "1")
        await client.get("invoices", "2")
        clock.advance(120)
        zoho.reply(*[zoho_error(401, 57, "not authorized")] * 2, httpx.ConnectError("refused"))
        with pytest.raises(AuthError) as refused_again:
            await client.get("invoices", "3")
        await client.get("invoices", "4")
    shown = " ".join(
        [str(refused.value), str(refused_again.value), repr(logs), repr(client), repr(client.tokens)]
    )
    for secret in SECRETS:
        assert secret not in shown
    assert "access-" not in repr(logs)


def test_zoho_time() -> None:
    assert zoho_time(datetime(2013, 11, 18, 2, 2, 51, tzinfo=timezone(-timedelta(hours=8)))) == (
        "2013-11-18T02:02:51-0800"
    )
    with pytest.raises(ValueError, match="time zone"):
        zoho_time(datetime(2013, 11, 18))
