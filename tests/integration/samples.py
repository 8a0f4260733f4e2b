"""Zoho Books records for the integration tests, modelled on zoho-samples.json and the reference.

Each factory returns a fresh dict; keyword arguments override fields (``None`` removes one).
IDs are JSON numbers where Zoho's own examples use numbers, so the tests also cover "numeric
id stored as text".
"""

from __future__ import annotations

import copy
from typing import Any


def _build(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    record = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


BOOKS_ITEM = {  # Books get-an-item example: numeric ids, no last_modified_time, empty stock strings
    "item_id": 45667789900,
    "name": "Hard Drive",
    "status": "active",
    "description": "500GB",
    "rate": 120,
    "unit": "100GB",
    "hsn_or_sac": None,
    "tax_id": 982000000037049,
    "tax_name": "Sales Tax",
    "tax_percentage": "70%",
    "sku": "s12345",
    "product_type": "goods",
    "item_tax_preferences": [{"tax_id": 982000000037049, "tax_specification": "intra"}],
    "locations": [
        {
            "location_id": "460000000038080",
            "location_name": "",
            "status": "active",
            "is_primary": False,
            "location_stock_on_hand": "",
            "location_available_stock": "",
            "location_actual_available_stock": "",
        }
    ],
}

ITEM = {  # the reference's reconstructed item, with two locations
    "item_id": "460000000054135",
    "name": "USB-C Cable 1m",
    "sku": "CBL-USBC-1M",
    "status": "active",
    "description": "Braided USB-C to USB-C cable",
    "rate": 12.5,
    "purchase_rate": 6.2,
    "unit": "pcs",
    "product_type": "goods",
    "item_type": "inventory",
    "tax_id": "460000000027005",
    "tax_name": "VAT 20%",
    "tax_percentage": 20,
    "reorder_level": 50,
    "stock_on_hand": 340,
    "available_stock": 325,
    "actual_available_stock": 310,
    "locations": [
        {
            "location_id": "460000000038080",
            "location_name": "Main Warehouse",
            "status": "active",
            "is_primary": True,
            "location_stock_on_hand": "340",
            "location_available_stock": "325",
            "location_actual_available_stock": "310",
        },
        {
            "location_id": 460000000038099,
            "location_name": "Overflow",
            "status": "active",
            "is_primary": False,
            "location_stock_on_hand": 12,
            "location_available_stock": 12,
            "location_actual_available_stock": 10.5,
        },
    ],
    "custom_fields": [],
    "created_time": "2023-11-02T09:14:05+0530",
    "last_modified_time": "2024-01-15T10:20:30+0530",
}

WAREHOUSE_ITEM = {  # the older Books doc: warehouses[] with warehouse_* fields
    "item_id": "460000000054199",
    "name": "Installation",
    "last_modified_time": "2024-01-16T08:00:00+0530",
    "warehouses": [
        {
            "warehouse_id": "460000000038001",
            "warehouse_name": "Old Depot",
            "status": "active",
            "is_primary": True,
            "warehouse_stock_on_hand": 7,
            "warehouse_available_stock": "6",
            "warehouse_actual_available_stock": "5",
        }
    ],
}

CONTACT = {
    "contact_id": 460000000026049,
    "contact_name": "Bowman and Co",
    "company_name": "Bowman and Co",
    "contact_type": "customer",
    "customer_sub_type": "business",
    "credit_limit": 1000,
    "pricebook_id": 460000000000123,
    "payment_terms": 15,
    "payment_terms_label": "Net 15",
    "currency_id": 460000000000097,
    "currency_code": "USD",
    "outstanding_receivable_amount": 250,
    "status": "active",
    "email": "will.smith@bowman.example",
    "phone": "+1-925-921-9201",
    "billing_address": {"address": "4900 Hopyard Rd", "city": "Pleasanton", "zip": 94588},
    "contact_persons": [{"contact_person_id": 460000000026051, "first_name": "Will"}],
    "created_time": "2013-09-11T17:18:32+0530",
    "last_modified_time": "2013-10-07T18:24:51+0530",
}

VENDOR = {
    "contact_id": "460000000038029",
    "contact_name": "Molly Supplies",
    "contact_type": "vendor",
    "status": "active",
    "currency_code": "INR",
    "payment_terms": 0,
    "payment_terms_label": "Due on Receipt",
    "last_modified_time": "2024-01-10T08:01:44+0100",
}

INVOICE = {  # Books get-an-invoice example (numeric ids) with the reconstructed payload's lines
    "invoice_id": 982000000567114,
    "invoice_number": "INV-00003",
    "date": "2013-11-17",
    "status": "draft",
    "payment_terms": 15,
    "due_date": "2013-12-03",
    "payment_expected_date": " ",
    "reference_number": " ",
    "customer_id": 982000000567001,
    "customer_name": "Bowman & Co",
    "currency_id": 982000000000190,
    "currency_code": "USD",
    "exchange_rate": 1,
    "line_items": [
        {
            "line_item_id": 982000000567021,
            "item_id": 982000000030049,
            "name": "Hard Drive",
            "description": "500GB, USB 2.0 interface 1400 rpm, protective hard case.",
            "item_order": 1,
            "bcy_rate": 120,
            "rate": 120,
            "quantity": 1,
            "unit": " ",
            "tags": [{"tag_id": 982000000009070, "tag_name": "Location"}],
            "tax_id": 982000000557028,
            "tax_percentage": 12.5,
            "item_total": 120,
        },
        {
            "line_item_id": "982000000567022",
            "item_id": "460000000054199",
            "name": "Installation",
            "item_order": 2,
            "rate": 75.0,
            "quantity": 1,
            "unit": "hrs",
            "item_total": 75.0,
        },
    ],
    "sub_total": 195,
    "tax_total": 15,
    "total": 210,
    "balance": 210,
    "created_time": "2013-11-18T02:17:40-0800",
    "last_modified_time": "2013-11-18T02:02:51-0800",
}

BILL = {  # Books get-a-bill example, trimmed
    "bill_id": "460000000098765",
    "vendor_id": "460000000038029",
    "vendor_name": None,
    "status": "open",
    "bill_number": "00454",
    "date": "2013-09-11",
    "due_date": "2013-09-26",
    "reference_number": "4321133",
    "currency_id": "460000000000099",
    "currency_code": "INR",
    "exchange_rate": 1.23,
    "line_items": [
        {
            "purchaseorder_item_id": None,
            "line_item_id": "460000000067009",
            "item_id": "460000000054135",
            "name": None,
            "account_id": "460000000000403",
            "account_name": "Other Expenses",
            "bcy_rate": 40,
            "rate": 10,
            "quantity": 1,
            "tax_id": "460000000027005",
            "item_total": 40,
            "item_order": 1,
            "unit": "kgs",
        }
    ],
    "sub_total": 40,
    "tax_total": 0,
    "total": 40,
    "balance": 40,
    "created_time": "2013-09-11T17:18:32+0530",
    "last_modified_time": "2013-09-11T17:18:32+0530",
}

CREDIT_NOTE = {  # the reference's reconstructed credit note: updated_time only
    "creditnote_id": "460000000072369",
    "creditnote_number": "CN-00029",
    "reference_number": "INV-000123",
    "date": "2024-01-20",
    "status": "open",
    "customer_id": "460000000026049",
    "customer_name": "Bowman and Co",
    "currency_code": "EUR",
    "line_items": [
        {
            "line_item_id": "460000000072371",
            "item_id": "460000000054135",
            "name": "USB-C Cable 1m",
            "account_id": "460000000000388",
            "account_name": "Sales",
            "rate": 12.5,
            "quantity": 2,
            "unit": "pcs",
            "tax_id": "460000000027005",
            "item_order": 1,
        }
    ],
    "total": 30.0,
    "balance": 30.0,
    "invoices": [],
    "created_time": "2024-01-20T11:00:00+0530",
    "updated_time": "2024-01-20T11:00:00+0530",
}

PRICEBOOK = {  # Inventory list-all-pricebooks example (numeric ids beyond 2**53)
    "currency_code": None,
    "currency_id": 982000000000190,
    "decimal_place": 2,
    "description": "Flash sale",
    "is_default": True,
    "is_increase": True,
    "name": "Price List 1",
    "percentage": 4,
    "pricebook_id": 130426000002924000,
    "pricebook_items": [
        {
            "item_id": 17775000000227648,
            "pricebook_rate": 22,
            "pricebook_item_id": 17775000000227544,
            "pricebook_discount": "5%",
            "pricing_scheme": "unit",
            "price_brackets": [{"pricebook_item_id": 17775000000227544, "pricebook_rate": 22}],
        },
        {"item_id": "460000000054135", "pricebook_rate": "11.25", "pricing_scheme": "unit"},
    ],
    "pricebook_type": "fixed_percentage",
    "pricing_scheme": "unit",
    "sales_or_purchase_type": "sales",
    "status": "active",
}


def books_item(**overrides: Any) -> dict[str, Any]:
    return _build(BOOKS_ITEM, overrides)


def item(**overrides: Any) -> dict[str, Any]:
    return _build(ITEM, overrides)


def warehouse_item(**overrides: Any) -> dict[str, Any]:
    return _build(WAREHOUSE_ITEM, overrides)


def contact(**overrides: Any) -> dict[str, Any]:
    return _build(CONTACT, overrides)


def vendor(**overrides: Any) -> dict[str, Any]:
    return _build(VENDOR, overrides)


def invoice(**overrides: Any) -> dict[str, Any]:
    return _build(INVOICE, overrides)


def bill(**overrides: Any) -> dict[str, Any]:
    return _build(BILL, overrides)


def credit_note(**overrides: Any) -> dict[str, Any]:
    return _build(CREDIT_NOTE, overrides)


def pricebook(**overrides: Any) -> dict[str, Any]:
    return _build(PRICEBOOK, overrides)
