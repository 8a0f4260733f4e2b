"""TDS Core: webhook-and-API sync that keeps an ERP's PostgreSQL exactly in step with Zoho Books."""

__version__ = "0.1.0"
