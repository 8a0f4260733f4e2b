"""Migration 0013 fills the new contact columns from the records already applied."""

from __future__ import annotations

import json

import psycopg

from tds_core.db import migrate


def test_existing_contacts_get_their_primary_persons_fields(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url, "0012")
    record = {
        "contact_id": "1",
        "email": "",
        "phone": "+1-555-0100",
        "contact_persons": [
            {
                "first_name": "Ana",
                "email": "ana@x.example",
                "mobile": "+1-555-0001",
                "is_primary_contact": False,
            },
            {
                "first_name": "Will",
                "last_name": "Smith",
                "email": "will@x.example",
                "phone": "+1-555-0002",
                "mobile": "+1-555-0003",
                "is_primary_contact": True,
            },
        ],
    }
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO customers (zoho_id, email, phone, data, source_version) VALUES"
            " ('1', '', '+1-555-0100', %s::jsonb, now()), ('2', 'a@b.example', NULL, '{}'::jsonb, now())",
            (json.dumps(record),),
        )
    migrate.upgrade(empty_database_url)
    with psycopg.connect(empty_database_url) as connection:
        rows = connection.execute(
            "SELECT zoho_id, email, phone, mobile, first_name, last_name FROM customers ORDER BY zoho_id"
        ).fetchall()
    assert rows == [
        ("1", "will@x.example", "+1-555-0100", "+1-555-0003", "Will", "Smith"),
        ("2", "a@b.example", None, None, None, None),
    ]
    migrate.downgrade(empty_database_url, "0012")
