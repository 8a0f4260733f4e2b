"""The simulated organization's fixed setup: locations, taxes, currencies, accounts, names.

Ids are numeric strings in Zoho's style; the word lists feed made-up item and company names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    location_id: str
    location_name: str
    is_primary: bool


@dataclass(frozen=True)
class Tax:
    tax_id: str
    tax_name: str
    tax_percentage: float


@dataclass(frozen=True)
class Currency:
    currency_id: str
    currency_code: str
    currency_symbol: str
    exchange_rate: float


LOCATIONS = (
    Location("460000000038080", "Main Warehouse", True),
    Location("460000000038082", "East Depot", False),
    Location("460000000038084", "Retail Store", False),
)
TAXES = (
    Tax("460000000027005", "VAT 20%", 20.0),
    Tax("460000000027007", "VAT 5%", 5.0),
    Tax("460000000027009", "Zero Rated", 0.0),
)
ZERO_RATED = TAXES[2]
CURRENCIES = (
    Currency("460000000000097", "USD", "$", 1.0),
    Currency("460000000000099", "EUR", "€", 1.08),
)
BASE_CURRENCY = CURRENCIES[0]
SALES_ACCOUNT = ("460000000000388", "Sales")
COGS_ACCOUNT = ("460000000000403", "Cost of Goods Sold")
INVENTORY_ACCOUNT = ("460000000000367", "Inventory Asset")
PAYMENT_TERMS = ((0, "Due on Receipt"), (15, "Net 15"), (30, "Net 30"), (45, "Net 45"))

ADJECTIVES = ("Braided", "Compact", "Heavy-Duty", "Wireless", "Ergonomic", "Steel", "Eco", "Pro", "Mini")
NOUNS = ("USB-C Cable", "Desk Lamp", "Office Chair", "Hard Drive", "Keyboard", "Monitor Arm", "Router")
SERVICES = ("Installation", "Support Hour", "Consulting Day", "Delivery", "Training Session")
COMPANY_WORDS = ("Bowman", "Acme", "Zylker", "Northwind", "Globex", "Initech", "Umbrella", "Hooli")
COMPANY_SUFFIXES = ("and Co", "Supplies Ltd", "GmbH", "Trading", "Partners", "Industries")
FIRST_NAMES = ("Will", "Ana", "Priya", "Lars", "Mei", "Omar", "Sofia", "Kenji", "Grace")
LAST_NAMES = ("Smith", "Garcia", "Patel", "Berg", "Chen", "Haddad", "Rossi", "Tanaka", "Okafor")
CITIES = (("Berlin", "Germany", "10115"), ("Austin", "U.S.A", "73301"), ("Chennai", "India", "600001"))
COUNTRY_CODES = {"Germany": "DE", "U.S.A": "US", "India": "IN"}
STREETS = ("Hauptstr. 5", "4900 Hopyard Rd", "12 Harbour Way", "221 Market St")
