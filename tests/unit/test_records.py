"""domain.records: finding the record, validating it field by field, and converting values."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tds_core.domain.entities import ENTITIES, Kind
from tds_core.domain.hashing import content_hash
from tds_core.domain.records import (
    RecordError,
    convert,
    entity_row,
    extract_record,
    line_rows,
    parse_zoho_time,
    stage,
    stock_rows,
)
from tds_core.domain.states import Operation

RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
INVOICES = ENTITIES["invoices"]


def invoice(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "invoice_id": "460000000091001",
        "invoice_number": "INV-000123",
        "date": "2024-01-15",
        "total": 240.0,
        "last_modified_time": "2024-01-15T10:20:30+0530",
        "line_items": [{"line_item_id": "L1", "item_id": "I1", "quantity": 2, "rate": 12.5}],
    }
    record.update(overrides)
    return record


def reasons_of(spec_slug: str, document: object, operation: Operation = Operation.UPSERT) -> list[str]:
    with pytest.raises(RecordError) as caught:
        stage(ENTITIES[spec_slug], document, operation, RECEIVED)
    return caught.value.reasons


# ---------------------------------------------------------------------------- extract_record
def test_extract_record_wrapped_under_module_key() -> None:
    record = invoice()
    assert extract_record(INVOICES, {"invoice": record}) is record


def test_extract_record_bare() -> None:
    record = invoice()
    assert extract_record(INVOICES, record) is record


def test_extract_record_stock_accepts_item_and_stock_keys() -> None:
    record = {"item_id": "1", "locations": []}
    assert extract_record(ENTITIES["stock"], {"item": record}) is record
    assert extract_record(ENTITIES["stock"], {"stock": record}) is record


@pytest.mark.parametrize("document", [None, [], [invoice()], "invoice", 42, True])
def test_extract_record_refuses_non_objects(document: object) -> None:
    with pytest.raises(RecordError) as caught:
        extract_record(INVOICES, document)
    assert caught.value.reasons[0].startswith("body: expected a JSON object")


def test_extract_record_refuses_module_key_that_is_not_an_object() -> None:
    with pytest.raises(RecordError) as caught:
        extract_record(INVOICES, {"invoice": [1, 2]})
    assert caught.value.reasons == ["invoice: expected a JSON object"]


def test_extract_record_refuses_garbage_object() -> None:
    with pytest.raises(RecordError) as caught:
        extract_record(INVOICES, {"hello": "world"})
    (reason,) = caught.value.reasons
    assert "'invoice'" in reason and "'invoice_id'" in reason


# ---------------------------------------------------------------------------- stage
def test_stage_valid_invoice() -> None:
    record = invoice()
    staged = stage(INVOICES, {"invoice": record}, Operation.UPDATED, RECEIVED)
    assert staged.entity == "invoices"
    assert staged.zoho_id == "460000000091001"
    assert staged.operation is Operation.UPDATED
    assert staged.version == datetime(2024, 1, 15, 4, 50, 30, tzinfo=UTC)
    assert staged.content_hash == content_hash(record)
    assert staged.record is record


def test_stage_numeric_id_becomes_text() -> None:
    staged = stage(
        ENTITIES["items"],
        {"item": {"item_id": 45667789900, "name": "Hard Drive"}},
        Operation.UPSERT,
        RECEIVED,
    )
    assert staged.zoho_id == "45667789900"


def test_stage_without_version_uses_received_time() -> None:
    staged = stage(ENTITIES["items"], {"item_id": "1", "name": "x"}, Operation.UPSERT, RECEIVED)
    assert staged.version == RECEIVED


def test_stage_credit_note_falls_back_to_updated_time() -> None:
    staged = stage(
        ENTITIES["creditnotes"],
        {"creditnote_id": "9", "updated_time": "2016-06-05T02:30:08-0700"},
        Operation.UPSERT,
        RECEIVED,
    )
    assert staged.version == datetime(2016, 6, 5, 9, 30, 8, tzinfo=UTC)


def test_stage_names_missing_line_item_id() -> None:
    document = {"invoice": invoice(line_items=[{"item_id": "I1", "quantity": 1}])}
    assert reasons_of("invoices", document) == ["invoice.line_items[0].line_item_id: required"]


def test_stage_names_every_bad_field() -> None:
    document = {
        "invoice": invoice(
            invoice_id=None,
            total="lots",
            date="15/01/2024",
            line_items=[
                {"line_item_id": "L1", "quantity": "two"},
                {"line_item_id": "L1"},
                "not an object",
            ],
        )
    }
    reasons = reasons_of("invoices", document)
    assert any(r.startswith("invoice.invoice_id: required") for r in reasons)
    assert "invoice.total: not a number: 'lots'" in reasons
    assert any(r.startswith("invoice.date: not a date") for r in reasons)
    assert "invoice.line_items[0].quantity: not a number: 'two'" in reasons
    assert "invoice.line_items[1].line_item_id: duplicate value 'L1'" in reasons
    assert "invoice.line_items[2]: expected an object" in reasons


def test_stage_line_items_must_be_a_list() -> None:
    assert reasons_of("invoices", invoice(line_items={"L1": {}})) == ["invoice.line_items: expected a list"]


def test_stage_bad_version_is_named() -> None:
    reasons = reasons_of("invoices", invoice(last_modified_time="yesterday"))
    assert len(reasons) == 1 and reasons[0].startswith("invoice.last_modified_time: not a Zoho timestamp")
    reasons = reasons_of("invoices", invoice(last_modified_time=1705294230))
    assert reasons == ["invoice.last_modified_time: expected a timestamp string"]


@pytest.mark.parametrize("bad_id", [None, "", "   ", True, {"id": 1}, "x" * 129, "a\x00b"])
def test_stage_refuses_bad_ids(bad_id: object) -> None:
    reasons = reasons_of("items", {"item": {"item_id": bad_id, "name": "x"}})
    assert reasons[0].startswith("item.item_id: required")


def test_stage_names_a_float_id_as_a_type_problem() -> None:
    # orjson reads integers beyond 64 bits as floats: say so instead of "required"
    reasons = reasons_of("items", {"item": {"item_id": 1.5, "name": "x"}})
    assert reasons[0] == "item.item_id: must be a string or an integer; send large ids as strings"


def test_stage_delete_needs_only_the_id() -> None:
    staged = stage(INVOICES, {"invoice_id": "1", "total": "garbage"}, Operation.DELETED, RECEIVED)
    assert staged.operation.is_delete and staged.zoho_id == "1"
    # ...but even a delete needs the id
    assert reasons_of("invoices", {"invoice": {"total": 1}}, Operation.DELETED)[0].startswith(
        "invoice.invoice_id: required"
    )


def test_stage_contact_integer_field() -> None:
    reasons = reasons_of("contacts", {"contact_id": "1", "payment_terms": 15.5})
    assert reasons == [f"contact.payment_terms: expected a whole number within ±{2**31 - 1}"]


def test_stage_pricebook_items_keyed_by_item_id() -> None:
    reasons = reasons_of("pricebooks", {"pricebook_id": "1", "pricebook_items": [{"pricebook_rate": 1}]})
    assert reasons == ["pricebook.pricebook_items[0].item_id: required"]


def test_stage_stock_requires_locations_and_their_ids() -> None:
    assert reasons_of("stock", {"item": {"item_id": "1"}}) == [
        "item.locations: required for a stock event (or the older warehouses)"
    ]
    reasons = reasons_of(
        "stock", {"item": {"item_id": "1", "locations": [{"location_stock_on_hand": "x"}, 7]}}
    )
    assert "item.locations[0].location_id: required" in reasons
    assert "item.locations[0].stock_on_hand: not a number: 'x'" in reasons
    assert "item.locations[1]: expected an object" in reasons
    reasons = reasons_of("stock", {"item": {"item_id": "1", "warehouses": [{"warehouse_name": "W"}]}})
    assert reasons == ["item.warehouses[0].location_id: required"]


# ---------------------------------------------------------------------------- parse_zoho_time
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2024-01-15T10:20:30+0530",
            datetime(2024, 1, 15, 10, 20, 30, tzinfo=timezone(timedelta(hours=5.5))),
        ),
        (
            "2024-01-15T10:20:30+05:30",
            datetime(2024, 1, 15, 10, 20, 30, tzinfo=timezone(timedelta(hours=5.5))),
        ),
        ("2016-06-05T02:30:08-0700", datetime(2016, 6, 5, 2, 30, 8, tzinfo=timezone(timedelta(hours=-7)))),
        ("2024-01-15T10:20:30Z", datetime(2024, 1, 15, 10, 20, 30, tzinfo=UTC)),
        ("2024-01-15T10:20:30.250+0000", datetime(2024, 1, 15, 10, 20, 30, 250000, tzinfo=UTC)),
        ("2024-01-15", datetime(2024, 1, 15, tzinfo=UTC)),
        (" 2024-01-15T10:20:30+0530 ", datetime(2024, 1, 15, 4, 50, 30, tzinfo=UTC)),
    ],
)
def test_parse_zoho_time(text: str, expected: datetime) -> None:
    parsed = parse_zoho_time(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_parse_zoho_time_same_instant_in_every_form() -> None:
    forms = ["2024-01-15T10:20:30+0530", "2024-01-15T10:20:30+05:30", "2024-01-15T04:50:30Z"]
    assert len({parse_zoho_time(f) for f in forms}) == 1


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2024-13-01", "2024-01-15T10:20:30", "15/01/2024", "2024-01-1"]
)
def test_parse_zoho_time_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a Zoho timestamp"):
        parse_zoho_time(text)


# ---------------------------------------------------------------------------- convert
@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (Kind.TEXT, "abc", "abc"),
        (Kind.TEXT, " ", " "),
        (Kind.TEXT, "", None),  # Zoho writes a missing value as "" (reference section 10)
        (Kind.TEXT, 982000000037049, "982000000037049"),
        (Kind.TEXT, 12.5, "12.5"),
        (Kind.TEXT, True, "true"),
        (Kind.TEXT, False, "false"),
        (Kind.TEXT, None, None),
        (Kind.NUMERIC, 120, "120"),
        (Kind.NUMERIC, 1.23, "1.23"),
        (Kind.NUMERIC, "216.50", "216.50"),
        (Kind.NUMERIC, " 7 ", "7"),
        (Kind.NUMERIC, "", None),
        (Kind.NUMERIC, "  ", None),
        (Kind.NUMERIC, None, None),
        (Kind.NUMERIC, -0.5, "-0.5"),
        (Kind.INTEGER, 15, 15),
        (Kind.INTEGER, "15", 15),
        (Kind.INTEGER, 15.0, 15),
        (Kind.INTEGER, "", None),
        (Kind.INTEGER, 2**31 - 1, 2**31 - 1),
        (Kind.DATE, "2024-01-15", "2024-01-15"),
        (Kind.DATE, "2024-01-15T10:20:30+0530", "2024-01-15"),
        (Kind.DATE, "", None),
        (Kind.BOOLEAN, True, True),
        (Kind.BOOLEAN, "false", False),
        (Kind.BOOLEAN, "TRUE", True),
        (Kind.BOOLEAN, "", None),
    ],
)
def test_convert(kind: Kind, value: object, expected: object) -> None:
    assert convert(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (Kind.TEXT, {"a": 1}, "expected text"),
        (Kind.TEXT, [1], "expected text"),
        (Kind.NUMERIC, "abc", "not a number"),
        (Kind.NUMERIC, "NaN", "finite"),
        (Kind.NUMERIC, "Infinity", "finite"),
        (Kind.NUMERIC, True, "expected a number"),
        (Kind.NUMERIC, [1], "expected a number"),
        (Kind.NUMERIC, "1e500", "out of range"),
        (Kind.INTEGER, 1.5, "whole number"),
        (Kind.INTEGER, 2**31, "whole number"),
        (Kind.INTEGER, "x", "not a number"),
        (Kind.INTEGER, False, "expected a number"),
        (Kind.DATE, 20240115, "date string"),
        (Kind.DATE, "15/01/2024", "not a date"),
        (Kind.BOOLEAN, "yes", "true or false"),
        (Kind.BOOLEAN, 1, "true or false"),
    ],
)
def test_convert_refuses(kind: Kind, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        convert(kind, value)


# ---------------------------------------------------------------------------- rows
def test_entity_row_and_line_rows() -> None:
    record = invoice(
        line_items=[{"line_item_id": 982000000567021, "item_id": 982000000030049, "quantity": 1}]
    )
    row = entity_row(INVOICES, record)
    assert row["invoice_number"] == "INV-000123"
    assert row["total"] == "240.0"
    assert row["date"] == date(2024, 1, 15).isoformat()
    assert set(row) == {c.name for c in INVOICES.columns}
    (line,) = line_rows(INVOICES, record)
    assert line["line_item_id"] == "982000000567021"
    assert line["item_id"] == "982000000030049"
    assert line["quantity"] == "1"
    assert line["data"] == record["line_items"][0]  # type: ignore[index]


def test_stock_rows_locations_and_older_warehouses() -> None:
    spec = ENTITIES["stock"]
    current = stock_rows(
        spec,
        {
            "item_id": "1",
            "locations": [
                {
                    "location_id": "L1",
                    "location_name": "Main",
                    "location_stock_on_hand": "340",
                    "location_available_stock": 325,
                    "location_actual_available_stock": "",
                },
            ],
        },
    )
    older = stock_rows(
        spec,
        {
            "item_id": "1",
            "warehouses": [
                {"warehouse_id": 7, "warehouse_name": "Old", "warehouse_stock_on_hand": 3},
            ],
        },
    )
    assert [
        (
            r["location_id"],
            r["location_name"],
            r["stock_on_hand"],
            r["available_stock"],
            r["actual_available_stock"],
        )
        for r in current
    ] == [("L1", "Main", "340", "325", None)]
    assert [(r["location_id"], r["location_name"], r["stock_on_hand"]) for r in older] == [("7", "Old", "3")]
    assert current[0]["content_hash"] == content_hash(current[0]["data"])


def test_nul_characters_are_named_wherever_they_are() -> None:
    document = {
        "invoice": invoice(
            invoice_number="INV\x001",
            custom_fields=[{"label": "ok", "value": "a\x00"}],
            **{"odd\x00key": 1},
        )
    }
    reasons = reasons_of("invoices", document)
    assert reasons == [
        "invoice.custom_fields[0].value: contains U+0000 (NUL), which PostgreSQL cannot store",
        "invoice.invoice_number: contains U+0000 (NUL), which PostgreSQL cannot store",
        "invoice.odd\\u0000key: contains U+0000 (NUL), which PostgreSQL cannot store",
    ]
    assert all("\x00" not in reason for reason in reasons)


def test_nul_characters_are_refused_in_deletes_too() -> None:
    reasons = reasons_of("invoices", {"invoice_id": "1", "note": "\x00"}, Operation.DELETED)
    assert reasons == ["invoice.note: contains U+0000 (NUL), which PostgreSQL cannot store"]


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-1200", "0001-01-01T00:00:00+1400"])
def test_parse_zoho_time_refuses_instants_outside_the_utc_range(text: str) -> None:
    with pytest.raises(ValueError, match="timestamp out of range"):
        parse_zoho_time(text)
    assert reasons_of("invoices", invoice(last_modified_time=text)) == [
        f"invoice.last_modified_time: timestamp out of range: {text!r}"
    ]


def test_parse_zoho_time_fast_path_reads_as_strptime_does() -> None:
    # Zoho's usual shape goes through fromisoformat; every such text must read as the strptime
    # formats read it, and impossible dates must still be refused with the usual message.
    rng = random.Random(7)
    for _ in range(3_000):
        fraction = rng.choice(["", f".{rng.randrange(10**6):0{rng.randint(1, 6)}d}"])
        offset = f"{rng.choice('+-')}{rng.randrange(24):02d}{rng.choice(['', ':'])}{rng.randrange(60):02d}"
        text = (
            f"{rng.randrange(1, 10_000):04d}-{rng.randint(1, 13):02d}-{rng.randint(1, 32):02d}"
            f"T{rng.randrange(25):02d}:{rng.randrange(61):02d}:{rng.randrange(61):02d}{fraction}{offset}"
        )
        pattern = "%Y-%m-%dT%H:%M:%S.%f%z" if fraction else "%Y-%m-%dT%H:%M:%S%z"
        try:
            expected: datetime | None = datetime.strptime(text, pattern)
            expected.astimezone(UTC)
        except (ValueError, OverflowError):
            expected = None
        if expected is None:
            with pytest.raises(ValueError):
                parse_zoho_time(text)
        else:
            parsed = parse_zoho_time(text)
            assert parsed == expected and parsed.utcoffset() == expected.utcoffset(), text
